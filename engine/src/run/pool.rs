//! The pool bonus: a share of the period's total CV divided among shareholders by rank,
//! each share floored to the currency's smallest unit (COMP_PLAN_SPEC.md §4).

use super::ranks::People;
use super::{Bonus, LineKeys};
use crate::number::{div_pow10_floor, pow10, Fixed};
use crate::plan::CompiledPool;
use rayon::prelude::*;

/// The pool and each distributor's share of it.
pub struct PoolOutcome {
    /// `pct × Σ CV`, exact.
    pub pool: Fixed,
    /// Shares held at each rank index, as integers at one common scale.
    pub shares_at_rank: Vec<i128>,
    pub total_shares: i128,
    pub amount: Vec<i64>,
}

impl PoolOutcome {
    /// `held / total shares` rounded half-even to 10 fractional digits (for display only).
    pub fn rate(&self, held: i128) -> Fixed {
        let scaled = held * pow10(10);
        let (quotient, remainder) = (scaled / self.total_shares, scaled % self.total_shares);
        let twice = remainder * 2;
        let round_up =
            twice > self.total_shares || (twice == self.total_shares && quotient % 2 == 1);
        Fixed {
            mantissa: quotient + i128::from(round_up),
            scale: 10,
        }
    }
}

pub fn pool(
    rules: &CompiledPool,
    decimals: u32,
    total_cv: i128,
    people: &People<'_>,
) -> PoolOutcome {
    let pool = rules.pct.times_volume_exact(total_cv);
    let share_scale = rules
        .shares_by_rank
        .iter()
        .map(|shares| shares.scale)
        .max()
        .unwrap_or(0);
    let shares_at_rank: Vec<i128> = rules
        .shares_by_rank
        .iter()
        .map(|shares| shares.mantissa * pow10(share_scale - shares.scale))
        .collect();
    let shares: Vec<i128> = (0..people.rank.len())
        .into_par_iter()
        .map(|at| {
            if people.active[at] {
                shares_at_rank[usize::from(people.rank[at])]
            } else {
                0
            }
        })
        .collect();
    let total_shares: i128 = shares.par_iter().sum();
    let amount: Vec<i64> = if total_shares == 0 {
        vec![0; shares.len()]
    } else {
        shares
            .par_iter()
            .map(|&held| share_of_pool(pool, held, total_shares, decimals))
            .collect()
    };
    PoolOutcome {
        pool,
        shares_at_rank,
        total_shares,
        amount,
    }
}

/// `floor(pool × held / total)` in units of `10^-decimals`, from the exact fraction.
fn share_of_pool(pool: Fixed, held: i128, total: i128, decimals: u32) -> i64 {
    if held == 0 {
        return 0;
    }
    // pool.mantissa × held / total, split so that no product leaves i128:
    // q = ⌊m / total⌋, r = m mod total; m × held / total = q × held + r × held / total.
    let quotient = pool.mantissa / total;
    let remainder = pool.mantissa % total;
    let scaled_floor = quotient * held + remainder * held / total;
    if pool.scale >= decimals {
        // ⌊⌊x⌋ / 10^k⌋ = ⌊x / 10^k⌋ for integer k ≥ 0.
        div_pow10_floor(scaled_floor, pool.scale - decimals) as i64
    } else {
        // Fewer digits than the currency: scale up the exact fraction before flooring.
        let factor = pow10(decimals - pool.scale);
        ((pool.mantissa * factor * held) / total) as i64
    }
}

pub fn pool_lines(outcome: &PoolOutcome, keys: &LineKeys) -> Vec<u64> {
    (0..outcome.amount.len() as u32)
        .into_par_iter()
        .filter(|&node| outcome.amount[node as usize] > 0)
        .map(|node| keys.pack(node, Bonus::Pool, node, 0))
        .collect()
}
