//! A rooted tree over node indexes `0..n` as flat arrays — never recursion, since a chain of
//! ten million is legal input.
//!
//! `order` lists the nodes breadth-first (root first), grouped by depth through
//! `level_starts`; `children` is the child list of every node (CSR, children ascending).
//! Bottom-up passes visit the levels deepest first, top-down passes root first; inside a wide
//! level nodes are visited in parallel, since each reads only nodes of other levels.

use rayon::prelude::*;
use std::marker::PhantomData;

/// "No node" in parent and child arrays.
pub const NONE: u32 = u32::MAX;

/// Levels narrower than this run on the calling thread: fanning out costs more than it saves.
const PARALLEL_LEVEL_MIN: usize = 16_384;

#[derive(Debug, Clone)]
pub struct Tree {
    pub parent: Vec<u32>,
    pub root: u32,
    pub order: Vec<u32>,
    pub level_starts: Vec<u32>,
    child_starts: Vec<u32>,
    children: Vec<u32>,
}

/// The nodes that no path from the root reaches: each lies on, or hangs below, a cycle.
#[derive(Debug)]
pub struct Unreachable(pub Vec<u32>);

impl Tree {
    /// Builds the tree from each node's parent (`NONE` for the root only).
    pub fn build(parent: Vec<u32>, root: u32) -> Result<Tree, Unreachable> {
        let count = parent.len();
        let mut child_starts = vec![0u32; count + 1];
        for &up in &parent {
            if up != NONE {
                child_starts[up as usize + 1] += 1;
            }
        }
        for index in 0..count {
            child_starts[index + 1] += child_starts[index];
        }
        let mut cursor: Vec<u32> = child_starts[..count].to_vec();
        let mut children = vec![0u32; child_starts[count] as usize];
        for (node, &up) in parent.iter().enumerate() {
            if up != NONE {
                let slot = &mut cursor[up as usize];
                children[*slot as usize] = node as u32;
                *slot += 1;
            }
        }
        drop(cursor);
        let mut order = Vec::with_capacity(count);
        let mut level_starts = vec![0u32];
        order.push(root);
        let mut level_begin = 0;
        while level_begin < order.len() {
            let level_end = order.len();
            for position in level_begin..level_end {
                let node = order[position] as usize;
                order.extend_from_slice(
                    &children[child_starts[node] as usize..child_starts[node + 1] as usize],
                );
            }
            level_starts.push(level_end as u32);
            level_begin = level_end;
        }
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
        Ok(Tree {
            parent,
            root,
            order,
            level_starts,
            child_starts,
            children,
        })
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    #[inline]
    pub fn children(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.children[self.child_starts[node] as usize..self.child_starts[node + 1] as usize]
    }

    fn level(&self, depth: usize) -> &[u32] {
        &self.order[self.level_starts[depth] as usize..self.level_starts[depth + 1] as usize]
    }

    fn depth_count(&self) -> usize {
        self.level_starts.len() - 1
    }

    /// Visits every node after all of its descendants.
    pub fn for_each_bottom_up(&self, visit: impl Fn(u32) + Sync) {
        for depth in (0..self.depth_count()).rev() {
            visit_level(self.level(depth), &visit);
        }
    }

    /// Visits every node after its parent.
    pub fn for_each_top_down(&self, visit: impl Fn(u32) + Sync) {
        for depth in 0..self.depth_count() {
            visit_level(self.level(depth), &visit);
        }
    }
}

fn visit_level(level: &[u32], visit: &(impl Fn(u32) + Sync)) {
    if level.len() < PARALLEL_LEVEL_MIN {
        level.iter().for_each(|&node| visit(node));
    } else {
        level
            .par_iter()
            .with_min_len(4096)
            .for_each(|&node| visit(node));
    }
}

/// A slice that tree passes write through from several threads at once.
///
/// Sound use: during one pass, each node's entry is written only by that node's visit, and
/// read only by visits of other levels (which the level-by-level schedule orders with a
/// rayon join, a happens-before edge) or by the node's own visit.
pub struct SharedSlice<'a, T> {
    pointer: *mut T,
    length: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

unsafe impl<T: Send> Send for SharedSlice<'_, T> {}
unsafe impl<T: Send + Sync> Sync for SharedSlice<'_, T> {}

impl<'a, T: Copy> SharedSlice<'a, T> {
    pub fn new(slice: &'a mut [T]) -> Self {
        SharedSlice {
            pointer: slice.as_mut_ptr(),
            length: slice.len(),
            _borrow: PhantomData,
        }
    }

    /// # Safety
    /// No other thread reads or writes entry `index` during this pass.
    #[inline]
    pub unsafe fn write(&self, index: u32, value: T) {
        assert!((index as usize) < self.length);
        unsafe { *self.pointer.add(index as usize) = value }
    }

    /// # Safety
    /// No other thread writes entry `index` during this pass.
    #[inline]
    pub unsafe fn read(&self, index: u32) -> T {
        assert!((index as usize) < self.length);
        unsafe { *self.pointer.add(index as usize) }
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
        let shared = SharedSlice::new(&mut size);
        tree.for_each_bottom_up(|node| unsafe {
            let below: u64 = tree
                .children(node)
                .iter()
                .map(|&child| shared.read(child))
                .sum();
            shared.write(node, below + 1);
        });
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
    fn wide_levels_run_in_parallel_and_agree() {
        let count = 100_000u32;
        let parent: Vec<u32> = (0..count)
            .map(|node| if node == 0 { NONE } else { (node - 1) / 3 })
            .collect();
        let tree = Tree::build(parent.clone(), 0).unwrap();
        let mut depth = vec![0u32; count as usize];
        let shared = SharedSlice::new(&mut depth);
        tree.for_each_top_down(|node| unsafe {
            let up = tree.parent[node as usize];
            shared.write(node, if up == NONE { 0 } else { shared.read(up) + 1 });
        });
        let star = Tree::build(
            (0..count).map(|n| if n == 0 { NONE } else { 0 }).collect(),
            0,
        )
        .unwrap();
        assert_eq!(star.children(0).len(), count as usize - 1);
        assert_eq!(depth[count as usize - 1], 11);
    }
}
