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
    let (own_pv, legs, leg_ids) = {
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
        let leg_ids: Vec<Vec<String>> = children
            .iter()
            .map(|&child| {
                let mut members = vec![directory.id(child).to_owned()];
                let mut after = None;
                loop {
                    let Ok(page) = tree.downline_page(child, None, after, 1000) else {
                        break;
                    };
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
            })
            .collect();
        (pv[node as usize], legs, leg_ids)
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
                let qualified = match &run {
                    Some(run) => Some(
                        count_legs_with_rank(state, tenant, run, &leg_ids, rule.min_rank).await?,
                    ),
                    None => None,
                };
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

/// Legs holding someone whose paid-as rank in `run` is at least `min_rank` (stops at the first).
async fn count_legs_with_rank(
    state: &AppState,
    tenant: &TenantRuntime,
    run: &Run,
    legs: &[Vec<String>],
    min_rank: u8,
) -> ApiResult<u32> {
    let mut count = 0;
    for members in legs {
        for member in members {
            let rank = rank_in_run(state, &tenant.tenant.id, run, member).await?;
            let index = rank.and_then(|name| tenant.plan.rank_by_name(name.as_bytes()));
            if index.is_some_and(|index| index >= min_rank) {
                count += 1;
                break;
            }
        }
    }
    Ok(count)
}
