//! The genealogy index behind the API, in its first, simple form: sponsor arrays with children
//! lists, the engine's `PlacementTree` for §6 placement. Upline and `is_in_downline` are
//! O(depth); downline pages, subtree sizes and sums walk the subtree with an explicit stack
//! (O(subtree), no recursion). The planned replacement (in `engine`) keeps a DFS-ordered
//! snapshot with per-depth position lists so pages cost O(depth·log n + page); the API uses only
//! the methods below, so it can be swapped in without touching the handlers.

use engine::placement::{PlacementTree, EMPTY};

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

pub struct DownlinePage {
    pub items: Vec<(Node, u32)>,
    pub more: bool,
}

pub struct Genealogy {
    shape: PlacementShape,
    sponsor: Vec<Node>,
    depth: Vec<u32>,
    children: Vec<Vec<Node>>,
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
            sponsor: Vec::new(),
            depth: Vec::new(),
            children: Vec::new(),
            placement,
        }
    }
    pub fn len(&self) -> u32 {
        self.sponsor.len() as u32
    }
    pub fn enroll(
        &mut self,
        sponsor: Option<Node>,
        request: PlacementRequest,
    ) -> Result<Enrolled, String> {
        match (sponsor, self.sponsor.is_empty()) {
            (None, true) => {}
            (None, false) => return Err("only the root has no sponsor".into()),
            (Some(_), true) => return Err("the root has no sponsor".into()),
            (Some(s), false) if s as usize >= self.sponsor.len() => {
                return Err("unknown sponsor".into())
            }
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
        let node = self.sponsor.len() as Node;
        self.sponsor.push(sponsor.unwrap_or(EMPTY));
        self.depth
            .push(sponsor.map_or(0, |s| self.depth[s as usize] + 1));
        self.children.push(Vec::new());
        if let Some(s) = sponsor {
            self.children[s as usize].push(node);
        }
        Ok(Enrolled {
            node,
            placement: placed,
        })
    }
    pub fn upline(&self, n: Node, levels: Option<u32>) -> impl Iterator<Item = Node> + '_ {
        let mut at = n;
        std::iter::from_fn(move || {
            let s = self.sponsor[at as usize];
            (s != EMPTY).then(|| {
                at = s;
                s
            })
        })
        .take(levels.unwrap_or(u32::MAX) as usize)
    }
    pub fn is_in_downline(&self, x: Node, of: Node) -> bool {
        self.upline(x, None).any(|a| a == of)
    }
    pub fn add_lifetime_pv(&mut self, n: Node, pv: i64) {
        if let Some(tree) = &mut self.placement {
            let _ = tree.add_pv(n, pv);
        }
    }
    pub fn children(&self, n: Node) -> &[Node] {
        &self.children[n as usize]
    }
    fn dfs(&self, of: Node) -> Vec<(Node, u32)> {
        let mut out = Vec::new();
        let mut stack: Vec<(Node, u32)> = self.children[of as usize]
            .iter()
            .rev()
            .map(|&c| (c, 1))
            .collect();
        while let Some((n, d)) = stack.pop() {
            out.push((n, d));
            stack.extend(self.children[n as usize].iter().rev().map(|&c| (c, d + 1)));
        }
        out
    }
    pub fn downline_page(
        &self,
        of: Node,
        max_depth: Option<u32>,
        after: Option<Node>,
        limit: usize,
    ) -> Result<DownlinePage, String> {
        let all: Vec<(Node, u32)> = self
            .dfs(of)
            .into_iter()
            .filter(|&(_, d)| max_depth.is_none_or(|m| d <= m))
            .collect();
        let start = match after {
            Some(a) => all
                .iter()
                .position(|&(n, _)| n == a)
                .map(|p| p + 1)
                .unwrap_or(all.len()),
            None => 0,
        };
        let items: Vec<_> = all[start..].iter().take(limit).copied().collect();
        Ok(DownlinePage {
            more: start + items.len() < all.len(),
            items,
        })
    }
    pub fn subtree_size(&self, of: Node) -> u64 {
        self.dfs(of).len() as u64 + 1
    }
    pub fn subtree_sum(&self, of: Node, values: &[i64]) -> i64 {
        values[of as usize]
            + self
                .dfs(of)
                .iter()
                .map(|&(n, _)| values[n as usize])
                .sum::<i64>()
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
