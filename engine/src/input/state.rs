//! `state.csv` → the previous period's carries and highest ranks.

use super::lines::{check_id, fields, quoted, scan_rows, split_header, FirstErrors, RowError};
use super::{InputError, Network};
use crate::number::parse_volume;
use crate::plan::CompiledPlan;
use rayon::prelude::*;

const HEADER: [&str; 4] = ["id", "carry_left", "carry_right", "highest_rank"];

/// What a run carries in from the previous period, per distributor index. Missing rows
/// mean `0, 0, rank 0`.
pub struct CarryState {
    pub carry_left: Vec<i64>,
    pub carry_right: Vec<i64>,
    pub highest_rank: Vec<u8>,
}

impl CarryState {
    pub fn empty(count: usize) -> CarryState {
        CarryState {
            carry_left: vec![0; count],
            carry_right: vec![0; count],
            highest_rank: vec![0; count],
        }
    }

    pub fn total_carry(&self) -> i128 {
        self.carry_left
            .par_iter()
            .chain(self.carry_right.par_iter())
            .map(|&carry| i128::from(carry))
            .sum()
    }
}

struct Row {
    distributor: u32,
    line: u32,
    carry_left: i64,
    carry_right: i64,
    highest_rank: u8,
}

pub fn read_state(
    file: &str,
    bytes: &[u8],
    network: &Network,
    plan: &CompiledPlan,
) -> Result<CarryState, InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let (chunks, mut errors) = scan_rows(
        body,
        Vec::with_capacity,
        |line, text, rows: &mut Vec<Row>| {
            let [id, left, right, rank] = fields::<4>(text).map_err(RowError::Syntax)?;
            check_id(id, "id").map_err(RowError::Syntax)?;
            let carry = |cell: &[u8], column: &str| {
                parse_volume(cell).map_err(|error| {
                    RowError::Syntax(format!("{column} {} {}", quoted(cell), error.describe()))
                })
            };
            let carry_left = carry(left, "carry_left")?;
            let carry_right = carry(right, "carry_right")?;
            let highest_rank = plan.rank_by_name(rank).ok_or_else(|| {
                let names: Vec<&str> = plan.ranks.iter().map(|rank| rank.name.as_str()).collect();
                RowError::Syntax(format!(
                    "unknown rank name {}; the plan's ranks are {}",
                    quoted(rank),
                    names.join(", ")
                ))
            })?;
            let distributor = network.lookup(id).ok_or_else(|| {
                RowError::Reference(format!(
                    "unknown distributor id {} (not in the distributors file)",
                    quoted(id)
                ))
            })?;
            rows.push(Row {
                distributor,
                line,
                carry_left,
                carry_right,
                highest_rank,
            });
            Ok(())
        },
    );
    let mut rows: Vec<Row> = chunks.into_iter().flatten().collect();
    rows.par_sort_unstable_by_key(|row| (row.distributor, row.line));
    note_second_rows(&rows, network, &mut errors);
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let mut state = CarryState::empty(network.len());
    for row in rows {
        let at = row.distributor as usize;
        state.carry_left[at] = row.carry_left;
        state.carry_right[at] = row.carry_right;
        state.highest_rank[at] = row.highest_rank;
    }
    Ok(state)
}

fn note_second_rows(rows: &[Row], network: &Network, errors: &mut FirstErrors) {
    for pair in rows.windows(2) {
        if pair[0].distributor == pair[1].distributor {
            errors.note_reference(
                pair[1].line,
                format!(
                    "a second row for id {} (first at line {})",
                    quoted(&network.ids[pair[1].distributor as usize]),
                    pair[0].line
                ),
            );
        }
    }
}
