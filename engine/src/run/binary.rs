//! The binary bonus (COMP_PLAN_SPEC.md §4): leg volumes from the placement tree, pairing,
//! the cap, and carries to the next period.

use super::{Bonus, LineKeys, RunInput};
use crate::input::Placement;
use crate::plan::CompiledBinary;
use crate::tree::{SharedSlice, Tree, NONE};
use rayon::prelude::*;

/// Per distributor: `L`, `R`, the paired volume `P`, the amount and the carries out.
pub struct BinaryOutcome {
    pub left: Vec<i64>,
    pub right: Vec<i64>,
    pub paired: Vec<i64>,
    pub amount: Vec<i64>,
    pub carry_left_out: Vec<i64>,
    pub carry_right_out: Vec<i64>,
}

const LEFT: u8 = 1;

pub fn binary(
    rules: &CompiledBinary,
    decimals: u32,
    placement: &Placement,
    input: &RunInput<'_, '_>,
    active: &[bool],
) -> BinaryOutcome {
    let tree = &placement.tree;
    let pv = &input.volumes.pv;
    let (left_child, right_child) = legs(tree, &placement.slot);
    let subtree_pv = subtree_sums(tree, pv);
    let leg_pv = |child: u32| {
        if child == NONE {
            0
        } else {
            subtree_pv[child as usize]
        }
    };
    let needs_qualification = rules.qualify_left > 0 || rules.qualify_right > 0;
    let intervals =
        needs_qualification.then(|| PreorderIntervals::new(tree, &left_child, &right_child));
    let sponsor = &input.network.sponsor;

    let per_distributor: Vec<(i64, i64, i64, i64, i64, i64)> = (0..tree.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|at| {
            let node = at as u32;
            let left = input.state.carry_left[at] + leg_pv(left_child[at]);
            let right = input.state.carry_right[at] + leg_pv(right_child[at]);
            let qualified = active[at]
                && match &intervals {
                    None => true,
                    Some(intervals) => {
                        let count_in = |leg: u32| match leg {
                            NONE => 0,
                            leg => sponsor
                                .children(node)
                                .iter()
                                .filter(|&&recruit| {
                                    active[recruit as usize] && intervals.contains(leg, recruit)
                                })
                                .count() as u64,
                        };
                        count_in(left_child[at]) >= u64::from(rules.qualify_left)
                            && count_in(right_child[at]) >= u64::from(rules.qualify_right)
                    }
                };
            let (paired, amount, carry_left, carry_right) = if qualified {
                let mut paired = left.min(right);
                if rules.unit > 0 {
                    paired -= paired % rules.unit;
                }
                let mut amount = rules.pct.apply_half_even(paired, decimals);
                if let Some(cap) = rules.cap {
                    amount = amount.min(cap);
                }
                (paired, amount, left - paired, right - paired)
            } else if active[at] || !rules.flush_inactive {
                (0, 0, left, right)
            } else {
                (0, 0, 0, 0)
            };
            let cut = |carry: i64| rules.carry_cap.map_or(carry, |cap| carry.min(cap));
            (
                left,
                right,
                paired,
                amount,
                cut(carry_left),
                cut(carry_right),
            )
        })
        .collect();
    let column = |pick: fn(&(i64, i64, i64, i64, i64, i64)) -> i64| {
        per_distributor.par_iter().map(pick).collect::<Vec<i64>>()
    };
    BinaryOutcome {
        left: column(|row| row.0),
        right: column(|row| row.1),
        paired: column(|row| row.2),
        amount: column(|row| row.3),
        carry_left_out: column(|row| row.4),
        carry_right_out: column(|row| row.5),
    }
}

pub fn binary_lines(outcome: &BinaryOutcome, keys: &LineKeys) -> Vec<u64> {
    (0..outcome.amount.len() as u32)
        .into_par_iter()
        .filter(|&node| outcome.amount[node as usize] > 0)
        .map(|node| keys.pack(node, Bonus::Binary, node, 0))
        .collect()
}

/// Each node's left (slot 1) and right (slot 2) child.
fn legs(tree: &Tree, slot: &[u8]) -> (Vec<u32>, Vec<u32>) {
    let mut left = vec![NONE; tree.len()];
    let mut right = vec![NONE; tree.len()];
    for (node, &parent) in tree.parent.iter().enumerate() {
        if parent != NONE {
            if slot[node] == LEFT {
                left[parent as usize] = node as u32;
            } else {
                right[parent as usize] = node as u32;
            }
        }
    }
    (left, right)
}

/// PV summed over each node's placement subtree, the node included.
fn subtree_sums(tree: &Tree, pv: &[i64]) -> Vec<i64> {
    let mut sums = vec![0i64; tree.len()];
    {
        let shared = SharedSlice::new(&mut sums);
        tree.for_each_bottom_up(|node| {
            // SAFETY: children are one level deeper and already summed.
            unsafe {
                let below: i64 = tree
                    .children(node)
                    .iter()
                    .map(|&child| shared.read(child))
                    .sum();
                shared.write(node, pv[node as usize] + below);
            }
        });
    }
    sums
}

/// Pre-order positions and subtree sizes: `x` lies in `y`'s subtree iff
/// `start[y] <= start[x] < start[y] + size[y]`.
struct PreorderIntervals {
    start: Vec<u32>,
    size: Vec<u32>,
}

impl PreorderIntervals {
    /// Left legs come first in pre-order, as slot 1 comes before slot 2.
    fn new(tree: &Tree, left_child: &[u32], right_child: &[u32]) -> PreorderIntervals {
        let mut size = vec![0u32; tree.len()];
        {
            let shared = SharedSlice::new(&mut size);
            tree.for_each_bottom_up(|node| unsafe {
                // SAFETY: as in `subtree_sums`.
                let below: u32 = tree
                    .children(node)
                    .iter()
                    .map(|&child| shared.read(child))
                    .sum();
                shared.write(node, below + 1);
            });
        }
        let mut start = vec![0u32; tree.len()];
        {
            let shared = SharedSlice::new(&mut start);
            tree.for_each_top_down(|node| {
                let (left, right) = (left_child[node as usize], right_child[node as usize]);
                // SAFETY: a node's own entry was written by its parent's visit one level up;
                // its children's entries are written only here.
                unsafe {
                    let first = shared.read(node) + 1;
                    let mut next = first;
                    if left != NONE {
                        shared.write(left, first);
                        next += size[left as usize];
                    }
                    if right != NONE {
                        shared.write(right, next);
                    }
                }
            });
        }
        PreorderIntervals { start, size }
    }

    #[inline]
    fn contains(&self, root: u32, node: u32) -> bool {
        let (root, node) = (root as usize, node as usize);
        self.start[root] <= self.start[node]
            && self.start[node] < self.start[root] + self.size[root]
    }
}
