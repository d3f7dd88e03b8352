//! The three output files (COMP_PLAN_SPEC.md §5): `lines.csv`, `summary.csv`, `state.csv`.
//!
//! Rows are formatted in parallel, in batches that bound memory, and written in order, so
//! the bytes are the same on any number of threads. Numbers are formatted by hand
//! ([`crate::number`]) with the digits the spec names.

mod row_buffer;

pub use row_buffer::RowBuffer;

use crate::id_index::prefetch;
use crate::input::Network;
use crate::number::{rescale_half_even, write_plain, Rate, VOLUME_SCALE};
use crate::run::{Bonus, RunInput, RunResult};
use rayon::prelude::*;
use row_buffer::NUMBER_BYTES_MAX;
use std::io::{self, Write};

/// Rows formatted by one parallel task.
const ROWS_PER_TASK: usize = 16_384;
/// Rows formatted before a batch is written: bounds the memory of formatted text.
const ROWS_PER_BATCH: usize = 1 << 17;
/// Sets of batch buffers in circulation: one being written while the other is formatted.
const BUFFER_SETS: usize = 2;
/// Bytes reserved per row of a fresh buffer. Reserving is nearly free (untouched pages are
/// never faulted in) and spares the copies of growing from nothing; longer rows still fit,
/// the buffer grows then.
const RESERVED_BYTES_PER_ROW: usize = 128;

pub const LINES_HEADER: &str = "recipient,bonus,source,level,base,rate,amount\n";
pub const SUMMARY_HEADER: &str =
    "id,active,rank,pv,gv,left,right,unilevel,matrix,binary,matching,fast_start,rank_advancement,pool,total\n";
pub const STATE_HEADER: &str = "id,carry_left,carry_right,highest_rank\n";

/// Formats rows `0..count` with `format_row` in parallel and writes them in order,
/// reporting the rows written so far to `progress`. A writer thread writes one batch while
/// the next is formatted, so the kernel's copying overlaps the formatting; at most two
/// formatted batches exist at once, which bounds memory. The writer hands each batch's
/// buffers back once written and the next batch formats into them: fresh memory is the
/// dearest part of formatting (a page fault per 4 KiB, and a copy each time a buffer grows).
fn write_rows<W: Write + Send>(
    out: &mut W,
    header: &str,
    count: usize,
    rows: impl RowFormat,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    out.write_all(header.as_bytes())?;
    type Batch = Vec<Vec<u8>>;
    std::thread::scope(|scope| {
        let (batches, received) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (recycle, recycled) = std::sync::mpsc::channel::<Batch>();
        let writer = scope.spawn(move || -> io::Result<()> {
            for texts in received {
                for text in &texts {
                    out.write_all(text)?;
                }
                // The formatter may have finished already; then the buffers are just freed.
                let _ = recycle.send(texts);
            }
            Ok(())
        });
        let mut sets_made = 0;
        let mut batch_start = 0;
        while batch_start < count {
            let batch_end = (batch_start + ROWS_PER_BATCH).min(count);
            let tasks = (batch_end - batch_start).div_ceil(ROWS_PER_TASK);
            let mut texts = match recycled.try_recv() {
                Ok(texts) => texts,
                Err(_) if sets_made < BUFFER_SETS => {
                    sets_made += 1;
                    Vec::new()
                }
                // Both sets are with the writer: wait for one (or for its error, below).
                Err(_) => recycled.recv().unwrap_or_default(),
            };
            texts.resize_with(tasks, || {
                Vec::with_capacity(ROWS_PER_TASK * RESERVED_BYTES_PER_ROW)
            });
            texts.par_iter_mut().enumerate().for_each(|(task, text)| {
                text.clear();
                let first = batch_start + task * ROWS_PER_TASK;
                let end = (first + ROWS_PER_TASK).min(batch_end);
                for row in first..end {
                    if row + FAR_AHEAD < end {
                        rows.prefetch_far(row + FAR_AHEAD);
                    }
                    if row + NEAR_AHEAD < end {
                        rows.prefetch_near(row + NEAR_AHEAD);
                    }
                    rows.format(row, text);
                }
            });
            if batches.send(texts).is_err() {
                // The writer stopped on an error, which `join` returns below.
                break;
            }
            progress(batch_end as u64);
            batch_start = batch_end;
        }
        drop(batches);
        writer.join().expect("the writer thread does not panic")
    })
}

/// How a file's rows are formatted, and what memory a row will read, so that it can be
/// requested a few rows ahead: `lines.csv` rows read the ids and volumes of random sources,
/// and waiting for each of those cache misses in turn was most of the file's time.
trait RowFormat: Sync {
    fn format(&self, row: usize, text: &mut Vec<u8>);
    /// Requests memory that needs nothing else first (e.g. an id's bounds).
    fn prefetch_far(&self, _row: usize) {}
    /// Requests memory found through what `prefetch_far` requested (e.g. an id's bytes).
    fn prefetch_near(&self, _row: usize) {}
}

/// Rows ahead of the one being formatted whose memory is requested, in two steps.
const FAR_AHEAD: usize = 16;
const NEAR_AHEAD: usize = 8;

/// A format that reads its rows' memory in sequence needs no prefetching.
struct Sequential<F>(F);

impl<F: Fn(usize, &mut Vec<u8>) + Sync> RowFormat for Sequential<F> {
    fn format(&self, row: usize, text: &mut Vec<u8>) {
        (self.0)(row, text)
    }
}

/// A format with its two prefetching steps as closures.
struct Prefetching<F, Far, Near> {
    format: F,
    far: Far,
    near: Near,
}

impl<F, Far, Near> RowFormat for Prefetching<F, Far, Near>
where
    F: Fn(usize, &mut Vec<u8>) + Sync,
    Far: Fn(usize) + Sync,
    Near: Fn(usize) + Sync,
{
    fn format(&self, row: usize, text: &mut Vec<u8>) {
        (self.format)(row, text)
    }

    fn prefetch_far(&self, row: usize) {
        (self.far)(row)
    }

    fn prefetch_near(&self, row: usize) {
        (self.near)(row)
    }
}

/// The length of the longest rank name, for bounding a row's length.
fn longest_rank_name(plan: &crate::plan::CompiledPlan) -> usize {
    plan.ranks
        .iter()
        .map(|rank| rank.name.len())
        .max()
        .unwrap_or(0)
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
    fn new(input: &RunInput<'_>) -> RateTexts {
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

/// An amount (units of `10^-decimals`) as a volume (1/10,000), rounded half-even when the
/// currency has more digits than volumes.
fn amount_as_volume(amount: i64, decimals: u32) -> i64 {
    rescale_half_even(i128::from(amount), decimals, VOLUME_SCALE) as i64
}

/// Writes `lines.csv`.
pub fn write_lines<W: Write + Send>(
    input: &RunInput<'_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let decimals = plan.decimals;
    let ids = &input.network.ids;
    let rates = RateTexts::new(input);
    let pool_base = result.pool.as_ref().map_or(0, |pool| {
        rescale_half_even(pool.pool.mantissa, pool.pool.scale, VOLUME_SCALE) as i64
    });
    // Rates exist only when someone holds shares: with none, the pool pays no line.
    let pool_rates: Vec<Vec<u8>> = result
        .pool
        .as_ref()
        .filter(|pool| pool.total_shares > 0)
        .map_or(Vec::new(), |pool| {
            pool.shares_at_rank
                .iter()
                .map(|&held| {
                    let rate = pool.rate(held);
                    let mut text = Vec::new();
                    write_plain(&mut text, rate.mantissa, rate.scale);
                    text
                })
                .collect()
        });
    let source_of = |row: usize| result.keys.unpack(result.lines[row]).source as usize;
    let format = |row: usize, text: &mut Vec<u8>| {
        let line = result.keys.unpack(result.lines[row]);
        let (recipient, source, level) = (
            line.recipient as usize,
            line.source as usize,
            line.level as usize,
        );
        let bound = ids[recipient].len() + ids[source].len() + 4 * NUMBER_BYTES_MAX + 32;
        let mut row = RowBuffer::new(text, bound);
        row.bytes(&ids[recipient]);
        row.byte(b',');
        row.bytes(line.bonus.name().as_bytes());
        row.byte(b',');
        row.bytes(&ids[source]);
        row.byte(b',');
        row.unsigned(level as u64);
        row.byte(b',');
        let (base, rate, amount): (i64, &[u8], i64) = match line.bonus {
            Bonus::Unilevel | Bonus::Matrix => {
                let (levels, rate_texts) = if line.bonus == Bonus::Unilevel {
                    (plan.unilevel.as_ref(), &rates.unilevel)
                } else {
                    (plan.matrix.as_ref(), &rates.matrix)
                };
                let rate = levels.expect("lines of a configured bonus").rates[level - 1];
                let base = input.volumes.cv[source];
                (
                    base,
                    &rate_texts[level - 1],
                    rate.apply_half_even(base, decimals),
                )
            }
            Bonus::Binary => {
                let binary = result
                    .binary
                    .as_ref()
                    .expect("binary lines come with a binary outcome");
                (
                    binary.paired[recipient],
                    &rates.binary,
                    binary.amount[recipient],
                )
            }
            Bonus::Matching => {
                let matching = plan
                    .matching
                    .as_ref()
                    .expect("matching lines come with a matching bonus");
                let base = result.matching_base[source];
                let amount = crate::run::match_amount(matching.rates[level - 1], base);
                (
                    amount_as_volume(base, decimals),
                    &rates.matching[level - 1],
                    amount,
                )
            }
            Bonus::FastStart => {
                let fast_start = plan
                    .fast_start
                    .as_ref()
                    .expect("fast-start lines come with the bonus");
                let base = input.volumes.fast_start_cv[source];
                (
                    base,
                    &rates.fast_start,
                    fast_start.pct.apply_half_even(base, decimals),
                )
            }
            Bonus::RankAdvancement => {
                let amount =
                    plan.rank_advancement[level].expect("advancement lines come with an amount");
                (amount_as_volume(amount, decimals), b"1", amount)
            }
            Bonus::Pool => {
                let pool = result.pool.as_ref().expect("pool lines come with a pool");
                (
                    pool_base,
                    &pool_rates[usize::from(result.rank[recipient])],
                    pool.amount[recipient],
                )
            }
        };
        row.volume(base);
        row.byte(b',');
        row.text(rate);
        row.byte(b',');
        row.amount(amount, decimals);
        row.byte(b'\n');
    };
    let rows = Prefetching {
        format,
        far: |row: usize| {
            let source = source_of(row);
            ids.prefetch_bounds(source);
            prefetch(&input.volumes.cv[source]);
        },
        near: |row: usize| ids.prefetch_bytes(source_of(row)),
    };
    write_rows(out, LINES_HEADER, result.lines.len(), rows, progress)
}

/// Writes `summary.csv`: one row per distributor, by id.
pub fn write_summary<W: Write + Send>(
    input: &RunInput<'_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let network: &Network = input.network;
    let longest_rank = longest_rank_name(plan);
    // The amounts of someone paid nothing — most of a network —, copied as one piece.
    let mut unpaid_tail = Vec::new();
    for _ in 0..=result.earned.len() {
        unpaid_tail.push(b',');
        crate::number::write_amount(&mut unpaid_tail, 0, plan.decimals);
    }
    unpaid_tail.push(b'\n');
    let paid_bonuses: Vec<&Vec<i64>> = result.paid_bonuses().collect();
    write_rows(
        out,
        SUMMARY_HEADER,
        network.len(),
        Sequential(|at: usize, text: &mut Vec<u8>| {
            let mut row = RowBuffer::new(
                text,
                network.ids[at].len() + longest_rank + 12 * NUMBER_BYTES_MAX + 32,
            );
            row.bytes(&network.ids[at]);
            row.bytes(if result.active[at] {
                b",true,"
            } else {
                b",false,"
            });
            row.bytes(plan.ranks[usize::from(result.rank[at])].name.as_bytes());
            row.byte(b',');
            row.volume(input.volumes.pv[at]);
            row.byte(b',');
            row.volume(result.group_volume[at]);
            let (left, right) = result
                .binary
                .as_ref()
                .map_or((0, 0), |binary| (binary.left[at], binary.right[at]));
            row.byte(b',');
            row.volume(left);
            row.byte(b',');
            row.volume(right);
            if paid_bonuses.iter().all(|earned| earned[at] == 0) {
                row.bytes(&unpaid_tail);
                return;
            }
            let mut total = 0;
            for bonus in Bonus::ALL {
                let earned = result.earned_from(bonus, at);
                row.byte(b',');
                row.amount(earned, plan.decimals);
                total += earned;
            }
            row.byte(b',');
            row.amount(total, plan.decimals);
            row.byte(b'\n');
        }),
        progress,
    )
}

/// Writes `state.csv`: the next period's carries and highest ranks, by id.
pub fn write_state<W: Write + Send>(
    input: &RunInput<'_>,
    result: &RunResult,
    out: &mut W,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<()> {
    let plan = input.plan;
    let network = input.network;
    let longest_rank = longest_rank_name(plan);
    write_rows(
        out,
        STATE_HEADER,
        network.len(),
        Sequential(|at: usize, text: &mut Vec<u8>| {
            let mut row = RowBuffer::new(
                text,
                network.ids[at].len() + longest_rank + 2 * NUMBER_BYTES_MAX + 8,
            );
            row.bytes(&network.ids[at]);
            let (left, right) = result.binary.as_ref().map_or((0, 0), |binary| {
                (binary.carry_left_out[at], binary.carry_right_out[at])
            });
            row.byte(b',');
            row.volume(left);
            row.byte(b',');
            row.volume(right);
            row.byte(b',');
            row.bytes(
                plan.ranks[usize::from(result.highest_rank_out[at])]
                    .name
                    .as_bytes(),
            );
            row.byte(b'\n');
        }),
        progress,
    )
}
