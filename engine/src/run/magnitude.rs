//! One check before a run so that no total inside it can overflow `i64`: a bound on every
//! amount the run could pay, from the input totals. Real networks are many orders of
//! magnitude below it; a runaway input is refused instead of being paid wrongly.

use super::{RunError, RunInput};
use crate::number::pow10;

/// Totals stay below 2^62, leaving headroom for the sums of several bonuses.
const BOUND: i128 = 1 << 62;

pub fn check(input: &RunInput<'_>) -> Result<(), RunError> {
    let plan = input.plan;
    let count = input.network.len() as i128;
    let volume_total =
        input.volumes.total_pv.max(input.volumes.total_cv) + input.state.total_carry();
    let level_count = |levels: &Option<crate::plan::CompiledLevels>| {
        levels
            .as_ref()
            .map_or(0, |levels| levels.rates.len() as i128)
    };
    let per_volume_payers = level_count(&plan.unilevel) + level_count(&plan.matrix) + 2; // + binary + fast start
    let amount_scale = pow10(plan.decimals.saturating_sub(crate::number::VOLUME_SCALE)).max(1);
    // Rounding can add at most one unit per line.
    let rounding_slack = count * (per_volume_payers + 1);
    let earned = volume_total
        .saturating_mul(per_volume_payers)
        .saturating_mul(amount_scale)
        .saturating_add(rounding_slack);
    let generations = plan
        .matching
        .as_ref()
        .map_or(0, |matching| matching.rates.len() as i128);
    let with_matching = earned
        .saturating_mul(generations + 1)
        .saturating_add(count * generations);
    let advancement: i128 = plan
        .rank_advancement
        .iter()
        .flatten()
        .map(|&amount| i128::from(amount))
        .sum();
    let bound = with_matching
        .saturating_add(count.saturating_mul(advancement))
        .saturating_add(volume_total.saturating_mul(amount_scale));
    if bound >= BOUND || volume_total >= BOUND {
        return Err(RunError::VolumesTooLarge {
            bound: bound.to_string(),
        });
    }
    Ok(())
}
