//! The binary bonus (COMP_PLAN_SPEC.md §4): leg volumes from the placement tree, pairing,
//! the cap, and carries to the next period.

use super::{Bonus, LineKeys, RunInput};
use crate::input::Placement;
use crate::plan::CompiledBinary;
use crate::tree::Tree;
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

/// What the placement tree says about one node's two legs.
#[derive(Clone, Copy, Default)]
struct Legs {
    /// PV placed in the left and right leg subtrees.
    left_pv: i64,
    right_pv: i64,
    /// The node's pre-order number; its left leg holds the next `left_size` numbers, its
    /// right leg the `right_size` after those.
    start: u32,
    left_size: u32,
    right_size: u32,
}

impl Legs {
    #[inline]
    fn in_left(&self, start: u32) -> bool {
        start > self.start && start <= self.start + self.left_size
    }

    #[inline]
    fn in_right(&self, start: u32) -> bool {
        start > self.start + self.left_size
            && start <= self.start + self.left_size + self.right_size
    }
}

pub fn binary(
    rules: &CompiledBinary,
    decimals: u32,
    placement: &Placement,
    input: &RunInput<'_>,
    active: &[bool],
) -> BinaryOutcome {
    let legs = legs_by_node(&placement.tree, &placement.slot, &input.volumes.pv);
    let needs_qualification = rules.qualify_left > 0 || rules.qualify_right > 0;
    let sponsor = &input.network.sponsor;
    let count = legs.len();
    let mut outcome = BinaryOutcome {
        left: vec![0; count],
        right: vec![0; count],
        paired: vec![0; count],
        amount: vec![0; count],
        carry_left_out: vec![0; count],
        carry_right_out: vec![0; count],
    };
    (
        outcome.left.par_iter_mut(),
        outcome.right.par_iter_mut(),
        outcome.paired.par_iter_mut(),
        outcome.amount.par_iter_mut(),
        outcome.carry_left_out.par_iter_mut(),
        outcome.carry_right_out.par_iter_mut(),
    )
        .into_par_iter()
        .with_min_len(4096)
        .enumerate()
        .for_each(
            |(
                at,
                (left_out, right_out, paired_out, amount_out, carry_left_out, carry_right_out),
            )| {
                let node_legs = &legs[at];
                let left = input.state.carry_left[at] + node_legs.left_pv;
                let right = input.state.carry_right[at] + node_legs.right_pv;
                let qualified = active[at]
                    && (!needs_qualification || {
                        // Active personal recruits placed in each leg.
                        let (mut in_left, mut in_right) = (0u64, 0u64);
                        for &recruit in sponsor.children(at as u32) {
                            if active[recruit as usize] {
                                let start = legs[recruit as usize].start;
                                in_left += u64::from(node_legs.in_left(start));
                                in_right += u64::from(node_legs.in_right(start));
                            }
                        }
                        in_left >= u64::from(rules.qualify_left)
                            && in_right >= u64::from(rules.qualify_right)
                    });
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
                *left_out = left;
                *right_out = right;
                *paired_out = paired;
                *amount_out = amount;
                *carry_left_out = cut(carry_left);
                *carry_right_out = cut(carry_right);
            },
        );
    outcome
}

pub fn binary_lines(outcome: &BinaryOutcome, keys: &LineKeys) -> Vec<u64> {
    (0..outcome.amount.len() as u32)
        .into_par_iter()
        .filter(|&node| outcome.amount[node as usize] > 0)
        .map(|node| keys.pack(node, Bonus::Binary, node, 0))
        .collect()
}

/// Each node's leg volumes and pre-order interval: one bottom-up sweep for subtree PV and
/// size, one top-down sweep for pre-order numbers (left legs first).
fn legs_by_node(tree: &Tree, slot: &[u8], pv: &[i64]) -> Vec<Legs> {
    let pv = tree.gather(pv);
    let slot = tree.gather(slot);
    let mut subtree: Vec<(i64, u32)> = vec![(0, 0); tree.len()];
    tree.fold_up_by_levels(&mut subtree, |position, children| {
        children
            .iter()
            .fold((pv[position], 1), |(volume, size), child| {
                (volume + child.0, size + child.1)
            })
    });
    let mut legs = vec![Legs::default(); tree.len()];
    for position in 0..tree.len() {
        let start = legs[position].start;
        let (mut left, mut right) = ((0, 0), (0, 0));
        let mut left_child = None;
        let mut right_child = None;
        for child in tree.child_positions(position) {
            if slot[child] == LEFT {
                left = subtree[child];
                left_child = Some(child);
            } else {
                right = subtree[child];
                right_child = Some(child);
            }
        }
        if let Some(child) = left_child {
            legs[child].start = start + 1;
        }
        if let Some(child) = right_child {
            legs[child].start = start + 1 + left.1;
        }
        let node_legs = &mut legs[position];
        node_legs.left_pv = left.0;
        node_legs.right_pv = right.0;
        node_legs.left_size = left.1;
        node_legs.right_size = right.1;
    }
    tree.scatter(&legs)
}
