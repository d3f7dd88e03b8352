//! The fast-start bonus: the sponsor of each new distributor earns a share of the CV the
//! recruit ordered within the window after joining (COMP_PLAN_SPEC.md §4).

use super::{Bonus, Earnings, LineKeys};
use crate::plan::CompiledFastStart;
use crate::tree::{Tree, NONE};
use rayon::prelude::*;

pub fn fast_start_lines(
    rules: &CompiledFastStart,
    decimals: u32,
    sponsor: &Tree,
    window_cv: &[i64],
    active: &[bool],
    keys: &LineKeys,
    earnings: &Earnings,
) -> Vec<u64> {
    (0..window_cv.len() as u32)
        .into_par_iter()
        .with_min_len(4096)
        .fold(Vec::new, |mut lines, recruit| {
            let base = window_cv[recruit as usize];
            let recipient = sponsor.parent[recruit as usize];
            if base > 0 && recipient != NONE && active[recipient as usize] {
                let amount = rules.pct.apply_half_even(base, decimals);
                if amount > 0 {
                    lines.push(keys.pack(recipient, Bonus::FastStart, recruit, 1));
                    earnings.add(recipient, amount);
                }
            }
            lines
        })
        .collect::<Vec<Vec<u64>>>()
        .concat()
}
