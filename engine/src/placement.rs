//! Placement rules of COMP_PLAN_SPEC.md §6: where a new distributor lands in the placement tree
//! when the sponsor gives no explicit position.
//!
//! [`PlacementTree`] is a compact in-memory placement tree of a fixed `width` (2 for a binary
//! plan, the matrix width otherwise). Nodes are `u32` indexes handed out in insertion order; the
//! children of node `n` are the `width` slots `children[n * width ..][..width]`, [`EMPTY`] where
//! free. The tree only ever grows, which is what makes the caches below sound:
//!
//! - **Outer edges** (binary). Once a node is on the left edge of `s` it stays there, and the
//!   left edge of every node on it is a suffix of it. So the tree remembers, per node and side,
//!   a deeper node of its edge (the end found by the last walk through it) and compresses the
//!   path of every walk, as a union-find does: repeated `outer_left` calls from a sponsor, or
//!   from the many sponsors along one long edge, cost O(log n) amortized instead of O(depth).
//! - **Spillover** (matrix). A node whose slots are all taken stays full, so a breadth-first scan
//!   of `s`'s subtree never needs to revisit a node it passed. The tree keeps, per sponsor that
//!   ever filled up, the rest of its breadth-first queue, and expands a node (appends its
//!   children) only once the node is full — at that point its children are final, so the queue
//!   is exactly the breadth-first order of the current tree from the cursor onwards.
//! - **Lifetime PV** (binary `weak_leg`). Every node holds the PV sum of its subtree;
//!   [`PlacementTree::add_pv`] walks up the parents iteratively, O(depth).
//!
//! Everything here is pure: no IO, no clock, no recursion (a chain a million deep is legal), and
//! the results depend only on the sequence of calls.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// The marker of a free slot (and of "no parent" for a root).
pub const EMPTY: u32 = u32::MAX;

/// Binary slot of the left leg.
pub const LEFT: u8 = 1;
/// Binary slot of the right leg.
pub const RIGHT: u8 = 2;

/// A free position in the tree: the `slot` (1-based: binary 1 = L, 2 = R; matrix `1..=width`)
/// under `parent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub parent: u32,
    pub slot: u8,
}

/// A broken placement rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("a placement tree needs a width of at least 1")]
    WidthMustBePositive,
    #[error("node {node} does not exist (the tree has {len} nodes)")]
    NodeMustExist { node: u32, len: u32 },
    #[error("slot {slot} is outside 1..={width}")]
    SlotMustBeInRange { slot: u8, width: u8 },
    #[error("slot {slot} under node {parent} is already taken")]
    SlotMustBeFree { parent: u32, slot: u8 },
    #[error("this rule needs a binary tree (width 2), this tree has width {width}")]
    TreeMustBeBinary { width: u8 },
    #[error("the tree is full: a placement tree holds at most {max} nodes", max = u32::MAX - 1)]
    TreeMustHaveRoom,
}

/// A binary or matrix placement tree (a forest, strictly: [`PlacementTree::add_root`] may be
/// called more than once; the genealogy has exactly one root, but that is the caller's rule).
#[derive(Clone, Debug)]
pub struct PlacementTree {
    width: u8,
    /// `children[n * width + slot - 1]`: the node in that slot, or [`EMPTY`].
    children: Vec<u32>,
    /// `parent[n]`, [`EMPTY`] for a root.
    parent: Vec<u32>,
    /// `slot[n]`: the slot `n` occupies under its parent (0 for a root).
    slot: Vec<u8>,
    /// Lifetime PV of each node's subtree (the node included), in 1/10,000.
    subtree_pv: Vec<i64>,
    /// Binary only: `edge_hint[side][n]`, a node deeper on `n`'s edge of that side, or `n`
    /// itself, or [`EMPTY`] when none is known (follow the child).
    edge_hint: [Vec<u32>; 2],
    /// Spillover queues of the sponsors that filled up: the breadth-first order of the rest of
    /// the sponsor's subtree; the front is the first node that may still have a free slot.
    spill: FxHashMap<u32, VecDeque<u32>>,
}

impl PlacementTree {
    /// An empty binary tree (width 2; slot 1 = L, 2 = R).
    pub fn binary() -> Self {
        Self::with_width(2)
    }

    /// An empty matrix tree of `width` slots per node.
    pub fn matrix(width: u8) -> Result<Self, PlacementError> {
        if width == 0 {
            return Err(PlacementError::WidthMustBePositive);
        }
        Ok(Self::with_width(width))
    }

    fn with_width(width: u8) -> Self {
        PlacementTree {
            width,
            children: Vec::new(),
            parent: Vec::new(),
            slot: Vec::new(),
            subtree_pv: Vec::new(),
            edge_hint: [Vec::new(), Vec::new()],
            spill: FxHashMap::default(),
        }
    }

    /// Reserves room for `additional` more nodes.
    pub fn reserve(&mut self, additional: usize) {
        self.children.reserve(additional * self.width as usize);
        self.parent.reserve(additional);
        self.slot.reserve(additional);
        self.subtree_pv.reserve(additional);
        if self.width == 2 {
            self.edge_hint[0].reserve(additional);
            self.edge_hint[1].reserve(additional);
        }
    }

    pub fn width(&self) -> u8 {
        self.width
    }

    /// The number of nodes.
    pub fn len(&self) -> u32 {
        self.parent.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The node in `slot` under `node`, or `None` when the slot is free.
    /// Panics when `node` does not exist or `slot` is outside `1..=width`.
    pub fn child(&self, node: u32, slot: u8) -> Option<u32> {
        assert!(
            (1..=self.width).contains(&slot),
            "slot {slot} outside 1..={}",
            self.width
        );
        let c = self.children[self.slot_index(node, slot)];
        (c != EMPTY).then_some(c)
    }

    /// The parent of `node` and the slot it occupies, `None` for a root.
    pub fn position_of(&self, node: u32) -> Option<Position> {
        let parent = self.parent[node as usize];
        (parent != EMPTY).then(|| Position {
            parent,
            slot: self.slot[node as usize],
        })
    }

    /// Lifetime PV of `node`'s subtree, `node` included (1/10,000 units).
    pub fn subtree_pv(&self, node: u32) -> i64 {
        self.subtree_pv[node as usize]
    }

    /// Lifetime PV of the subtree in `slot` under `node` (0 when the slot is free).
    pub fn leg_pv(&self, node: u32, slot: u8) -> i64 {
        self.child(node, slot).map_or(0, |c| self.subtree_pv(c))
    }

    /// Adds a node without a parent and returns its id.
    pub fn add_root(&mut self) -> Result<u32, PlacementError> {
        self.push_node(EMPTY, 0)
    }

    /// Adds a node at an explicit position and returns its id.
    pub fn place_at(&mut self, parent: u32, slot: u8) -> Result<u32, PlacementError> {
        self.check_node(parent)?;
        if !(1..=self.width).contains(&slot) {
            return Err(PlacementError::SlotMustBeInRange {
                slot,
                width: self.width,
            });
        }
        if self.children[self.slot_index(parent, slot)] != EMPTY {
            return Err(PlacementError::SlotMustBeFree { parent, slot });
        }
        self.push_node(parent, slot)
    }

    /// Adds a node at `position` (as returned by one of the rules) and returns its id.
    pub fn place(&mut self, position: Position) -> Result<u32, PlacementError> {
        self.place_at(position.parent, position.slot)
    }

    /// Binary: the first free slot walking down `sponsor`'s left edge.
    pub fn outer_left(&mut self, sponsor: u32) -> Result<Position, PlacementError> {
        self.outer_edge(sponsor, LEFT)
    }

    /// Binary: the first free slot walking down `sponsor`'s right edge.
    pub fn outer_right(&mut self, sponsor: u32) -> Result<Position, PlacementError> {
        self.outer_edge(sponsor, RIGHT)
    }

    /// Binary: the first free slot walking down `sponsor`'s edge on `side` ([`LEFT`] or
    /// [`RIGHT`]). Amortized O(log n).
    pub fn outer_edge(&mut self, sponsor: u32, side: u8) -> Result<Position, PlacementError> {
        self.check_binary()?;
        self.check_node(sponsor)?;
        if side != LEFT && side != RIGHT {
            return Err(PlacementError::SlotMustBeInRange {
                slot: side,
                width: 2,
            });
        }
        let column = (side - 1) as usize;
        let children = &self.children;
        let hints = &mut self.edge_hint[column];
        // One step down the edge: the hint when there is one, else the child on `side`.
        let step = |hints: &[u32], node: u32| match hints[node as usize] {
            hint if hint == EMPTY || hint == node => children[node as usize * 2 + column],
            hint => hint,
        };
        let mut end = sponsor;
        loop {
            let next = step(hints, end);
            if next == EMPTY {
                break;
            }
            end = next;
        }
        // Path compression: every node passed now points straight at the end of the edge, so a
        // walk from any of them (nodes on a long edge sponsor too) starts there next time.
        let mut node = sponsor;
        while node != end {
            let next = step(hints, node);
            hints[node as usize] = end;
            node = next;
        }
        Ok(Position {
            parent: end,
            slot: side,
        })
    }

    /// Binary `weak_leg`: `sponsor`'s leg with the lower lifetime PV (ties: left), then the
    /// first free slot down that leg's outer edge.
    pub fn weak_leg(&mut self, sponsor: u32) -> Result<Position, PlacementError> {
        self.check_binary()?;
        self.check_node(sponsor)?;
        let side = weak_side(self.leg_pv(sponsor, LEFT), self.leg_pv(sponsor, RIGHT));
        self.outer_edge(sponsor, side)
    }

    /// Matrix forced spillover: the first free slot of `sponsor`'s subtree in breadth-first
    /// order, slots 1..=width left to right, nearest level first. Amortized O(width) per call.
    pub fn spillover(&mut self, sponsor: u32) -> Result<Position, PlacementError> {
        self.check_node(sponsor)?;
        let width = self.width as usize;
        if let Some(slot) = first_free_slot(&self.children, sponsor, width) {
            return Ok(Position {
                parent: sponsor,
                slot,
            });
        }
        let children = &self.children;
        let queue = self
            .spill
            .entry(sponsor)
            .or_insert_with(|| VecDeque::from([sponsor]));
        // Every node popped is full and has exactly `width` children, so the loop ends at the
        // latest when it reaches the leaves (which have free slots).
        loop {
            let front = *queue
                .front()
                .expect("a spillover queue holds the subtree frontier");
            if let Some(slot) = first_free_slot(children, front, width) {
                return Ok(Position {
                    parent: front,
                    slot,
                });
            }
            queue.pop_front();
            let start = front as usize * width;
            queue.extend(children[start..start + width].iter().copied());
        }
    }

    /// Adds `pv` (1/10,000 units, may be negative) to `node`'s lifetime PV: the subtree sums of
    /// `node` and all its ancestors. O(depth), iterative.
    pub fn add_pv(&mut self, node: u32, pv: i64) -> Result<(), PlacementError> {
        self.check_node(node)?;
        let mut n = node;
        while n != EMPTY {
            self.subtree_pv[n as usize] += pv;
            n = self.parent[n as usize];
        }
        Ok(())
    }

    fn push_node(&mut self, parent: u32, slot: u8) -> Result<u32, PlacementError> {
        let id = self.parent.len();
        if id >= (u32::MAX - 1) as usize {
            return Err(PlacementError::TreeMustHaveRoom);
        }
        let id = id as u32;
        if parent != EMPTY {
            let index = self.slot_index(parent, slot);
            self.children[index] = id;
        }
        self.children
            .extend(std::iter::repeat_n(EMPTY, self.width as usize));
        self.parent.push(parent);
        self.slot.push(slot);
        self.subtree_pv.push(0);
        if self.width == 2 {
            self.edge_hint[0].push(EMPTY);
            self.edge_hint[1].push(EMPTY);
        }
        Ok(id)
    }

    fn slot_index(&self, node: u32, slot: u8) -> usize {
        node as usize * self.width as usize + (slot - 1) as usize
    }

    fn check_node(&self, node: u32) -> Result<(), PlacementError> {
        if (node as usize) < self.parent.len() {
            Ok(())
        } else {
            Err(PlacementError::NodeMustExist {
                node,
                len: self.len(),
            })
        }
    }

    fn check_binary(&self) -> Result<(), PlacementError> {
        if self.width == 2 {
            Ok(())
        } else {
            Err(PlacementError::TreeMustBeBinary { width: self.width })
        }
    }
}

/// The weak side of a binary sponsor given the lifetime PV of its two legs: the lower one,
/// ties to the left.
pub fn weak_side(left_pv: i64, right_pv: i64) -> u8 {
    if right_pv < left_pv {
        RIGHT
    } else {
        LEFT
    }
}

fn first_free_slot(children: &[u32], node: u32, width: usize) -> Option<u8> {
    let start = node as usize * width;
    children[start..start + width]
        .iter()
        .position(|&c| c == EMPTY)
        .map(|i| (i + 1) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(parent: u32, slot: u8) -> Position {
        Position { parent, slot }
    }

    #[test]
    fn explicit_positions_are_checked() {
        let mut t = PlacementTree::binary();
        assert_eq!(
            t.place_at(0, 1),
            Err(PlacementError::NodeMustExist { node: 0, len: 0 })
        );
        let root = t.add_root().unwrap();
        assert_eq!(root, 0);
        assert_eq!(
            t.place_at(root, 0),
            Err(PlacementError::SlotMustBeInRange { slot: 0, width: 2 })
        );
        assert_eq!(
            t.place_at(root, 3),
            Err(PlacementError::SlotMustBeInRange { slot: 3, width: 2 })
        );
        assert_eq!(t.place_at(root, 2), Ok(1));
        assert_eq!(
            t.place_at(root, 2),
            Err(PlacementError::SlotMustBeFree { parent: 0, slot: 2 })
        );
        assert_eq!(t.child(root, 2), Some(1));
        assert_eq!(t.child(root, 1), None);
        assert_eq!(t.position_of(1), Some(pos(0, 2)));
        assert_eq!(t.position_of(0), None);
        assert_eq!(
            PlacementTree::matrix(0).unwrap_err(),
            PlacementError::WidthMustBePositive
        );
    }

    #[test]
    fn binary_rules_need_a_binary_tree() {
        let mut t = PlacementTree::matrix(3).unwrap();
        let root = t.add_root().unwrap();
        assert_eq!(
            t.outer_left(root),
            Err(PlacementError::TreeMustBeBinary { width: 3 })
        );
        assert_eq!(
            t.weak_leg(root),
            Err(PlacementError::TreeMustBeBinary { width: 3 })
        );
        // Spillover is defined for any width, binary included.
        let mut b = PlacementTree::binary();
        let root = b.add_root().unwrap();
        assert_eq!(b.spillover(root), Ok(pos(root, 1)));
    }

    #[test]
    fn outer_left_and_right_walk_the_edges() {
        let mut t = PlacementTree::binary();
        let root = t.add_root().unwrap();
        assert_eq!(t.outer_left(root), Ok(pos(root, LEFT)));
        assert_eq!(t.outer_right(root), Ok(pos(root, RIGHT)));
        let a = t.place(t.clone().outer_left(root).unwrap()).unwrap();
        let b = t.place(t.clone().outer_left(root).unwrap()).unwrap();
        // b sits under a on the left; a's right slot stays free and is not on the left edge.
        assert_eq!(t.position_of(b), Some(pos(a, LEFT)));
        assert_eq!(t.outer_left(root), Ok(pos(b, LEFT)));
        assert_eq!(t.outer_right(root), Ok(pos(root, RIGHT)));
        assert_eq!(t.outer_right(a), Ok(pos(a, RIGHT)));
        // A node placed elsewhere by someone else extends the edge too.
        let c = t.place_at(b, LEFT).unwrap();
        assert_eq!(t.outer_left(root), Ok(pos(c, LEFT)));
        assert_eq!(t.outer_left(a), Ok(pos(c, LEFT)));
    }

    #[test]
    fn outer_edge_repeated_from_one_sponsor_builds_a_chain() {
        let mut t = PlacementTree::binary();
        let root = t.add_root().unwrap();
        let mut last = root;
        for _ in 0..1000 {
            let p = t.outer_right(root).unwrap();
            assert_eq!(p, pos(last, RIGHT));
            last = t.place(p).unwrap();
        }
    }

    #[test]
    fn every_node_of_a_long_edge_placing_on_its_own_edge_is_fast() {
        // A hub's left edge, a million long, then every node on it enrolls one recruit down its
        // own left edge — the same edge. Without path compression this is quadratic.
        const LEN: u32 = 1_000_000;
        let mut t = PlacementTree::binary();
        let root = t.add_root().unwrap();
        for _ in 0..LEN {
            let p = t.outer_left(root).unwrap();
            t.place(p).unwrap();
        }
        for sponsor in 1..=LEN {
            let p = t.outer_left(sponsor).unwrap();
            assert_eq!(p.parent, t.len() - 1);
            t.place(p).unwrap();
        }
    }

    #[test]
    fn weak_leg_takes_the_lower_leg_ties_left() {
        let mut t = PlacementTree::binary();
        let root = t.add_root().unwrap();
        // Both legs empty: a tie, left.
        assert_eq!(t.weak_leg(root), Ok(pos(root, LEFT)));
        let l = t.place_at(root, LEFT).unwrap();
        // Left leg has a node but no PV: still 0 against 0, a tie, left: under l.
        assert_eq!(t.weak_leg(root), Ok(pos(l, LEFT)));
        t.add_pv(l, 1_000_000).unwrap();
        assert_eq!(t.weak_leg(root), Ok(pos(root, RIGHT)));
        let r = t.place_at(root, RIGHT).unwrap();
        t.add_pv(r, 1_000_000).unwrap();
        // Equal again: left, down the outer left edge.
        assert_eq!(t.weak_leg(root), Ok(pos(l, LEFT)));
        let rr = t.place_at(r, RIGHT).unwrap();
        t.add_pv(rr, 1).unwrap();
        assert_eq!(t.leg_pv(root, RIGHT), 1_000_001);
        assert_eq!(t.weak_leg(root), Ok(pos(l, LEFT)));
        t.add_pv(l, 2).unwrap();
        // Right is weaker now; its outer (right) edge ends under rr.
        assert_eq!(t.weak_leg(root), Ok(pos(rr, RIGHT)));
        // The sponsor's own PV is in neither leg.
        t.add_pv(root, 5_000_000).unwrap();
        assert_eq!(t.subtree_pv(root), 7_000_003);
        assert_eq!(t.weak_leg(root), Ok(pos(rr, RIGHT)));
        // Refunds lower a leg.
        t.add_pv(rr, -10).unwrap();
        assert_eq!(t.leg_pv(root, RIGHT), 999_991);
    }

    #[test]
    fn spillover_fills_breadth_first_left_to_right() {
        let mut t = PlacementTree::matrix(3).unwrap();
        let root = t.add_root().unwrap();
        let mut placed = Vec::new();
        for _ in 0..13 {
            let p = t.spillover(root).unwrap();
            placed.push(p);
            t.place(p).unwrap();
        }
        let expected: Vec<Position> = [(0, 1), (0, 2), (0, 3)]
            .into_iter()
            .chain((1..=4).flat_map(|parent| (1..=3).map(move |slot| (parent, slot))))
            .take(13)
            .map(|(p, s)| pos(p, s))
            .collect();
        assert_eq!(placed, expected);
    }

    #[test]
    fn spillover_takes_the_lowest_free_slot_and_sees_other_placements() {
        let mut t = PlacementTree::matrix(3).unwrap();
        let root = t.add_root().unwrap();
        let a = t.place_at(root, 2).unwrap();
        assert_eq!(t.spillover(root), Ok(pos(root, 1)));
        let first = t.place_at(root, 1).unwrap();
        t.place_at(root, 3).unwrap();
        // Level 1 is full; the first free slot of level 2 is under the child in slot 1.
        assert_eq!(t.spillover(root), Ok(pos(first, 1)));
        // Someone fills that child directly: the next free slot is under a (slot 2 of root).
        for s in 1..=3 {
            t.place_at(first, s).unwrap();
        }
        assert_eq!(t.spillover(root), Ok(pos(a, 1)));
        // A sponsor inside the subtree spills within its own subtree only.
        let grandchild = t.child(first, 1).unwrap();
        assert_eq!(t.spillover(first), Ok(pos(grandchild, 1)));
    }

    #[test]
    fn spillover_from_the_root_of_a_star_is_fast() {
        let mut t = PlacementTree::matrix(3).unwrap();
        let root = t.add_root().unwrap();
        for _ in 0..300_000 {
            let p = t.spillover(root).unwrap();
            t.place(p).unwrap();
        }
        // A full ternary tree of 1 + 3 + ... + 3^k nodes: level by level.
        assert_eq!(t.len(), 300_001);
    }

    #[test]
    fn a_million_deep_chain_does_not_overflow_the_stack() {
        const DEPTH: u32 = 1_000_000;
        let mut t = PlacementTree::binary();
        let root = t.add_root().unwrap();
        let mut last = root;
        for _ in 0..DEPTH {
            last = t.place_at(last, LEFT).unwrap();
        }
        assert_eq!(t.outer_left(root), Ok(pos(last, LEFT)));
        assert_eq!(t.outer_right(root), Ok(pos(root, RIGHT)));
        t.add_pv(last, 10_000).unwrap();
        assert_eq!(t.subtree_pv(root), 10_000);
        assert_eq!(t.weak_leg(root), Ok(pos(root, RIGHT)));

        let mut m = PlacementTree::matrix(1).unwrap();
        let root = m.add_root().unwrap();
        let mut last = root;
        for _ in 0..DEPTH {
            last = m.place_at(last, 1).unwrap();
        }
        assert_eq!(m.spillover(root), Ok(pos(last, 1)));
        assert_eq!(m.spillover(root), Ok(pos(last, 1)));
        drop(m);
        drop(t);
    }

    /// The reference model: the first free slot of `sponsor`'s subtree by a plain breadth-first
    /// scan of the whole subtree.
    fn spillover_model(t: &PlacementTree, sponsor: u32) -> Position {
        let mut queue = VecDeque::from([sponsor]);
        while let Some(n) = queue.pop_front() {
            for slot in 1..=t.width() {
                match t.child(n, slot) {
                    None => return pos(n, slot),
                    Some(c) => queue.push_back(c),
                }
            }
        }
        unreachable!("a finite tree always has a free slot")
    }

    fn depth(t: &PlacementTree, mut n: u32) -> u32 {
        let mut d = 0;
        while let Some(p) = t.position_of(n) {
            n = p.parent;
            d += 1;
        }
        d
    }

    proptest! {
        /// Random interleavings of spillover (from random sponsors) and explicit placements:
        /// spillover always agrees with the breadth-first model, and a tree grown only by
        /// spillover from its root is filled level by level.
        #[test]
        fn spillover_matches_breadth_first_model(
            width in 1u8..=4,
            actions in proptest::collection::vec((any::<bool>(), any::<u32>(), 1u8..=4), 1..300),
        ) {
            let mut t = PlacementTree::matrix(width).unwrap();
            t.add_root().unwrap();
            for (spill, pick, slot) in actions {
                let node = pick % t.len();
                if spill {
                    let expected = spillover_model(&t, node);
                    let got = t.spillover(node).unwrap();
                    prop_assert_eq!(got, expected);
                    t.place(got).unwrap();
                } else {
                    let slot = (slot - 1) % width + 1;
                    if t.child(node, slot).is_none() {
                        t.place_at(node, slot).unwrap();
                    }
                }
            }
        }

        #[test]
        fn spillover_from_the_root_fills_level_by_level(width in 1u8..=5, count in 1usize..400) {
            let mut t = PlacementTree::matrix(width).unwrap();
            let root = t.add_root().unwrap();
            let mut last_depth = 0;
            for _ in 0..count {
                let p = t.spillover(root).unwrap();
                let node = t.place(p).unwrap();
                let d = depth(&t, node);
                prop_assert!(d >= last_depth, "depth went from {} to {}", last_depth, d);
                // Every level above the new node's is full.
                let mut per_level = vec![0u64; d as usize + 1];
                for n in 0..t.len() {
                    per_level[depth(&t, n) as usize] += 1;
                }
                for (k, &count) in per_level.iter().enumerate().take(d as usize) {
                    prop_assert_eq!(count, (width as u64).pow(k as u32));
                }
                last_depth = d;
            }
        }

        /// Outer edges from random sponsors agree with a plain walk, whatever was placed before.
        #[test]
        fn outer_edges_match_a_plain_walk(
            actions in proptest::collection::vec((0u8..3, any::<u32>(), any::<bool>()), 1..300),
        ) {
            let mut t = PlacementTree::binary();
            t.add_root().unwrap();
            for (kind, pick, left) in actions {
                let node = pick % t.len();
                let side = if left { LEFT } else { RIGHT };
                let mut walk = node;
                while let Some(c) = t.child(walk, side) {
                    walk = c;
                }
                match kind {
                    0 => {
                        let p = t.outer_edge(node, side).unwrap();
                        prop_assert_eq!(p, pos(walk, side));
                        t.place(p).unwrap();
                    }
                    1 => {
                        let l = t.leg_pv(node, LEFT);
                        let r = t.leg_pv(node, RIGHT);
                        let p = t.weak_leg(node).unwrap();
                        prop_assert_eq!(p.slot, weak_side(l, r));
                        let n = t.place(p).unwrap();
                        t.add_pv(n, (pick % 7) as i64 * 10_000).unwrap();
                    }
                    _ => {
                        if t.child(node, side).is_none() {
                            t.place_at(node, side).unwrap();
                        }
                    }
                }
            }
        }
    }
}
