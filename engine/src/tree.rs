//! A rooted tree over node indexes `0..n` as flat arrays — never recursion, since a chain of
//! ten million is legal input.
//!
//! Besides each node's parent, the tree keeps its nodes in breadth-first order (`order`, the
//! root first; a node's children are consecutive there, ascending). Passes over the tree work
//! on *positions* in that order: the children of position `p` are the positions
//! `child_positions(p)`, always after `p`, and consecutive. So a bottom-up pass is a backward
//! sweep and a top-down pass a forward sweep, both reading memory almost in sequence — on ten
//! million nodes that is many times faster than chasing node indexes —, and each breadth-first
//! level can be swept on all cores at once ([`Tree::fold_up_by_levels`],
//! [`Tree::fold_down_by_levels`]). [`Tree::gather`] and [`Tree::scatter`] move values between
//! node and position order.

use crate::radix::{bits_to_hold, radix_sort, DisjointWrites};
use crate::short_copy::copy_short_u32s;
use rayon::prelude::*;
use std::ops::Range;

/// "No node" in parent and child arrays.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct Tree {
    pub parent: Vec<u32>,
    pub root: u32,
    /// Nodes in breadth-first order: `order[position] = node`.
    pub order: Vec<u32>,
    /// `position_of[node]`: the inverse of `order`.
    position_of: Vec<u32>,
    /// Children of position `p` are the positions `first_child[p]..first_child[p + 1]`.
    first_child: Vec<u32>,
    /// Where each breadth-first level starts, then the end: level `d` is the positions
    /// `level_starts[d]..level_starts[d + 1]`.
    level_starts: Vec<u32>,
}

/// Levels narrower than this are laid out on one thread: a deep chain has a million levels
/// of one node, and dividing each would cost more than it saves.
const PARALLEL_LEVEL: usize = 4096;

/// Each node's children, ascending, as a CSR: the children of `node` are
/// `children[starts[node]..starts[node + 1]]`. A stable radix sort of `parent, node`
/// numbers (built in node order) groups them; nodes without a parent sort last, left out.
fn children_by_parent(parent: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let count = parent.len();
    let node_bits = bits_to_hold(count);
    // Parents `0..count`, and `count` for none.
    let parent_bits = bits_to_hold(count + 1);
    let mut keys: Vec<u64> = parent
        .par_iter()
        .enumerate()
        .map(|(node, &up)| {
            let up = if up == NONE {
                count as u64
            } else {
                u64::from(up)
            };
            up << node_bits | node as u64
        })
        .collect();
    radix_sort(&mut keys, node_bits, parent_bits);
    let with_parent = keys.partition_point(|&key| (key >> node_bits) < count as u64);
    let parent_at = |index: usize| (keys[index] >> node_bits) as usize;
    // `starts[p]` is where the children of `p` begin among the sorted keys: the first key
    // whose parent is `p` or later. Each key that starts a new parent fills the starts of
    // the parents from the previous key's parent up to its own, so the writes are disjoint.
    let mut starts = vec![0u32; count + 1];
    let shared = DisjointWrites(starts.as_mut_ptr());
    (0..with_parent + 1)
        .into_par_iter()
        .with_min_len(1 << 14)
        .for_each(|index| {
            let shared = &shared;
            let previous = if index == 0 {
                0
            } else {
                parent_at(index - 1) + 1
            };
            let next = if index == with_parent {
                count + 1
            } else {
                parent_at(index) + 1
            };
            for parent in previous..next {
                // SAFETY: the ranges `previous..next` of successive keys tile `0..=count`.
                unsafe { shared.0.add(parent).write(index as u32) };
            }
        });
    let node_mask = (1u64 << node_bits) - 1;
    let children = keys[..with_parent]
        .par_iter()
        .map(|&key| (key & node_mask) as u32)
        .collect();
    (starts, children)
}

/// The nodes that no path from the root reaches: each lies on, or hangs below, a cycle.
#[derive(Debug)]
pub struct Unreachable(pub Vec<u32>);

impl Tree {
    /// Builds the tree from each node's parent (`NONE` for the root only).
    ///
    /// Every step runs on both cores except the walk of small levels: children are grouped
    /// by a radix sort of `parent, node` pairs, and each wide level of the breadth-first
    /// order is laid out at once (sizes, offsets, copies). On a million nodes the plain
    /// sequential build, one cache miss after another, took a quarter of reading the file.
    pub fn build(parent: Vec<u32>, root: u32) -> Result<Tree, Unreachable> {
        let count = parent.len();
        let (child_starts, children) = children_by_parent(&parent);
        let mut order: Vec<u32> = Vec::with_capacity(count);
        let mut first_child: Vec<u32> = Vec::with_capacity(count + 1);
        if count > 0 {
            order.push(root);
        }
        let children_of = |node: u32| {
            &children
                [child_starts[node as usize] as usize..child_starts[node as usize + 1] as usize]
        };
        let mut level_starts: Vec<u32> = Vec::new();
        let mut level = 0..order.len();
        while !level.is_empty() {
            level_starts.push(level.start as u32);
            let next_start = order.len();
            if level.len() < PARALLEL_LEVEL {
                for position in level.clone() {
                    first_child.push(order.len() as u32);
                    order.extend_from_slice(children_of(order[position]));
                }
            } else {
                let sizes: Vec<u32> = order[level.clone()]
                    .par_iter()
                    .map(|&node| children_of(node).len() as u32)
                    .collect();
                let mut total = next_start;
                for size in sizes {
                    first_child.push(total as u32);
                    total += size as usize;
                }
                // Each node has one parent, so the walk reaches it at most once: `total`
                // never exceeds `count`.
                order.resize(total, 0);
                let (placed, fresh) = order.split_at_mut(next_start);
                let fresh = DisjointWrites(fresh.as_mut_ptr());
                let offsets = &first_child[level.clone()];
                placed[level.clone()]
                    .par_iter()
                    .zip(offsets.par_iter())
                    .with_min_len(1024)
                    .for_each(|(&node, &offset)| {
                        let fresh = &fresh;
                        let list = children_of(node);
                        // SAFETY: the ranges `offset..offset + len` of the level's nodes are
                        // disjoint and lie inside the part of `order` resized above.
                        unsafe {
                            copy_short_u32s(list, fresh.0.add(offset as usize - next_start));
                        }
                    });
            }
            level = next_start..order.len();
        }
        first_child.push(order.len() as u32);
        level_starts.push(order.len() as u32);
        if order.len() < count {
            let mut reached = vec![false; count];
            for &node in &order {
                reached[node as usize] = true;
            }
            let unreached = (0..count as u32)
                .filter(|&node| !reached[node as usize])
                .collect();
            return Err(Unreachable(unreached));
        }
        drop(children);
        drop(child_starts);
        let mut position_of = vec![0u32; count];
        let shared = DisjointWrites(position_of.as_mut_ptr());
        order
            .par_iter()
            .enumerate()
            .with_min_len(4096)
            .for_each(|(position, &node)| {
                let shared = &shared;
                // SAFETY: `order` is a permutation of `0..count` (every node reached once),
                // so each element of `position_of` is written by one position only.
                unsafe { shared.0.add(node as usize).write(position as u32) };
            });
        Ok(Tree {
            parent,
            root,
            order,
            position_of,
            first_child,
            level_starts,
        })
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Positions of the children of position `position`.
    #[inline]
    pub fn child_positions(&self, position: usize) -> Range<usize> {
        self.first_child[position] as usize..self.first_child[position + 1] as usize
    }

    /// The children of `node`, ascending.
    #[inline]
    pub fn children(&self, node: u32) -> &[u32] {
        &self.order[self.child_positions(self.position_of[node as usize] as usize)]
    }

    #[inline]
    pub fn position_of(&self, node: u32) -> usize {
        self.position_of[node as usize] as usize
    }

    /// `values` (by node) rearranged by position.
    pub fn gather<T: Copy + Send + Sync>(&self, by_node: &[T]) -> Vec<T> {
        self.order
            .par_iter()
            .map(|&node| by_node[node as usize])
            .collect()
    }

    /// `values` (by position) rearranged by node.
    pub fn scatter<T: Copy + Send + Sync>(&self, by_position: &[T]) -> Vec<T> {
        self.scatter_map(by_position, |&value| value)
    }

    /// `convert(value)` of each value (by position), rearranged by node. Values are read in
    /// sequence and written to their nodes: scattered writes do not hold the core up as
    /// scattered reads do, each waiting for its cache line.
    pub fn scatter_map<T: Sync, U: Send>(
        &self,
        by_position: &[T],
        convert: impl Fn(&T) -> U + Sync,
    ) -> Vec<U> {
        let count = self.len();
        assert_eq!(by_position.len(), count, "a value per position");
        let mut by_node: Vec<U> = Vec::with_capacity(count);
        let out = DisjointWrites(by_node.as_mut_ptr());
        self.order
            .par_iter()
            .zip(by_position.par_iter())
            .with_min_len(4096)
            .for_each(|(&node, value)| {
                let out = &out;
                // SAFETY: `order` is a permutation of `0..count`, so each node's slot is
                // written once, inside the capacity.
                unsafe { out.0.add(node as usize).write(convert(value)) };
            });
        // SAFETY: every slot `0..count` was written above.
        unsafe { by_node.set_len(count) };
        by_node
    }

    /// Fills `by_position` bottom-up: `visit(position, values)` computes the value of
    /// `position` from its children's values (all at larger positions, already computed).
    /// The plain backward sweep: the runs use [`Tree::fold_up_by_levels`]; the tests check it
    /// against this.
    #[cfg(test)]
    pub fn fold_up<T: Copy>(&self, by_position: &mut [T], mut visit: impl FnMut(usize, &[T]) -> T) {
        for position in (0..self.len()).rev() {
            let value = visit(position, by_position);
            by_position[position] = value;
        }
    }

    /// [`Tree::fold_up`] level by level from the deepest, each wide level on both cores:
    /// `visit(position, children_values)` computes the value of `position` from the values of
    /// its children (consecutive positions in the level below, all computed already).
    pub fn fold_up_by_levels<T: Copy + Send + Sync>(
        &self,
        by_position: &mut [T],
        visit: impl Fn(usize, &[T]) -> T + Sync,
    ) {
        for bounds in self.level_starts.windows(2).rev() {
            let (start, end) = (bounds[0] as usize, bounds[1] as usize);
            let (upper, below) = by_position.split_at_mut(end);
            let below: &[T] = below;
            let value_of = |position: usize| {
                // A level's children all lie in the next level, which starts at `end`.
                let children = self.first_child[position] as usize - end
                    ..self.first_child[position + 1] as usize - end;
                visit(position, &below[children])
            };
            let level = &mut upper[start..];
            if level.len() < PARALLEL_LEVEL {
                for (offset, value) in level.iter_mut().enumerate() {
                    *value = value_of(start + offset);
                }
            } else {
                level
                    .par_iter_mut()
                    .enumerate()
                    .with_min_len(1024)
                    .for_each(|(offset, value)| *value = value_of(start + offset));
            }
        }
    }

    /// Fills `by_position` top-down, level by level, each wide level on both cores: every
    /// child of position `p` gets `for_children(p, by_position[p])`; the root keeps its value.
    pub fn fold_down_by_levels<T: Copy + Send + Sync>(
        &self,
        by_position: &mut [T],
        for_children: impl Fn(usize, T) -> T + Sync,
    ) {
        for bounds in self.level_starts.windows(2) {
            let (start, end) = (bounds[0] as usize, bounds[1] as usize);
            let (upper, below) = by_position.split_at_mut(end);
            let level: &[T] = &upper[start..];
            // A level's children all lie in the next level, which starts at `end`; each
            // parent's children are its own consecutive range.
            let hand_down = |offset: usize, below: &DisjointWrites<T>| {
                let position = start + offset;
                let value = for_children(position, level[offset]);
                for child in self.child_positions(position) {
                    // SAFETY: the children ranges of a level's positions are disjoint and lie
                    // inside `below`.
                    unsafe { below.0.add(child - end).write(value) };
                }
            };
            let below = DisjointWrites(below.as_mut_ptr());
            if level.len() < PARALLEL_LEVEL {
                for offset in 0..level.len() {
                    hand_down(offset, &below);
                }
            } else {
                (0..level.len())
                    .into_par_iter()
                    .with_min_len(1024)
                    .for_each(|offset| hand_down(offset, &below));
            }
        }
    }

    /// Fills `by_position` top-down: `visit(parent_value, child_position)` computes a child's
    /// value from its parent's; the root keeps the value it has. The plain forward sweep, for
    /// the tests; the runs use [`Tree::fold_down_by_levels`].
    #[cfg(test)]
    pub fn fold_down<T: Copy>(&self, by_position: &mut [T], mut visit: impl FnMut(T, usize) -> T) {
        for position in 0..self.len() {
            let parent_value = by_position[position];
            for child in self.child_positions(position) {
                by_position[child] = visit(parent_value, child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bushy top (levels wider than `PARALLEL_LEVEL`, so laid out and swept on both cores)
    /// over a long tail of narrow levels.
    fn bushy_top_long_tail() -> Tree {
        let parent: Vec<u32> = (0..60_000u32)
            .map(|node| match node {
                0 => NONE,
                1..=50_000 => (node - 1) / 8,
                _ => node - 1,
            })
            .collect();
        Tree::build(parent, 0).unwrap()
    }

    #[test]
    fn folding_by_levels_matches_the_sequential_fold() {
        let tree = bushy_top_long_tail();
        let count = tree.len() as u32;
        let mut sequential = vec![(0u64, 0u64); count as usize];
        tree.fold_up(&mut sequential, |position, values| {
            let children = tree.child_positions(position);
            let size = 1 + children.clone().map(|child| values[child].0).sum::<u64>();
            let weight = position as u64
                + children
                    .map(|child| values[child].1 * 3 % 1_000_003)
                    .sum::<u64>();
            (size, weight)
        });
        let mut by_levels = vec![(0u64, 0u64); count as usize];
        tree.fold_up_by_levels(&mut by_levels, |position, children| {
            let size = 1 + children.iter().map(|child| child.0).sum::<u64>();
            let weight = position as u64
                + children
                    .iter()
                    .map(|child| child.1 * 3 % 1_000_003)
                    .sum::<u64>();
            (size, weight)
        });
        assert_eq!(by_levels, sequential);
        assert_eq!(by_levels[0].0, u64::from(count));
    }

    #[test]
    fn handing_down_by_levels_matches_a_forward_sweep() {
        let tree = bushy_top_long_tail();
        let count = tree.len() as u32;
        let for_children =
            |position: usize, value: u64| value * 31 % 1_000_003 + 1 + position as u64 % 7;
        let mut expected = vec![5u64; count as usize];
        for position in 0..tree.len() {
            for child in tree.child_positions(position) {
                expected[child] = for_children(position, expected[position]);
            }
        }
        let mut by_levels = vec![5u64; count as usize];
        tree.fold_down_by_levels(&mut by_levels, for_children);
        assert_eq!(by_levels, expected);
    }

    #[test]
    fn subtree_sizes_bottom_up_on_a_deep_chain() {
        let count = 1_000_000u32;
        let parent: Vec<u32> = (0..count)
            .map(|node| if node == 0 { NONE } else { node - 1 })
            .collect();
        let tree = Tree::build(parent, 0).unwrap();
        let mut size = vec![0u64; count as usize];
        tree.fold_up(&mut size, |position, size| {
            1 + tree
                .child_positions(position)
                .map(|child| size[child])
                .sum::<u64>()
        });
        let size = tree.scatter(&size);
        assert_eq!(size[0], u64::from(count));
        assert_eq!(size[count as usize - 1], 1);
    }

    #[test]
    fn wide_levels_are_laid_out_like_a_plain_breadth_first_walk() {
        // Parents in random order (node 7 is the root), with levels far wider than the
        // parallel threshold.
        let count = 60_000u32;
        let rank = |node: u32| (node + count - 7) % count;
        let node_of = |rank: u32| (rank + 7) % count;
        let mut state = 12345u64;
        let parent: Vec<u32> = (0..count)
            .map(|node| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match rank(node) {
                    0 => NONE,
                    r => node_of((state >> 33) as u32 % r),
                }
            })
            .collect();
        let tree = Tree::build(parent.clone(), 7).unwrap();
        let mut children = vec![Vec::new(); count as usize];
        for node in 0..count {
            if parent[node as usize] != NONE {
                children[parent[node as usize] as usize].push(node);
            }
        }
        let mut expected = vec![7u32];
        let mut at = 0;
        while at < expected.len() {
            let node = expected[at] as usize;
            expected.extend_from_slice(&children[node]);
            at += 1;
        }
        assert_eq!(tree.order, expected);
        for node in 0..count {
            assert_eq!(tree.order[tree.position_of(node)], node);
            assert_eq!(tree.children(node), &children[node as usize][..]);
        }
    }

    #[test]
    fn cycles_leave_nodes_unreached() {
        // 0 is the root; 1 → 2 → 1 is a cycle; 3 hangs below it.
        let parent = vec![NONE, 2, 1, 1];
        let Unreachable(nodes) = Tree::build(parent, 0).unwrap_err();
        assert_eq!(nodes, vec![1, 2, 3]);
    }

    #[test]
    fn positions_group_children_and_depths_come_top_down() {
        let count = 100_000u32;
        let parent: Vec<u32> = (0..count)
            .map(|node| if node == 0 { NONE } else { (node - 1) / 3 })
            .collect();
        let tree = Tree::build(parent.clone(), 0).unwrap();
        for node in 1..count {
            assert!(tree.children(parent[node as usize]).contains(&node));
        }
        let mut depth = vec![0u32; count as usize];
        tree.fold_down(&mut depth, |parent_depth, _| parent_depth + 1);
        let depth = tree.scatter(&depth);
        assert_eq!(depth[count as usize - 1], 11);
        let star = Tree::build(
            (0..count).map(|n| if n == 0 { NONE } else { 0 }).collect(),
            0,
        )
        .unwrap();
        assert_eq!(star.children(0).len(), count as usize - 1);
        assert_eq!(star.gather(&(0..count).collect::<Vec<_>>()), star.order);
    }
}
