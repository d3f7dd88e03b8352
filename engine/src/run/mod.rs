//! One commission run: `run(plan, network, volumes, carry state)` → ranks, carries, and
//! every commission line (COMP_PLAN_SPEC.md §3–§4). Deterministic, and independent of the
//! order of the input rows: everything is indexed by id rank and lines are sorted.
//!
//! The stages, each its own module:
//! 1. `ranks`: activity, group volume and paid-as rank, bottom-up over the sponsor tree;
//! 2. `binary`: leg volumes, pairing and carries over the placement tree;
//! 3. `levels`: unilevel and matrix lines, walking up from each source;
//! 4. `fast_start`, then `matching` (which needs the earnings of 2–4), then
//!    `rank_advancement` and `pool`;
//! 5. all lines sorted into the order of `lines.csv`.

mod binary;
mod fast_start;
mod levels;
mod line_keys;
mod magnitude;
mod matching;
pub use matching::match_amount;
mod pool;
mod rank_advancement;
mod ranks;

pub use binary::BinaryOutcome;
pub use line_keys::{Bonus, LineKey, LineKeys};
pub use pool::PoolOutcome;

use crate::input::{CarryState, Network, Volumes};
use crate::plan::CompiledPlan;
use rayon::prelude::*;
use std::sync::atomic::{AtomicI64, Ordering};

/// Everything a run reads.
pub struct RunInput<'r> {
    pub plan: &'r CompiledPlan,
    pub network: &'r Network,
    pub volumes: &'r Volumes,
    pub state: &'r CarryState,
}

/// Why a run cannot be computed exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the volumes are too large for exact 64-bit totals (a bound on the payout is {bound} currency units); split the run or check the input for runaway values")]
    VolumesTooLarge { bound: String },
    #[error(
        "the network is too large to pack commission lines into 64 bits ({count} distributors)"
    )]
    NetworkTooLarge { count: usize },
}

/// Per-distributor results and the sorted commission lines.
pub struct RunResult {
    pub active: Vec<bool>,
    pub rank: Vec<u8>,
    pub group_volume: Vec<i64>,
    pub binary: Option<BinaryOutcome>,
    pub highest_rank_out: Vec<u8>,
    /// Amount earned per bonus (indexed by `Bonus as usize`), per distributor; empty for a
    /// bonus the plan does not pay (everyone earned 0 of it). Read through
    /// [`RunResult::earned_from`] unless the bonus is known to be paid.
    pub earned: [Vec<i64>; 7],
    /// `E(x)`: the matched earnings of each distributor (amount units), when matching is on.
    pub matching_base: Vec<i64>,
    pub pool: Option<PoolOutcome>,
    /// Packed, sorted lines (see [`LineKeys`]).
    pub lines: Vec<u64>,
    pub keys: LineKeys,
}

impl RunResult {
    /// What `distributor` earned from `bonus`.
    #[inline]
    pub fn earned_from(&self, bonus: Bonus, distributor: usize) -> i64 {
        self.earned[bonus as usize]
            .get(distributor)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_earned(&self, distributor: usize) -> i64 {
        self.paid_bonuses().map(|earned| earned[distributor]).sum()
    }

    /// The per-distributor amounts of the bonuses the plan pays.
    pub fn paid_bonuses(&self) -> impl Iterator<Item = &Vec<i64>> + '_ {
        self.earned.iter().filter(|earned| !earned.is_empty())
    }
}

/// Amount totals per recipient, added to from many threads while lines are produced.
pub(crate) struct Earnings(Vec<AtomicI64>);

impl Earnings {
    fn new(count: usize) -> Earnings {
        Earnings(
            (0..count)
                .into_par_iter()
                .map(|_| AtomicI64::new(0))
                .collect(),
        )
    }

    #[inline]
    pub(crate) fn add(&self, recipient: u32, amount: i64) {
        self.0[recipient as usize].fetch_add(amount, Ordering::Relaxed);
    }

    /// Requests a recipient's total ahead of [`Earnings::add`]: an atomic add waits for
    /// its cache line, and no later load may start meanwhile.
    #[inline]
    pub(crate) fn prefetch(&self, recipient: u32) {
        if let Some(total) = self.0.get(recipient as usize) {
            crate::id_index::prefetch(total);
        }
    }

    fn into_amounts(self) -> Vec<i64> {
        self.0.into_iter().map(AtomicI64::into_inner).collect()
    }
}

/// The stages of a run, announced as each one starts so a caller can show progress or time
/// them (the engine itself has no clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Ranks,
    Binary,
    Unilevel,
    Matrix,
    FastStart,
    Matching,
    RankAdvancement,
    Pool,
    SortLines,
    Done,
}

/// Computes one run.
pub fn run(input: &RunInput<'_>) -> Result<RunResult, RunError> {
    run_observed(input, &mut |_| {})
}

/// Computes one run, calling `observe` as each stage starts.
pub fn run_observed(
    input: &RunInput<'_>,
    observe: &mut dyn FnMut(Stage),
) -> Result<RunResult, RunError> {
    let plan = input.plan;
    let count = input.network.len();
    magnitude::check(input)?;
    let keys = LineKeys::new(count, max_level(plan)).ok_or(RunError::NetworkTooLarge { count })?;

    observe(Stage::Ranks);
    let active: Vec<bool> = (0..count)
        .into_par_iter()
        .map(|at| !input.network.terminated[at] && input.volumes.pv[at] >= plan.min_active_pv)
        .collect();
    let (group_volume, rank) =
        ranks::paid_as_ranks(plan, &input.network.sponsor, &input.volumes.pv, &active);
    let people = ranks::People {
        active: &active,
        rank: &rank,
        plan,
    };

    observe(Stage::Binary);
    let binary = match (&plan.binary, &input.network.placement) {
        (Some(rules), Some(placement)) => Some(binary::binary(
            rules,
            plan.decimals,
            placement,
            input,
            &active,
        )),
        _ => None,
    };

    let mut line_sets: Vec<Vec<u64>> = Vec::new();
    let mut earned: [Vec<i64>; 7] = Default::default();
    macro_rules! collect {
        ($bonus:expr, $lines:expr, $earnings:expr) => {{
            line_sets.push($lines);
            earned[$bonus as usize] = $earnings;
        }};
    }

    if let Some(levels) = &plan.unilevel {
        observe(Stage::Unilevel);
        let earnings = Earnings::new(count);
        let lines = levels::level_lines(
            levels,
            &input.network.sponsor,
            Bonus::Unilevel,
            &input.volumes.cv,
            &people,
            &keys,
            &earnings,
        );
        collect!(Bonus::Unilevel, lines, earnings.into_amounts());
    }
    if let (Some(levels), Some(placement)) = (&plan.matrix, &input.network.placement) {
        observe(Stage::Matrix);
        let earnings = Earnings::new(count);
        let lines = levels::level_lines(
            levels,
            &placement.tree,
            Bonus::Matrix,
            &input.volumes.cv,
            &people,
            &keys,
            &earnings,
        );
        collect!(Bonus::Matrix, lines, earnings.into_amounts());
    }
    if let Some(outcome) = &binary {
        let lines = binary::binary_lines(outcome, &keys);
        collect!(Bonus::Binary, lines, outcome.amount.clone());
    }
    if let Some(rules) = &plan.fast_start {
        observe(Stage::FastStart);
        let earnings = Earnings::new(count);
        let lines = fast_start::fast_start_lines(
            rules,
            plan.decimals,
            &input.network.sponsor,
            &input.volumes.fast_start_cv,
            &active,
            &keys,
            &earnings,
        );
        collect!(Bonus::FastStart, lines, earnings.into_amounts());
    }
    let mut matching_base = Vec::new();
    if let Some(rules) = &plan.matching {
        observe(Stage::Matching);
        matching_base = matching::matched_earnings(rules, &earned, count);
        let earnings = Earnings::new(count);
        let lines = matching::matching_lines(
            rules,
            &input.network.sponsor,
            &matching_base,
            &people,
            &keys,
            &earnings,
        );
        collect!(Bonus::Matching, lines, earnings.into_amounts());
    }
    observe(Stage::RankAdvancement);
    let (highest_rank_out, advancement) =
        rank_advancement::advance(plan, &rank, &input.state.highest_rank, &keys);
    if let Some(rank_advancement::Advancement {
        lines,
        earned: earnings,
    }) = advancement
    {
        collect!(Bonus::RankAdvancement, lines, earnings);
    }
    let pool = plan
        .pool
        .as_ref()
        .map(|rules| pool::pool(rules, plan.decimals, input.volumes.total_cv, &people));
    if let Some(outcome) = &pool {
        collect!(
            Bonus::Pool,
            pool::pool_lines(outcome, &keys),
            outcome.amount.clone()
        );
    }
    observe(Stage::SortLines);
    let lines = sorted_lines(line_sets, &keys);
    observe(Stage::Done);
    Ok(RunResult {
        active,
        rank,
        group_volume,
        binary,
        highest_rank_out,
        earned,
        matching_base,
        pool,
        lines,
        keys,
    })
}

fn max_level(plan: &CompiledPlan) -> u32 {
    let lengths = [
        plan.unilevel
            .as_ref()
            .map_or(0, |levels| levels.rates.len()),
        plan.matrix.as_ref().map_or(0, |levels| levels.rates.len()),
        plan.matching
            .as_ref()
            .map_or(0, |matching| matching.rates.len()),
        plan.ranks.len(),
        1,
    ];
    lengths.into_iter().max().unwrap_or(1) as u32
}

/// Merges the per-bonus line sets into one sorted list (by radix: the keys use only the
/// bits their layout needs).
///
/// Each set holds one bonus's lines, and the walks that make them go through sources in
/// ascending order, so a set usually arrives ordered by everything below the recipient
/// (source, then level). Then the sets laid end to end in bonus order need only a stable
/// sort by recipient — two radix passes instead of five. Any set out of that order gets
/// the full sort.
fn sorted_lines(mut line_sets: Vec<Vec<u64>>, keys: &LineKeys) -> Vec<u64> {
    let shift = keys.recipient_shift();
    let below = |key: u64| key & ((1u64 << shift) - 1);
    let presorted = line_sets.par_iter().all(|set| {
        set.par_windows(2)
            .all(|pair| below(pair[0]) <= below(pair[1]))
    });
    line_sets.retain(|set| !set.is_empty());
    line_sets.sort_by_key(|set| set.first().map(|&key| below(key)));
    // A plan of one bonus (or one that paid only one) sorts its set where it lies.
    let mut lines = if line_sets.len() == 1 {
        line_sets.pop().expect("one set")
    } else {
        line_sets.concat()
    };
    if presorted {
        crate::radix::radix_sort(&mut lines, shift, keys.node_bits());
    } else {
        crate::radix::radix_sort(&mut lines, 0, keys.bits());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_in_file_order_whether_or_not_sets_arrive_presorted() {
        let keys = LineKeys::new(1000, 6).unwrap();
        // Sets in source order, as the walks make them, handed over out of bonus order.
        let by_source = |bonus: Bonus| -> Vec<u64> {
            (0..1000u32)
                .flat_map(|source| (1..=3u32).map(move |level| (source, level)))
                .map(|(source, level)| keys.pack((source * 7 + level) % 1000, bonus, source, level))
                .collect()
        };
        let presorted = vec![by_source(Bonus::Matching), by_source(Bonus::Unilevel)];
        let mut expected: Vec<u64> = presorted.concat();
        expected.sort_unstable();
        assert_eq!(sorted_lines(presorted, &keys), expected);
        let mut shuffled = by_source(Bonus::Unilevel);
        shuffled.reverse();
        let unordered = vec![by_source(Bonus::Pool), shuffled];
        let mut expected: Vec<u64> = unordered.concat();
        expected.sort_unstable();
        assert_eq!(sorted_lines(unordered, &keys), expected);
    }
}
