//! Rank and qualification progress of one distributor: each rank's requirements (§3 of
//! COMP_PLAN_SPEC.md) against the distributor's numbers in the period so far.

use crate::error::{ApiError, ApiResult};
use crate::genealogy::{period_pv, RankProgressView, RankRequirementView};
use crate::money::volume_text;
use crate::runs::compute::is_effective;
use crate::state::{AppState, TenantRuntime};
use std::sync::Arc;
use store::{DistributorStatus, Run, RunStatus};

/// The run whose ranks a period's progress shows: the effective one, else the latest preview.
async fn latest_run(state: &AppState, tenant_id: &str, period: &str) -> ApiResult<Option<Run>> {
    let mut runs: Vec<Run> = state
        .store()
        .runs(tenant_id)
        .await?
        .into_iter()
        .filter(|run| {
            run.period == period && (is_effective(run) || run.status == RunStatus::Preview)
        })
        .collect();
    runs.sort_by_key(|run| (is_effective(run), run.created_at_ms));
    Ok(runs.pop())
}

/// The paid-as rank of a distributor in a run (the `rank` cell of its summary row).
async fn rank_in_run(
    state: &AppState,
    tenant_id: &str,
    run: &Run,
    distributor_id: &str,
) -> ApiResult<Option<String>> {
    let statement = state
        .store()
        .statement(tenant_id, &run.run_id, distributor_id)
        .await?;
    Ok(statement.and_then(|statement| statement.summary.split(',').nth(2).map(str::to_owned)))
}

pub async fn rank_progress(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    id: &str,
    period: &str,
) -> ApiResult<RankProgressView> {
    tenant.check_at_home()?;
    let tenant_id = &tenant.tenant.id;
    let distributor = state
        .store()
        .distributor(tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("distributor {id:?}")))?;
    let pv = period_pv(state, tenant, period).await?;
    let plan = &tenant.plan;
    let run = latest_run(state, tenant_id, period).await?;
    let paid_as_rank = match &run {
        Some(run) => rank_in_run(state, tenant_id, run, id).await?,
        None => None,
    };
    // Leg-rank rules need every leg's members; walk them only when a rule and a run exist.
    let leg_rule_rank_max = plan
        .ranks
        .iter()
        .filter_map(|rank| rank.legs.map(|rule| rule.min_rank))
        .max();
    let (own_pv, legs, leg_members) = {
        let directory = tenant.directory.read().expect("directory lock");
        let node = directory
            .node(id)
            .ok_or_else(|| ApiError::NotFound(format!("distributor {id:?}")))?;
        let tree = directory.tree();
        let children = tree.children(node);
        let legs: Vec<i64> = children
            .iter()
            .map(|&child| tree.subtree_sum(child, &pv))
            .collect();
        let leg_members: Option<Vec<Vec<String>>> = (run.is_some() && leg_rule_rank_max.is_some())
            .then(|| {
                children
                    .iter()
                    .map(|&child| subtree_ids(&directory, child))
                    .collect()
            });
        (pv[node as usize], legs, leg_members)
    };
    // The best paid-as rank in each leg, read once for every rank's rule.
    let leg_best_ranks = match (&run, &leg_members, leg_rule_rank_max) {
        (Some(run), Some(members), Some(enough)) => {
            Some(best_rank_per_leg(state, tenant, run, members, enough).await?)
        }
        _ => None,
    };
    let active = distributor.status == DistributorStatus::Active && own_pv >= plan.min_active_pv;
    let mut requirements = Vec::new();
    for rank in plan.ranks.iter().skip(1) {
        // Exactly as the engine decides it: legs capped at share × min_gv, compared scaled by
        // 10^share.scale; shown rounded half-even to 4 decimals.
        let (share_mantissa, share_scale) = rank
            .max_leg_share
            .map_or((1, 0), |share| (share.mantissa, share.scale));
        let scale = engine::number::pow10(share_scale);
        let leg_cap = rank
            .max_leg_share
            .map(|_| i128::from(share_mantissa) * i128::from(rank.min_gv));
        let scaled_total: i128 = i128::from(own_pv) * scale
            + legs
                .iter()
                .map(|&leg| {
                    leg_cap.map_or(i128::from(leg) * scale, |cap| {
                        (i128::from(leg) * scale).min(cap)
                    })
                })
                .sum::<i128>();
        let gv_holds = scaled_total >= i128::from(rank.min_gv) * scale;
        let qualifying_gv = engine::number::div_pow10_half_even(scaled_total, share_scale) as i64;
        let (legs_needed, legs_min_rank, legs_qualified) = match &rank.legs {
            Some(rule) => {
                let min_rank = &plan.ranks[rule.min_rank as usize].name;
                let qualified = leg_best_ranks
                    .as_ref()
                    .map(|best| best.iter().filter(|&&rank| rank >= rule.min_rank).count() as u32);
                (Some(rule.count), Some(min_rank.clone()), qualified)
            }
            None => (None, None, None),
        };
        let qualified = active
            && own_pv >= rank.min_pv
            && gv_holds
            && legs_needed.is_none_or(|needed| legs_qualified.is_some_and(|have| have >= needed));
        requirements.push(RankRequirementView {
            rank: rank.name.clone(),
            qualified,
            min_pv: volume_text(rank.min_pv),
            pv: volume_text(own_pv),
            min_gv: volume_text(rank.min_gv),
            qualifying_gv: volume_text(qualifying_gv),
            legs_needed,
            legs_min_rank,
            legs_qualified,
        });
    }
    Ok(RankProgressView {
        period: period.to_owned(),
        active,
        paid_as_rank,
        requirements,
    })
}

/// A member's subtree ids, the member first, in depth-first order.
fn subtree_ids(
    directory: &crate::directory::Directory,
    head: crate::genealogy_index::Node,
) -> Vec<String> {
    let tree = directory.tree();
    let mut members = vec![directory.id(head).to_owned()];
    let mut after = None;
    while let Ok(page) = tree.downline_page(head, None, after, 1000) {
        members.extend(
            page.items
                .iter()
                .map(|&(member, _)| directory.id(member).to_owned()),
        );
        after = page.items.last().map(|&(member, _)| member);
        if !page.more {
            break;
        }
    }
    members
}

/// The highest paid-as rank in `run` of anyone in each leg (a leg stops being read once it
/// reaches `enough`, the highest rank any rule asks for).
async fn best_rank_per_leg(
    state: &AppState,
    tenant: &TenantRuntime,
    run: &Run,
    legs: &[Vec<String>],
    enough: u8,
) -> ApiResult<Vec<u8>> {
    let mut best_ranks = Vec::with_capacity(legs.len());
    for members in legs {
        let mut best = 0u8;
        for member in members {
            let rank = rank_in_run(state, &tenant.tenant.id, run, member).await?;
            let index = rank.and_then(|name| tenant.plan.rank_by_name(name.as_bytes()));
            best = best.max(index.unwrap_or(0));
            if best >= enough {
                break;
            }
        }
        best_ranks.push(best);
    }
    Ok(best_ranks)
}
