//! One tenant's genealogy in memory: the engine's index plus the mapping between distributor
//! ids and index nodes. Rebuilt at start by replaying the stored enrollments in order, then
//! updated on every enrollment before it is made durable (under the write lock, so two
//! enrollments can never take the same id or slot).

use crate::error::ApiError;
use crate::genealogy_index::{Genealogy, Node, PlacementRequest, PlacementShape};
use engine::calendar::Day;
use engine::plan::CompiledPlan;
use std::collections::HashMap;
use store::{Distributor, GenealogyEntry, Placement};

pub struct Directory {
    tree: Genealogy,
    shape: PlacementShape,
    ids: Vec<Box<str>>,
    nodes: HashMap<Box<str>, Node>,
    joined_on: Vec<Day>,
    /// Each node's residence region: an index into `regions`, 0 for none given (the store's
    /// own region). One byte a node, as a deployment has a handful of regions.
    residence: Vec<u8>,
    /// The residence regions seen; `regions[0]` stands for none.
    regions: Vec<Box<str>>,
    /// Nodes below this are durable; the ones above are being stored.
    durable: usize,
}

/// Where a new distributor goes in the placement tree, as the request says.
pub enum PlacementChoice {
    /// The plan's natural rule (binary: weak leg; matrix: spillover).
    Default,
    At {
        parent_id: String,
        slot: u8,
    },
    OuterLeft,
    OuterRight,
    WeakLeg,
    Spillover,
}

/// The placement tree a plan needs: binary, a matrix of its width, or none.
pub fn shape_of_plan(plan: &CompiledPlan) -> PlacementShape {
    if plan.binary.is_some() {
        PlacementShape::Binary
    } else if plan.matrix.is_some() {
        PlacementShape::Matrix {
            width: plan.matrix_width as u8,
        }
    } else {
        PlacementShape::None
    }
}

/// The root of a residence region's index of a tenant at home elsewhere: it stands for the
/// home region's genealogy, and every distributor residing here hangs under it. Not a valid
/// distributor id, so it never meets a real one.
pub const HOME_GENEALOGY: &str = "@home";

impl Directory {
    /// The index of a tenant at home in another region, in the region its distributors reside
    /// in: their ids (which exist, which reside here) under [`HOME_GENEALOGY`]; the genealogy
    /// itself is the home region's.
    pub fn residents() -> Directory {
        let mut directory = Directory::new(PlacementShape::None);
        directory
            .enroll(HOME_GENEALOGY, None, PlacementChoice::Default, 0, None)
            .expect("the first node of an empty index");
        directory.mark_durable();
        directory
    }

    /// Replays a stored resident at start (see [`Directory::residents`]).
    pub fn replay_resident(&mut self, distributor: &GenealogyEntry) -> Result<(), String> {
        let joined_on = engine::calendar::parse_date(distributor.joined_on.as_bytes())
            .ok_or_else(|| format!("distributor {:?}: bad joined_on", distributor.id))?;
        self.enroll(
            &distributor.id,
            Some(HOME_GENEALOGY),
            PlacementChoice::Default,
            joined_on,
            distributor.residence_region.as_deref(),
        )
        .map_err(|error| format!("distributor {:?}: {error}", distributor.id))?;
        self.mark_durable();
        Ok(())
    }

    pub fn for_plan(plan: &CompiledPlan) -> Directory {
        Directory::new(shape_of_plan(plan))
    }

    fn new(shape: PlacementShape) -> Directory {
        Directory {
            tree: Genealogy::new(shape),
            shape,
            ids: Vec::new(),
            nodes: HashMap::new(),
            joined_on: Vec::new(),
            residence: Vec::new(),
            regions: vec!["".into()],
            durable: 0,
        }
    }

    /// Everything enrolled so far is durable.
    pub fn mark_durable(&mut self) {
        self.durable = self.ids.len();
    }

    /// The distributor with this id, if its enrollment is durable (orders may only refer to
    /// durable distributors: an order must never outlive its distributor in a crash).
    pub fn durable_node(&self, id: &str) -> Option<Node> {
        self.node(id).filter(|&node| (node as usize) < self.durable)
    }

    pub fn shape(&self) -> PlacementShape {
        self.shape
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many enrollments this index reflects (reads answer with it).
    pub fn sequence(&self) -> u64 {
        self.ids.len() as u64
    }

    pub fn node(&self, id: &str) -> Option<Node> {
        self.nodes.get(id).copied()
    }

    pub fn id(&self, node: Node) -> &str {
        &self.ids[node as usize]
    }

    pub fn joined_on(&self, node: Node) -> Day {
        self.joined_on[node as usize]
    }

    /// The region the distributor resides in, when one was given at enrollment.
    pub fn residence(&self, node: Node) -> Option<&str> {
        match self.residence[node as usize] {
            0 => None,
            index => Some(&self.regions[index as usize]),
        }
    }

    pub fn tree(&self) -> &Genealogy {
        &self.tree
    }

    pub fn tree_mut(&mut self) -> &mut Genealogy {
        &mut self.tree
    }

    /// Checks an enrollment and takes its place in the index; returns the record to store.
    /// Nothing changes when it is refused.
    pub fn enroll(
        &mut self,
        id: &str,
        sponsor_id: Option<&str>,
        placement: PlacementChoice,
        joined_on: Day,
        residence_region: Option<&str>,
    ) -> Result<Distributor, ApiError> {
        if self.nodes.contains_key(id) {
            return Err(ApiError::Conflict(format!(
                "distributor {id:?} already exists"
            )));
        }
        let sponsor = match sponsor_id {
            None if self.ids.is_empty() => None,
            None => {
                return Err(ApiError::invalid(
                    "sponsor_id",
                    "required: only the first distributor (the root) has no sponsor",
                ))
            }
            Some(_) if self.ids.is_empty() => {
                return Err(ApiError::invalid(
                    "sponsor_id",
                    "the first distributor is the root and has no sponsor",
                ))
            }
            Some(sponsor_id) => Some(self.node(sponsor_id).ok_or_else(|| {
                ApiError::invalid("sponsor_id", format!("unknown distributor {sponsor_id:?}"))
            })?),
        };
        let request = self.placement_request(placement, sponsor.is_none())?;
        let residence = self.region_index(residence_region)?;
        let enrolled = self
            .tree
            .enroll(sponsor, request)
            .map_err(|error| ApiError::invalid("placement", error.to_string()))?;
        let placement = enrolled.placement.map(|(parent, slot)| Placement {
            parent_id: self.id(parent).to_owned(),
            slot,
        });
        self.remember(id, joined_on, residence);
        Ok(Distributor {
            id: id.to_owned(),
            node: enrolled.node,
            sponsor_id: sponsor_id.map(str::to_owned),
            placement,
            joined_on: engine::calendar::format_date(joined_on),
            status: store::DistributorStatus::Active,
            profile: store::Profile::default(),
            residence_region: residence_region.map(str::to_owned),
        })
    }

    /// Adds an enrollment another process stored (`genealogy_follower`). It is durable at
    /// once — unless enrollments of this process are under way, which it then follows in the
    /// index and becomes durable with. Nothing changes when it is refused (its sponsor or
    /// placement parent is not in the index).
    pub fn follow(&mut self, distributor: &GenealogyEntry) -> Result<(), String> {
        let all_durable = self.durable == self.ids.len();
        self.replay(distributor)?;
        if all_durable {
            self.mark_durable();
        }
        Ok(())
    }

    /// Replays a stored enrollment at start (in `node` order; the nodes are numbered afresh,
    /// so a gap left by a failed batch is harmless).
    pub fn replay(&mut self, distributor: &GenealogyEntry) -> Result<(), String> {
        let placement = match &distributor.placement {
            Some(placement) => PlacementChoice::At {
                parent_id: placement.parent_id.clone(),
                slot: placement.slot,
            },
            None => PlacementChoice::Default,
        };
        let joined_on = engine::calendar::parse_date(distributor.joined_on.as_bytes())
            .ok_or_else(|| format!("distributor {:?}: bad joined_on", distributor.id))?;
        self.enroll(
            &distributor.id,
            distributor.sponsor_id.as_deref(),
            placement,
            joined_on,
            distributor.residence_region.as_deref(),
        )
        .map_err(|error| format!("distributor {:?}: {error}", distributor.id))?;
        self.mark_durable();
        Ok(())
    }

    fn remember(&mut self, id: &str, joined_on: Day, residence: u8) {
        let id: Box<str> = id.into();
        self.nodes.insert(id.clone(), self.ids.len() as Node);
        self.ids.push(id);
        self.joined_on.push(joined_on);
        self.residence.push(residence);
    }

    /// The index of a residence region, added when new.
    fn region_index(&mut self, region: Option<&str>) -> Result<u8, ApiError> {
        let Some(region) = region else {
            return Ok(0);
        };
        if let Some(index) = self.regions.iter().position(|known| &**known == region) {
            return Ok(index as u8);
        }
        if self.regions.len() > u8::MAX as usize {
            return Err(ApiError::invalid(
                "residence_region",
                "a tenant's distributors reside in at most 255 regions",
            ));
        }
        self.regions.push(region.into());
        Ok((self.regions.len() - 1) as u8)
    }

    fn placement_request(
        &self,
        choice: PlacementChoice,
        is_root: bool,
    ) -> Result<PlacementRequest, ApiError> {
        if is_root || matches!(self.shape, PlacementShape::None) {
            return Ok(PlacementRequest::Default);
        }
        Ok(match choice {
            PlacementChoice::Default => PlacementRequest::Default,
            PlacementChoice::At { parent_id, slot } => PlacementRequest::At {
                parent: self.node(&parent_id).ok_or_else(|| {
                    ApiError::invalid(
                        "placement.parent_id",
                        format!("unknown distributor {parent_id:?}"),
                    )
                })?,
                slot,
            },
            PlacementChoice::OuterLeft => PlacementRequest::OuterLeft,
            PlacementChoice::OuterRight => PlacementRequest::OuterRight,
            PlacementChoice::WeakLeg => PlacementRequest::WeakLeg,
            PlacementChoice::Spillover => PlacementRequest::Spillover,
        })
    }
}
