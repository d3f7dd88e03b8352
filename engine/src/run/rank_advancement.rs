//! The rank-advancement bonus: a one-time amount for each rank reached for the first time,
//! and the highest rank carried to the next period (COMP_PLAN_SPEC.md §4).

use super::{Bonus, LineKeys};
use crate::plan::CompiledPlan;
use rayon::prelude::*;

/// The bonus's lines and the amount each distributor earned.
pub struct Advancement {
    pub lines: Vec<u64>,
    pub earned: Vec<i64>,
}

/// Returns the highest rank out per distributor and, when the plan has the bonus, its lines
/// and earnings.
pub fn advance(
    plan: &CompiledPlan,
    rank: &[u8],
    highest_in: &[u8],
    keys: &LineKeys,
) -> (Vec<u8>, Option<Advancement>) {
    let highest_out: Vec<u8> = rank
        .par_iter()
        .zip(highest_in.par_iter())
        .map(|(&now, &before)| now.max(before))
        .collect();
    if plan.rank_advancement.iter().all(Option::is_none) {
        return (highest_out, None);
    }
    let newly_reached = |at: usize| {
        (highest_in[at] + 1..=rank[at]).filter_map(move |reached| {
            plan.rank_advancement[usize::from(reached)]
                .filter(|&amount| amount > 0)
                .map(|amount| (reached, amount))
        })
    };
    let earned: Vec<i64> = (0..rank.len())
        .into_par_iter()
        .map(|at| newly_reached(at).map(|(_, amount)| amount).sum())
        .collect();
    let lines: Vec<u64> = (0..rank.len())
        .into_par_iter()
        .filter(|&at| earned[at] > 0)
        .flat_map_iter(|at| {
            newly_reached(at).map(move |(reached, _)| {
                keys.pack(
                    at as u32,
                    Bonus::RankAdvancement,
                    at as u32,
                    u32::from(reached),
                )
            })
        })
        .collect();
    (highest_out, Some(Advancement { lines, earned }))
}
