//! Placement columns for binary and matrix plans, by the §6 rules of `engine::placement`.
//!
//! Distributors are placed in join order, each under its sponsor, so a node id of the placement
//! tree equals the distributor index. Chains are placed as a chain (each in slot 1 of the
//! previous one). Otherwise, matrix plans use forced spillover; in binary plans each enrollment
//! picks a rule the way sponsors do: mostly the weak leg, sometimes the outer left or right
//! edge. The weak leg's "lifetime PV" is stood in for by the number of the sponsor's own
//! recruits placed on each side: keeping real subtree PV sums costs O(depth) per enrollment,
//! which is quadratic on a star.

use super::network::{Network, Shape};
use super::rng::{self, Stream};
use anyhow::Result;
use engine::placement::{weak_side, PlacementTree, LEFT, RIGHT};
use rand::Rng;

/// The placement tree of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Binary,
    Matrix { width: u8 },
}

/// Percent of binary enrollments placed on the sponsor's weak leg; the rest go half to the outer
/// left, half to the outer right edge.
const WEAK_LEG_PERCENT: u32 = 70;

/// Places every distributor; `progress` is called with the number placed since the last call.
pub fn place(
    network: &Network,
    layout: Layout,
    seed: u64,
    shape: Shape,
    progress: &dyn Fn(u64),
) -> Result<PlacementTree> {
    let mut tree = match layout {
        Layout::Binary => PlacementTree::binary(),
        Layout::Matrix { width } => PlacementTree::matrix(width)?,
    };
    let n = network.len();
    tree.reserve(n);
    tree.add_root()?;
    let mut rng = rng::stream(seed, Stream::Placement, 0);
    // Binary: recruits each sponsor placed on the left and on the right so far.
    let mut sides: Vec<[u32; 2]> = match layout {
        Layout::Binary if shape != Shape::Chain => vec![[0, 0]; n],
        _ => Vec::new(),
    };
    for i in 1..n {
        let sponsor = network.sponsor[i];
        let position = match (shape, layout) {
            (Shape::Chain, _) => engine::placement::Position {
                parent: i as u32 - 1,
                slot: 1,
            },
            (_, Layout::Matrix { .. }) => tree.spillover(sponsor)?,
            (_, Layout::Binary) => {
                let counts = sides[sponsor as usize];
                let roll = rng.gen_range(0..100);
                let side = if roll < WEAK_LEG_PERCENT {
                    weak_side(i64::from(counts[0]), i64::from(counts[1]))
                } else if roll < WEAK_LEG_PERCENT + (100 - WEAK_LEG_PERCENT) / 2 {
                    LEFT
                } else {
                    RIGHT
                };
                sides[sponsor as usize][(side - 1) as usize] += 1;
                tree.outer_edge(sponsor, side)?
            }
        };
        let node = tree.place(position)?;
        debug_assert_eq!(node as usize, i);
        if i % rng::CHUNK_LEN == 0 {
            progress(rng::CHUNK_LEN as u64);
        }
    }
    progress(((n - 1) % rng::CHUNK_LEN) as u64 + 1);
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::calendar::Period;
    use std::collections::HashSet;

    fn network(n: u32, shape: Shape) -> Network {
        Network::build(n, 9, shape, &Period::parse("2026-11").unwrap(), &|_| {})
    }

    fn check(tree: &PlacementTree, n: usize, width: u8) {
        assert_eq!(tree.len() as usize, n);
        assert_eq!(tree.position_of(0), None);
        let mut taken = HashSet::new();
        for i in 1..n as u32 {
            let p = tree.position_of(i).expect("every non-root is placed");
            assert!((1..=width).contains(&p.slot));
            assert!(p.parent < i);
            assert!(
                taken.insert((p.parent, p.slot)),
                "two children in slot {} under {}",
                p.slot,
                p.parent
            );
        }
    }

    #[test]
    fn binary_placements_have_one_child_per_leg() {
        for shape in [Shape::Random, Shape::Star, Shape::Chain] {
            let net = network(20_000, shape);
            let tree = place(&net, Layout::Binary, 9, shape, &|_| {}).unwrap();
            check(&tree, net.len(), 2);
        }
    }

    #[test]
    fn matrix_slots_are_within_the_width() {
        for shape in [Shape::Random, Shape::Star, Shape::Chain] {
            let net = network(20_000, shape);
            let tree = place(&net, Layout::Matrix { width: 3 }, 9, shape, &|_| {}).unwrap();
            check(&tree, net.len(), 3);
        }
    }

    #[test]
    fn placements_lie_in_the_sponsors_subtree() {
        let net = network(5_000, Shape::Random);
        for layout in [Layout::Binary, Layout::Matrix { width: 3 }] {
            let tree = place(&net, layout, 9, Shape::Random, &|_| {}).unwrap();
            for i in 1..net.len() as u32 {
                let sponsor = net.sponsor[i as usize];
                let mut node = tree.position_of(i).unwrap().parent;
                while node != sponsor {
                    node = tree
                        .position_of(node)
                        .expect("the sponsor is an ancestor")
                        .parent;
                }
            }
        }
    }

    #[test]
    fn placement_is_deterministic() {
        let net = network(20_000, Shape::Random);
        let a = place(&net, Layout::Binary, 9, Shape::Random, &|_| {}).unwrap();
        let b = place(&net, Layout::Binary, 9, Shape::Random, &|_| {}).unwrap();
        for i in 1..net.len() as u32 {
            assert_eq!(a.position_of(i), b.position_of(i));
        }
    }

    #[test]
    fn chains_are_placed_as_chains() {
        let net = network(1_000, Shape::Chain);
        let tree = place(&net, Layout::Binary, 9, Shape::Chain, &|_| {}).unwrap();
        for i in 1..1_000u32 {
            assert_eq!(
                tree.position_of(i).unwrap(),
                engine::placement::Position {
                    parent: i - 1,
                    slot: LEFT
                }
            );
        }
    }
}
