//! Unilevel (sponsor tree) and matrix (placement tree) lines: from every source with CV,
//! walk up the tree level by level (COMP_PLAN_SPEC.md §4).
//!
//! With compression the walk follows each node's nearest active ancestor, precomputed
//! top-down, so a run of a million inactive ancestors costs one step, not a million.

use super::ranks::People;
use super::{Bonus, Earnings, LineKeys};
use crate::number::Rate;
use crate::plan::CompiledLevels;
use crate::tree::{Tree, NONE};
use rayon::prelude::*;

pub fn level_lines(
    levels: &CompiledLevels,
    tree: &Tree,
    bonus: Bonus,
    cv: &[i64],
    people: &People<'_>,
    keys: &LineKeys,
    earnings: &Earnings,
) -> Vec<u64> {
    // Inactive ancestors (only met without compression) and ranks paid fewer levels leave a
    // level unpaid: breakage.
    let up: Vec<u32> = if levels.compression {
        nearest_active_ancestors(tree, people.active)
    } else {
        tree.parent.clone()
    };
    let decimals = people.plan.decimals;
    let walk = UpwardWalk {
        up: &up,
        rates: &levels.rates,
        bonus,
        keys,
        earnings,
    };
    // Each check costs a cache miss per ancestor; skip the ones the plan already answers:
    // with compression every ancestor on the walk is active, and when every rank is paid all
    // the levels, no rank needs looking up.
    let every_ancestor_active = levels.compression;
    let every_rank_paid_all = people
        .plan
        .ranks
        .iter()
        .all(|rank| rank.unilevel_levels as usize >= levels.rates.len());
    walk.lines(
        cv,
        |ancestor| every_ancestor_active || people.is_active(ancestor),
        |ancestor| {
            if every_rank_paid_all {
                u32::MAX
            } else {
                people.level_limit(ancestor)
            }
        },
        |rate, volume| rate.apply_half_even(volume, decimals),
    )
}

/// Pays a share of each source's base to its ancestors, one rate per level: the walk that
/// unilevel, matrix and matching share. `up[node]` is the next ancestor to consider (the
/// parent, or with compression the nearest active ancestor).
pub(super) struct UpwardWalk<'w> {
    pub up: &'w [u32],
    pub rates: &'w [Rate],
    pub bonus: Bonus,
    pub keys: &'w LineKeys,
    pub earnings: &'w Earnings,
}

/// Ancestors found before any of them is paid (see [`UpwardWalk::lines`]).
const STRETCH: usize = 8;

impl UpwardWalk<'_> {
    /// Lines for every source with a positive base, in source order (each task's lines
    /// are laid end to end once, not merged pairwise). An ancestor is paid level `k` when
    /// `paid(ancestor)` and `k <= limit(ancestor)`; otherwise the level is breakage.
    pub fn lines(
        &self,
        bases: &[i64],
        paid: impl Fn(u32) -> bool + Sync,
        limit: impl Fn(u32) -> u32 + Sync,
        amount_of: impl Fn(Rate, i64) -> i64 + Sync,
    ) -> Vec<u64> {
        (0..bases.len() as u32)
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&source| bases[source as usize] > 0)
            .fold(Vec::new, |mut lines, source| {
                let base = bases[source as usize];
                let mut ancestor = self.up[source as usize];
                // The walk goes a stretch of ancestors at a time: first up the tree,
                // requesting each one's total, then paying them. Paying as it climbed, each
                // atomic add waited for its total's cache line before the next step up
                // could even start.
                let mut stretch = [NONE; STRETCH];
                let mut first_level = 0;
                while first_level < self.rates.len() && ancestor != NONE {
                    let mut found = 0;
                    while found < STRETCH
                        && first_level + found < self.rates.len()
                        && ancestor != NONE
                    {
                        stretch[found] = ancestor;
                        self.earnings.prefetch(ancestor);
                        ancestor = self.up[ancestor as usize];
                        found += 1;
                    }
                    for (offset, &recipient) in stretch[..found].iter().enumerate() {
                        let index = first_level + offset;
                        let level = index as u32 + 1;
                        if paid(recipient) && level <= limit(recipient) {
                            let amount = amount_of(self.rates[index], base);
                            if amount > 0 {
                                lines.push(self.keys.pack(recipient, self.bonus, source, level));
                                self.earnings.add(recipient, amount);
                            }
                        }
                    }
                    first_level += found;
                }
                lines
            })
            .collect::<Vec<Vec<u64>>>()
            .concat()
    }
}

/// For each node, its nearest strict ancestor that is active (`NONE` if there is none).
fn nearest_active_ancestors(tree: &Tree, active: &[bool]) -> Vec<u32> {
    let active = tree.gather(active);
    // By position: the nearest active strict ancestor, handed down from parent to children.
    let mut nearest: Vec<u32> = vec![NONE; tree.len()];
    tree.fold_down_by_levels(&mut nearest, |position, nearest| {
        if active[position] {
            tree.order[position]
        } else {
            nearest
        }
    });
    tree.scatter(&nearest)
}
