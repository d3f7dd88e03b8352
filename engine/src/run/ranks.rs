//! Group volume and paid-as rank (COMP_PLAN_SPEC.md §3), in one bottom-up pass over the
//! sponsor tree: a distributor's rank needs its legs' group volumes and the highest rank in
//! each leg, all of which lie below it.

use crate::number::pow10;
use crate::plan::{CompiledPlan, CompiledRank};
use crate::tree::Tree;
use rayon::prelude::*;

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
    // Each node's facts in one visit, and its results likewise below: every visit to a node
    // in the other order is a cache miss.
    let (pv, active): (Vec<i64>, Vec<bool>) = tree
        .order
        .par_iter()
        .map(|&node| (pv[node as usize], active[node as usize]))
        .unzip();
    // Per position: group volume, paid-as rank, and the highest paid-as rank anywhere in the
    // subtree (its root included) — what a leg contributes to the `legs` rule.
    let mut folded: Vec<(i64, u8, u8)> = vec![(0, 0, 0); tree.len()];
    tree.fold_up_by_levels(&mut folded, |position, legs| {
        let own_pv = pv[position];
        let gv = own_pv + legs.iter().map(|leg| leg.0).sum::<i64>();
        let mut paid_as = 0u8;
        if active[position] {
            for index in (1..plan.ranks.len()).rev() {
                if rank_holds(&plan.ranks[index], own_pv, gv, legs) {
                    paid_as = index as u8;
                    break;
                }
            }
        }
        let best_below = legs.iter().map(|leg| leg.2).max().unwrap_or(0);
        (gv, paid_as, paid_as.max(best_below))
    });
    tree.scatter_map(&folded, |&(group_volume, rank, _)| (group_volume, rank))
        .into_par_iter()
        .unzip()
}

/// Whether an active distributor meets one rank's requirements (tested on its own).
/// `legs` holds each leg's `(GV, rank, highest rank in the leg)`.
fn rank_holds(rank: &CompiledRank, own_pv: i64, group_volume: i64, legs: &[(i64, u8, u8)]) -> bool {
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
                    + legs
                        .iter()
                        .map(|leg| (i128::from(leg.0) * scale).min(leg_cap))
                        .sum::<i128>();
                total >= i128::from(rank.min_gv) * scale
            }
        };
        if !qualifying {
            return false;
        }
    }
    if let Some(rule) = rank.legs {
        let qualified_legs = legs.iter().filter(|leg| leg.2 >= rule.min_rank).count();
        if (qualified_legs as u64) < u64::from(rule.count) {
            return false;
        }
    }
    true
}
