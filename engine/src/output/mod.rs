//! The three output files (COMP_PLAN_SPEC.md §5): `lines.csv`, `summary.csv`, `state.csv`.
//!
//! Rows are formatted in parallel, in batches that bound memory, and written in order, so
//! the bytes are the same on any number of threads. Numbers are formatted by hand
//! ([`crate::number`]) with the digits the spec names.

use crate::input::Network;
use crate::number::{
    rescale_half_even, write_amount, write_fixed, write_plain, write_u64, write_volume, Rate,
    VOLUME_SCALE,
};
use crate::run::{Bonus, RunInput, RunResult};
use rayon::prelude::*;
use std::io::{self, Write};

/// Rows formatted by one parallel task.
const ROWS_PER_TASK: usize = 16_384;
/// Rows formatted before a batch is written: bounds the memory of formatted text.
const ROWS_PER_BATCH: usize = 1 << 20;

pub const LINES_HEADER: &str = "recipient,bonus,source,level,base,rate,amount\n";
pub const SUMMARY_HEADER: &str =
    "id,active,rank,pv,gv,left,right,unilevel,matrix,binary,matching,fast_start,rank_advancement,pool,total\n";
pub const STATE_HEADER: &str = "id,carry_left,carry_right,highest_rank\n";

/// Formats rows `0..count` with `format_row` in parallel and writes them in order,
/// reporting the rows written so far to `progress`.
fn write_rows<W: Write>(
    out: &mut W,
    header: &str,
    count: usize,
    format_row: impl Fn(usize, &mut Vec<u8>) + Sync,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    out.write_all(header.as_bytes())?;
    let mut batch_start = 0;
    while batch_start < count {
        let batch_end = (batch_start + ROWS_PER_BATCH).min(count);
        let texts: Vec<Vec<u8>> = (batch_start..batch_end)
            .into_par_iter()
            .with_min_len(ROWS_PER_TASK)
            .fold(
                || Vec::with_capacity(ROWS_PER_TASK * 64),
                |mut text, row| {
                    format_row(row, &mut text);
                    text
                },
            )
            .collect();
        for text in &texts {
            out.write_all(text)?;
        }
        progress(batch_end as u64);
        batch_start = batch_end;
    }
    Ok(())
}

/// Rates as they are printed, computed once per run.
struct RateTexts {
    unilevel: Vec<Vec<u8>>,
    matrix: Vec<Vec<u8>>,
    matching: Vec<Vec<u8>>,
    binary: Vec<u8>,
    fast_start: Vec<u8>,
}

fn rate_text(rate: Rate) -> Vec<u8> {
    let mut text = Vec::new();
    write_plain(&mut text, i128::from(rate.mantissa), rate.scale);
    text
}

impl RateTexts {
    fn new(input: &RunInput<'_, '_>) -> RateTexts {
        let plan = input.plan;
        let list = |rates: Option<&Vec<Rate>>| {
            rates.map_or(Vec::new(), |rates| {
                rates.iter().map(|&rate| rate_text(rate)).collect()
            })
        };
        RateTexts {
            unilevel: list(plan.unilevel.as_ref().map(|levels| &levels.rates)),
            matrix: list(plan.matrix.as_ref().map(|levels| &levels.rates)),
            matching: list(plan.matching.as_ref().map(|matching| &matching.rates)),
            binary: plan
                .binary
                .as_ref()
                .map_or(Vec::new(), |binary| rate_text(binary.pct)),
            fast_start: plan
                .fast_start
                .as_ref()
                .map_or(Vec::new(), |fast_start| rate_text(fast_start.pct)),
        }
    }
}

/// Writes `lines.csv`.
pub fn write_lines<W: Write>(
    input: &RunInput<'_, '_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let decimals = plan.decimals;
    let ids = &input.network.ids;
    let rates = RateTexts::new(input);
    let pool_base = result
        .pool
        .as_ref()
        .map(|pool| rescale_half_even(pool.pool.mantissa, pool.pool.scale, VOLUME_SCALE));
    write_rows(
        out,
        LINES_HEADER,
        result.lines.len(),
        |row, text| {
            let line = result.keys.unpack(result.lines[row]);
            let (recipient, source, level) = (
                line.recipient as usize,
                line.source as usize,
                line.level as usize,
            );
            text.extend_from_slice(ids[recipient]);
            text.push(b',');
            text.extend_from_slice(line.bonus.name().as_bytes());
            text.push(b',');
            text.extend_from_slice(ids[source]);
            text.push(b',');
            write_u64(text, level as u64);
            text.push(b',');
            let amount = match line.bonus {
                Bonus::Unilevel | Bonus::Matrix => {
                    let (levels, rate_texts) = if line.bonus == Bonus::Unilevel {
                        (plan.unilevel.as_ref(), &rates.unilevel)
                    } else {
                        (plan.matrix.as_ref(), &rates.matrix)
                    };
                    let rate = levels.expect("lines of a configured bonus").rates[level - 1];
                    let base = input.volumes.cv[source];
                    write_base_rate(text, base, &rate_texts[level - 1]);
                    rate.apply_half_even(base, decimals)
                }
                Bonus::Binary => {
                    let binary = result
                        .binary
                        .as_ref()
                        .expect("binary lines come with a binary outcome");
                    write_base_rate(text, binary.paired[recipient], &rates.binary);
                    binary.amount[recipient]
                }
                Bonus::Matching => {
                    let matching = plan
                        .matching
                        .as_ref()
                        .expect("matching lines come with a matching bonus");
                    let base = result.matching_base[source];
                    write_fixed(
                        text,
                        rescale_half_even(i128::from(base), decimals, VOLUME_SCALE),
                        VOLUME_SCALE,
                    );
                    text.push(b',');
                    text.extend_from_slice(&rates.matching[level - 1]);
                    crate::run::match_amount(matching.rates[level - 1], base)
                }
                Bonus::FastStart => {
                    let fast_start = plan
                        .fast_start
                        .as_ref()
                        .expect("fast-start lines come with the bonus");
                    let base = input.volumes.fast_start_cv[source];
                    write_base_rate(text, base, &rates.fast_start);
                    fast_start.pct.apply_half_even(base, decimals)
                }
                Bonus::RankAdvancement => {
                    let amount = plan.rank_advancement[level]
                        .expect("advancement lines come with an amount");
                    write_fixed(
                        text,
                        rescale_half_even(i128::from(amount), decimals, VOLUME_SCALE),
                        VOLUME_SCALE,
                    );
                    text.extend_from_slice(b",1");
                    amount
                }
                Bonus::Pool => {
                    let pool = result.pool.as_ref().expect("pool lines come with a pool");
                    write_fixed(text, pool_base.unwrap_or_default(), VOLUME_SCALE);
                    text.push(b',');
                    let rate = pool.rate(recipient);
                    write_plain(text, rate.mantissa, rate.scale);
                    pool.amount[recipient]
                }
            };
            text.push(b',');
            write_amount(text, amount, decimals);
            text.push(b'\n');
        },
        progress,
    )
}

fn write_base_rate(text: &mut Vec<u8>, base: i64, rate: &[u8]) {
    write_volume(text, base);
    text.push(b',');
    text.extend_from_slice(rate);
}

/// Writes `summary.csv`: one row per distributor, by id.
pub fn write_summary<W: Write>(
    input: &RunInput<'_, '_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let network: &Network<'_> = input.network;
    write_rows(
        out,
        SUMMARY_HEADER,
        network.len(),
        |at, text| {
            text.extend_from_slice(network.ids[at]);
            text.extend_from_slice(if result.active[at] {
                b",true,"
            } else {
                b",false,"
            });
            text.extend_from_slice(plan.ranks[usize::from(result.rank[at])].name.as_bytes());
            text.push(b',');
            write_volume(text, input.volumes.pv[at]);
            text.push(b',');
            write_volume(text, result.group_volume[at]);
            let (left, right) = result
                .binary
                .as_ref()
                .map_or((0, 0), |binary| (binary.left[at], binary.right[at]));
            text.push(b',');
            write_volume(text, left);
            text.push(b',');
            write_volume(text, right);
            for bonus in Bonus::ALL {
                text.push(b',');
                write_amount(text, result.earned[bonus as usize][at], plan.decimals);
            }
            text.push(b',');
            write_amount(text, result.total_earned(at), plan.decimals);
            text.push(b'\n');
        },
        progress,
    )
}

/// Writes `state.csv`: the next period's carries and highest ranks, by id.
pub fn write_state<W: Write>(
    input: &RunInput<'_, '_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let network = input.network;
    write_rows(
        out,
        STATE_HEADER,
        network.len(),
        |at, text| {
            text.extend_from_slice(network.ids[at]);
            let (left, right) = result.binary.as_ref().map_or((0, 0), |binary| {
                (binary.carry_left_out[at], binary.carry_right_out[at])
            });
            text.push(b',');
            write_volume(text, left);
            text.push(b',');
            write_volume(text, right);
            text.push(b',');
            text.extend_from_slice(
                plan.ranks[usize::from(result.highest_rank_out[at])]
                    .name
                    .as_bytes(),
            );
            text.push(b'\n');
        },
        progress,
    )
}
