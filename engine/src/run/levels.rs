//! Unilevel (sponsor tree) and matrix (placement tree) lines: from every source with CV,
//! walk up the tree level by level (COMP_PLAN_SPEC.md §4).
//!
//! With compression the walk follows each node's nearest active ancestor, precomputed
//! top-down, so a run of a million inactive ancestors costs one step, not a million.

use super::ranks::People;
use super::{Bonus, Earnings, LineKeys};
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
    let up: Vec<u32> = if levels.compression {
        nearest_active_ancestors(tree, people.active)
    } else {
        tree.parent.clone()
    };
    let first_up = |node: u32| up[node as usize];
    let decimals = people.plan.decimals;
    (0..cv.len() as u32)
        .into_par_iter()
        .with_min_len(4096)
        .filter(|&source| cv[source as usize] > 0)
        .fold(Vec::new, |mut lines, source| {
            let volume = cv[source as usize];
            let mut ancestor = first_up(source);
            for (index, rate) in levels.rates.iter().enumerate() {
                if ancestor == NONE {
                    break;
                }
                let level = index as u32 + 1;
                // Inactive ancestors (only possible without compression) or ranks paid fewer
                // levels leave this level unpaid: breakage.
                if people.is_active(ancestor) && level <= people.level_limit(ancestor) {
                    let amount = rate.apply_half_even(volume, decimals);
                    if amount > 0 {
                        lines.push(keys.pack(ancestor, bonus, source, level));
                        earnings.add(ancestor, amount);
                    }
                }
                ancestor = first_up(ancestor);
            }
            lines
        })
        .reduce(Vec::new, concat)
}

pub(super) fn concat(mut left: Vec<u64>, mut right: Vec<u64>) -> Vec<u64> {
    if left.len() < right.len() {
        std::mem::swap(&mut left, &mut right);
    }
    left.extend_from_slice(&right);
    left
}

/// For each node, its nearest strict ancestor that is active (`NONE` if there is none).
fn nearest_active_ancestors(tree: &Tree, active: &[bool]) -> Vec<u32> {
    let active = tree.gather(active);
    // By position: the nearest active strict ancestor, handed down from parent to children.
    let mut nearest: Vec<u32> = vec![NONE; tree.len()];
    for position in 0..tree.len() {
        let node = tree.order[position];
        let for_children = if active[position] {
            node
        } else {
            nearest[position]
        };
        for child in tree.child_positions(position) {
            nearest[child] = for_children;
        }
    }
    tree.scatter(&nearest)
}
