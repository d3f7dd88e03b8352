//! `state.csv` → the previous period's carries and highest ranks.

use super::lines::{check_id, collect_rows, fields, quoted, split_header, FirstErrors, Malformed};
use super::{Directory, InputError};
use crate::number::parse_volume;
use crate::plan::CompiledPlan;
use crate::tree::NONE;
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

#[derive(Clone, Copy)]
struct Row<'a> {
    id: &'a [u8],
    carry_left: i64,
    carry_right: i64,
    highest_rank: u8,
}

pub fn read_state(
    file: &str,
    bytes: &[u8],
    network: Directory<'_>,
    plan: &CompiledPlan,
) -> Result<CarryState, InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let (rows, errors) = collect_rows(body, |_, text| {
        let [id, left, right, rank] = fields::<4>(text).map_err(Malformed)?;
        check_id(id, "id").map_err(Malformed)?;
        let carry = |cell: &[u8], column: &str| {
            parse_volume(cell).map_err(|error| {
                Malformed(format!("{column} {} {}", quoted(cell), error.describe()))
            })
        };
        let carry_left = carry(left, "carry_left")?;
        let carry_right = carry(right, "carry_right")?;
        let highest_rank = plan.rank_by_name(rank).ok_or_else(|| {
            let names: Vec<&str> = plan.ranks.iter().map(|rank| rank.name.as_str()).collect();
            Malformed(format!(
                "unknown rank name {}; the plan's ranks are {}",
                quoted(rank),
                names.join(", ")
            ))
        })?;
        Ok(Row {
            id,
            carry_left,
            carry_right,
            highest_rank,
        })
    });
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let mut errors = FirstErrors::default();
    let distributors = network
        .index
        .get_all(network.ids, &rows, |row| row.id, NONE);
    let mut state = CarryState::empty(network.len());
    // Which row set each distributor's state, to name a second row for the same id.
    let mut row_of_distributor = vec![NONE; network.len()];
    for (at, (row, &distributor)) in rows.iter().zip(&distributors).enumerate() {
        let line = at as u32 + 2;
        if distributor == NONE {
            errors.note_reference(
                line,
                format!(
                    "unknown distributor id {} (not in the distributors file)",
                    quoted(row.id)
                ),
            );
            continue;
        }
        let index = distributor as usize;
        let first = row_of_distributor[index];
        if first != NONE {
            errors.note_reference(
                line,
                format!(
                    "a second row for id {} (first at line {})",
                    quoted(row.id),
                    first + 2
                ),
            );
            continue;
        }
        row_of_distributor[index] = at as u32;
        state.carry_left[index] = row.carry_left;
        state.carry_right[index] = row.carry_right;
        state.highest_rank[index] = row.highest_rank;
    }
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    Ok(state)
}
