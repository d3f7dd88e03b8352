//! One tenant's genealogy index: the sponsor tree in depth-first order
//! (`engine::sponsor_index`: upline O(depth), "is X in Y's downline" and subtree sizes O(1),
//! downline pages are slices of the sequence) and, for binary and matrix plans, the engine's
//! `PlacementTree` for the §6 placement rules and lifetime leg volumes. The handlers use only
//! the methods below.

use engine::placement::{PlacementTree, EMPTY};
use engine::sponsor_index::SponsorIndex;

pub use engine::sponsor_index::DownlinePage;

pub type Node = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementShape {
    None,
    Binary,
    Matrix { width: u8 },
}

pub enum PlacementRequest {
    Default,
    At { parent: Node, slot: u8 },
    OuterLeft,
    OuterRight,
    WeakLeg,
    Spillover,
}

pub struct Enrolled {
    pub node: Node,
    pub placement: Option<(Node, u8)>,
}

pub struct Genealogy {
    shape: PlacementShape,
    sponsors: SponsorIndex,
    /// While a stored genealogy is replayed at start: the sponsor of each node, for one bulk
    /// build at the end instead of a million insertions.
    deferred_sponsors: Option<Vec<Node>>,
    placement: Option<PlacementTree>,
}

impl Genealogy {
    pub fn new(shape: PlacementShape) -> Self {
        let placement = match shape {
            PlacementShape::None => None,
            PlacementShape::Binary => Some(PlacementTree::binary()),
            PlacementShape::Matrix { width } => Some(PlacementTree::matrix(width).unwrap()),
        };
        Genealogy {
            shape,
            sponsors: SponsorIndex::new(),
            deferred_sponsors: None,
            placement,
        }
    }

    /// Enrollments from now on only record their sponsor, until [`Self::build_deferred`]
    /// builds the sponsor index from them at once. Nothing may be read meanwhile.
    pub fn defer_sponsor_index(&mut self) {
        let mut sponsors = Vec::with_capacity(self.len() as usize);
        sponsors.extend((0..self.len()).map(|node| self.sponsors.sponsor(node).unwrap_or(EMPTY)));
        self.deferred_sponsors = Some(sponsors);
    }

    /// Builds the sponsor index from the enrollments recorded since [`Self::defer_sponsor_index`].
    pub fn build_deferred(&mut self) -> Result<(), String> {
        if let Some(sponsors) = self.deferred_sponsors.take() {
            self.sponsors = SponsorIndex::from_sponsors(&sponsors)?;
        }
        Ok(())
    }

    /// The members enrolled so far, deferred or indexed.
    fn len(&self) -> u32 {
        match &self.deferred_sponsors {
            Some(sponsors) => sponsors.len() as u32,
            None => self.sponsors.len() as u32,
        }
    }

    pub fn enroll(
        &mut self,
        sponsor: Option<Node>,
        request: PlacementRequest,
    ) -> Result<Enrolled, String> {
        let size = self.len() as usize;
        match (sponsor, size == 0) {
            (None, true) => {}
            (None, false) => return Err("only the root has no sponsor".into()),
            (Some(_), true) => return Err("the root has no sponsor".into()),
            (Some(s), false) if s as usize >= size => return Err("unknown sponsor".into()),
            _ => {}
        }
        let mut placed = None;
        if let Some(tree) = &mut self.placement {
            if let Some(s) = sponsor {
                let position = match (request, self.shape) {
                    (PlacementRequest::At { parent, slot }, _) => {
                        if tree.child(parent, slot).is_some_and(|c| c != EMPTY) {
                            return Err(format!("slot {slot} under that parent is taken"));
                        }
                        engine::placement::Position { parent, slot }
                    }
                    (PlacementRequest::OuterLeft, _) => {
                        tree.outer_left(s).map_err(|e| e.to_string())?
                    }
                    (PlacementRequest::OuterRight, _) => {
                        tree.outer_right(s).map_err(|e| e.to_string())?
                    }
                    (PlacementRequest::WeakLeg, _)
                    | (PlacementRequest::Default, PlacementShape::Binary) => {
                        tree.weak_leg(s).map_err(|e| e.to_string())?
                    }
                    _ => tree.spillover(s).map_err(|e| e.to_string())?,
                };
                tree.place(position).map_err(|e| e.to_string())?;
                placed = Some((position.parent, position.slot));
            } else {
                tree.add_root().map_err(|e| e.to_string())?;
            }
        }
        let node = match (&mut self.deferred_sponsors, sponsor) {
            (Some(deferred), _) => {
                deferred.push(sponsor.unwrap_or(EMPTY));
                (deferred.len() - 1) as Node
            }
            (None, Some(sponsor)) => self.sponsors.add(sponsor)?,
            (None, None) => self.sponsors.add_root()?,
        };
        Ok(Enrolled {
            node,
            placement: placed,
        })
    }
    pub fn upline(&self, n: Node, levels: Option<u32>) -> impl Iterator<Item = Node> + '_ {
        self.sponsors.upline(n, levels)
    }
    pub fn is_in_downline(&self, x: Node, of: Node) -> bool {
        self.sponsors.is_in_downline(x, of)
    }
    pub fn add_lifetime_pv(&mut self, n: Node, pv: i64) {
        if let Some(tree) = &mut self.placement {
            let _ = tree.add_pv(n, pv);
        }
    }
    /// Personal recruits, in enrollment order.
    pub fn children(&self, n: Node) -> Vec<Node> {
        self.sponsors.recruits(n).collect()
    }
    /// A page of the downline in depth-first order, at most `max_depth` levels deep, after
    /// the member `after`: O(limit), whatever the size of the downline.
    pub fn downline_page(
        &self,
        of: Node,
        max_depth: Option<u32>,
        after: Option<Node>,
        limit: usize,
    ) -> Result<DownlinePage, String> {
        self.sponsors.downline_page(of, max_depth, after, limit)
    }
    pub fn subtree_size(&self, of: Node) -> u64 {
        self.sponsors.subtree_size(of)
    }
    /// The sum of `values` (indexed by node) over the subtree, `of` included.
    pub fn subtree_sum(&self, of: Node, values: &[i64]) -> i64 {
        self.sponsors.subtree_sum(of, values)
    }
    pub fn placement_leg_sums(&self, of: Node, values: &[i64]) -> Vec<i64> {
        let Some(tree) = &self.placement else {
            return Vec::new();
        };
        (1..=tree.width())
            .map(|slot| {
                let mut sum = 0;
                let mut stack: Vec<u32> = tree
                    .child(of, slot)
                    .filter(|&c| c != EMPTY)
                    .into_iter()
                    .collect();
                while let Some(n) = stack.pop() {
                    sum += values[n as usize];
                    stack.extend(
                        (1..=tree.width())
                            .filter_map(|s| tree.child(n, s))
                            .filter(|&c| c != EMPTY),
                    );
                }
                sum
            })
            .collect()
    }
}
