//! A rooted tree over node indexes `0..n` as flat arrays — never recursion, since a chain of
//! ten million is legal input.
//!
//! Besides each node's parent, the tree keeps its nodes in breadth-first order (`order`, the
//! root first; a node's children are consecutive there, ascending). Passes over the tree work
//! on *positions* in that order: the children of position `p` are the positions
//! `child_positions(p)`, always after `p`, and consecutive. So a bottom-up pass is a single
//! backward sweep and a top-down pass a single forward sweep, both reading memory almost in
//! sequence — on ten million nodes that is many times faster than chasing node indexes.
//! [`Tree::gather`] and [`Tree::scatter`] move values between node and position order.

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
}

/// The nodes that no path from the root reaches: each lies on, or hangs below, a cycle.
#[derive(Debug)]
pub struct Unreachable(pub Vec<u32>);

impl Tree {
    /// Builds the tree from each node's parent (`NONE` for the root only).
    pub fn build(parent: Vec<u32>, root: u32) -> Result<Tree, Unreachable> {
        let count = parent.len();
        // Child lists by node (CSR, ascending), needed only to lay out the breadth-first order.
        let mut child_starts = vec![0u32; count + 1];
        for &up in &parent {
            if up != NONE {
                child_starts[up as usize + 1] += 1;
            }
        }
        for index in 0..count {
            child_starts[index + 1] += child_starts[index];
        }
        let mut children = vec![0u32; child_starts[count] as usize];
        {
            let mut cursor: Vec<u32> = child_starts[..count].to_vec();
            for (node, &up) in parent.iter().enumerate() {
                if up != NONE {
                    let slot = &mut cursor[up as usize];
                    children[*slot as usize] = node as u32;
                    *slot += 1;
                }
            }
        }
        let mut order = Vec::with_capacity(count);
        let mut first_child = Vec::with_capacity(count + 1);
        if count > 0 {
            order.push(root);
        }
        let mut position = 0;
        while position < order.len() {
            let node = order[position] as usize;
            first_child.push(order.len() as u32);
            order.extend_from_slice(
                &children[child_starts[node] as usize..child_starts[node + 1] as usize],
            );
            position += 1;
        }
        first_child.push(order.len() as u32);
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
        for (position, &node) in order.iter().enumerate() {
            position_of[node as usize] = position as u32;
        }
        Ok(Tree {
            parent,
            root,
            order,
            position_of,
            first_child,
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
        self.position_of
            .par_iter()
            .map(|&position| by_position[position as usize])
            .collect()
    }

    /// Fills `by_position` bottom-up: `visit(position, values)` computes the value of
    /// `position` from its children's values (all at larger positions, already computed).
    pub fn fold_up<T: Copy>(&self, by_position: &mut [T], mut visit: impl FnMut(usize, &[T]) -> T) {
        for position in (0..self.len()).rev() {
            let value = visit(position, by_position);
            by_position[position] = value;
        }
    }

    /// Fills `by_position` top-down: `visit(parent_value, child_position)` computes a child's
    /// value from its parent's; the root keeps the value it has.
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
