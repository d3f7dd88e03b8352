//! The matching bonus: a share of what the people in one's first generations earned from the
//! bonuses named in `of` (COMP_PLAN_SPEC.md §4). No compression: generation g is the g-th
//! sponsor ancestor.

use super::levels::UpwardWalk;
use super::ranks::People;
use super::{Bonus, Earnings, LineKeys};
use crate::number::Rate;
use crate::plan::CompiledMatching;
use crate::tree::Tree;
use rayon::prelude::*;

/// `E(x)`: the sum of x's rounded amounts of the matched bonuses.
pub fn matched_earnings(
    rules: &CompiledMatching,
    earned: &[Vec<i64>; 7],
    count: usize,
) -> Vec<i64> {
    let matched: Vec<&Vec<i64>> = [
        (rules.of_unilevel, Bonus::Unilevel),
        (rules.of_binary, Bonus::Binary),
        (rules.of_matrix, Bonus::Matrix),
        (rules.of_fast_start, Bonus::FastStart),
    ]
    .into_iter()
    .filter(|(wanted, bonus)| *wanted && !earned[*bonus as usize].is_empty())
    .map(|(_, bonus)| &earned[bonus as usize])
    .collect();
    (0..count)
        .into_par_iter()
        .map(|at| matched.iter().map(|earned| earned[at]).sum())
        .collect()
}

/// `round_half_even(rate × base)` for a base already in amount units.
#[inline]
pub fn match_amount(rate: Rate, base: i64) -> i64 {
    // rate × base has `rate.scale` more fractional digits than the amount unit.
    if let Some(exact) = rate.mantissa.checked_mul(base) {
        if rate.scale <= 18 {
            return crate::number::div_pow10_half_even_i64(exact, rate.scale);
        }
    }
    let exact = i128::from(rate.mantissa) * i128::from(base);
    crate::number::div_pow10_half_even(exact, rate.scale) as i64
}

pub fn matching_lines(
    rules: &CompiledMatching,
    sponsor: &Tree,
    matched: &[i64],
    people: &People<'_>,
    keys: &LineKeys,
    earnings: &Earnings,
) -> Vec<u64> {
    let walk = UpwardWalk {
        up: &sponsor.parent,
        rates: &rules.rates,
        bonus: Bonus::Matching,
        keys,
        earnings,
    };
    walk.lines(
        matched,
        |ancestor| people.is_active(ancestor),
        |ancestor| people.generation_limit(ancestor),
        match_amount,
    )
}
