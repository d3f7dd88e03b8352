//! Group volume and paid-as rank (COMP_PLAN_SPEC.md §3), in one bottom-up pass over the
//! sponsor tree: a distributor's rank needs its legs' group volumes and the highest rank in
//! each leg, all of which lie below it.

use crate::number::pow10;
use crate::plan::{CompiledPlan, CompiledRank};
use crate::tree::{SharedSlice, Tree};

/// Who is active and at which rank: what every bonus asks of a recipient.
pub struct People<'r> {
    pub active: &'r [bool],
    pub rank: &'r [u8],
    pub plan: &'r CompiledPlan,
}

impl People<'_> {
    #[inline]
    pub fn is_active(&self, distributor: u32) -> bool {
        self.active[distributor as usize]
    }

    /// Unilevel/matrix levels paid to this distributor's rank.
    #[inline]
    pub fn level_limit(&self, distributor: u32) -> u32 {
        self.plan.ranks[usize::from(self.rank[distributor as usize])].unilevel_levels
    }

    #[inline]
    pub fn generation_limit(&self, distributor: u32) -> u32 {
        self.plan.ranks[usize::from(self.rank[distributor as usize])].matching_generations
    }
}

/// Returns `(GV, paid-as rank index)` per distributor.
pub fn paid_as_ranks(
    plan: &CompiledPlan,
    tree: &Tree,
    pv: &[i64],
    active: &[bool],
) -> (Vec<i64>, Vec<u8>) {
    let count = tree.len();
    let mut group_volume = vec![0i64; count];
    let mut rank = vec![0u8; count];
    // The highest paid-as rank anywhere in a subtree, its root included.
    let mut subtree_best = vec![0u8; count];
    {
        let group_volume = SharedSlice::new(&mut group_volume);
        let rank = SharedSlice::new(&mut rank);
        let subtree_best = SharedSlice::new(&mut subtree_best);
        tree.for_each_bottom_up(|node| {
            let children = tree.children(node);
            // SAFETY: children lie one level deeper, finished before this level started;
            // each visit writes only its own node.
            unsafe {
                let own_pv = pv[node as usize];
                let gv = own_pv
                    + children
                        .iter()
                        .map(|&child| group_volume.read(child))
                        .sum::<i64>();
                let mut paid_as = 0u8;
                if active[node as usize] {
                    for index in (1..plan.ranks.len()).rev() {
                        let holds = rank_holds(
                            &plan.ranks[index],
                            own_pv,
                            gv,
                            children,
                            |child| group_volume.read(child),
                            |child| subtree_best.read(child),
                        );
                        if holds {
                            paid_as = index as u8;
                            break;
                        }
                    }
                }
                let best_below = children
                    .iter()
                    .map(|&child| subtree_best.read(child))
                    .max()
                    .unwrap_or(0);
                group_volume.write(node, gv);
                rank.write(node, paid_as);
                subtree_best.write(node, paid_as.max(best_below));
            }
        });
    }
    (group_volume, rank)
}

/// Whether an active distributor meets one rank's requirements (tested on its own).
fn rank_holds(
    rank: &CompiledRank,
    own_pv: i64,
    group_volume: i64,
    children: &[u32],
    leg_volume: impl Fn(u32) -> i64,
    leg_best_rank: impl Fn(u32) -> u8,
) -> bool {
    if own_pv < rank.min_pv {
        return false;
    }
    if rank.min_gv > 0 {
        let qualifying = match rank.max_leg_share {
            // Without a share every leg counts fully: PV + Σ GV(c) = GV.
            None => group_volume >= rank.min_gv,
            Some(share) => {
                // Compare `PV + Σ min(GV(c), share × min_gv) >= min_gv` exactly, scaled by 10^share.scale.
                let scale = pow10(share.scale);
                let leg_cap = i128::from(share.mantissa) * i128::from(rank.min_gv);
                let total: i128 = i128::from(own_pv) * scale
                    + children
                        .iter()
                        .map(|&child| (i128::from(leg_volume(child)) * scale).min(leg_cap))
                        .sum::<i128>();
                total >= i128::from(rank.min_gv) * scale
            }
        };
        if !qualifying {
            return false;
        }
    }
    if let Some(legs) = rank.legs {
        let qualified_legs = children
            .iter()
            .filter(|&&child| leg_best_rank(child) >= legs.min_rank)
            .count();
        if (qualified_legs as u64) < u64::from(legs.count) {
            return false;
        }
    }
    true
}
