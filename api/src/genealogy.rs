//! Genealogy reads: upline, downline pages, subtree statistics, rank progress. All answered
//! from the in-memory index; every answer carries the enrollment sequence it reflects.

use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::genealogy_index::{Node, PlacementShape};
use crate::money::volume_text;
use crate::state::{AppState, TenantRuntime};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const PAGE_LIMIT_MAX: usize = 1000;
const PAGE_LIMIT_DEFAULT: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upline))
        .routes(routes!(downline))
        .routes(routes!(stats))
        .routes(routes!(rank_progress))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct GenealogyEntry {
    pub id: String,
    /// Levels away from the distributor asked about (1 = sponsor, or a personal recruit).
    pub level: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UplineView {
    /// Enrollments reflected by this answer.
    pub sequence: u64,
    pub items: Vec<GenealogyEntry>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct DownlineView {
    pub sequence: u64,
    pub items: Vec<GenealogyEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct UplineQuery {
    /// How many levels up (default: to the root).
    pub levels: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
pub struct DownlineQuery {
    /// How many levels down (default: all).
    pub depth: Option<u32>,
    /// Page size, at most 1000 (default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// A month `YYYY-MM` or an ISO week `YYYY-Www`.
    pub period: String,
}

fn node_of(tenant: &TenantRuntime, id: &str) -> ApiResult<Node> {
    tenant.check_at_home()?;
    let directory = tenant.directory.read().expect("directory lock");
    directory
        .node(id)
        .ok_or_else(|| ApiError::NotFound(format!("distributor {id:?}")))
}

/// The sponsors above a distributor, nearest first.
#[utoipa::path(get, path = "/v1/distributors/{id}/upline", tag = "genealogy", params(("id" = String, Path), UplineQuery),
    responses((status = 200, body = UplineView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn upline(
    TenantAccess(tenant): TenantAccess,
    Path(id): Path<String>,
    Query(query): Query<UplineQuery>,
) -> ApiResult<Json<UplineView>> {
    let node = node_of(&tenant, &id)?;
    let directory = tenant.directory.read().expect("directory lock");
    let items = directory
        .tree()
        .upline(node, query.levels)
        .enumerate()
        .map(|(index, ancestor)| GenealogyEntry {
            id: directory.id(ancestor).to_owned(),
            level: index as u32 + 1,
        })
        .collect();
    Ok(Json(UplineView {
        sequence: directory.sequence(),
        items,
    }))
}

/// A page of a distributor's downline in depth-first order (recruits in enrollment order).
#[utoipa::path(get, path = "/v1/distributors/{id}/downline", tag = "genealogy", params(("id" = String, Path), DownlineQuery),
    responses((status = 200, body = DownlineView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("api_key" = [])))]
async fn downline(
    TenantAccess(tenant): TenantAccess,
    Path(id): Path<String>,
    Query(query): Query<DownlineQuery>,
) -> ApiResult<Json<DownlineView>> {
    let node = node_of(&tenant, &id)?;
    let limit = query.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(ApiError::invalid("limit", "must be from 1 to 1000"));
    }
    let directory = tenant.directory.read().expect("directory lock");
    let after =
        match &query.cursor {
            Some(cursor) => {
                let after = directory
                    .node(cursor)
                    .filter(|&after| directory.tree().is_in_downline(after, node));
                Some(after.ok_or_else(|| {
                    ApiError::invalid("cursor", "is not a cursor of this downline")
                })?)
            }
            None => None,
        };
    let page = directory
        .tree()
        .downline_page(node, query.depth, after, limit)
        .map_err(|error| ApiError::invalid("cursor", error.to_string()))?;
    let items: Vec<GenealogyEntry> = page
        .items
        .iter()
        .map(|&(member, level)| GenealogyEntry {
            id: directory.id(member).to_owned(),
            level,
        })
        .collect();
    let next_cursor = if page.more {
        items.last().map(|entry| entry.id.clone())
    } else {
        None
    };
    Ok(Json(DownlineView {
        sequence: directory.sequence(),
        items,
        next_cursor,
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct LegView {
    pub id: String,
    pub gv: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct StatsView {
    pub sequence: u64,
    pub period: String,
    /// Distributors in the sponsor subtree, the distributor included.
    pub size: u64,
    pub pv: String,
    /// Group volume: PV of the whole sponsor subtree.
    pub gv: String,
    /// One leg per personal recruit, with its GV.
    pub legs: Vec<LegView>,
    /// Binary plans: PV of the left and right placement subtrees in the period.
    pub left: Option<String>,
    pub right: Option<String>,
}

/// Period PV per node: the stored volumes plus the order events folded since the projector's
/// last checkpoint (each counted once: a delta already in its record is skipped).
pub async fn period_pv(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
) -> ApiResult<Vec<i64>> {
    engine::calendar::Period::parse(period)
        .map_err(|error| ApiError::invalid("period", error.to_string()))?;
    let pending = state.projector().pending_deltas();
    let volumes = state
        .store()
        .period_volumes(&tenant.tenant.id, period)
        .await?;
    let directory = tenant.directory.read().expect("directory lock");
    let mut pv = vec![0i64; directory.len()];
    let mut applied_through = vec![0u64; directory.len()];
    for (id, volume) in volumes {
        if let Some(node) = directory.node(&id) {
            pv[node as usize] = volume.pv;
            applied_through[node as usize] = volume.applied_through;
        }
    }
    for delta in pending.deltas_of(&tenant.tenant.id) {
        if !delta.periods.iter().any(|of| of == period) {
            continue;
        }
        let Some(node) = directory.node(&delta.distributor_id) else {
            continue;
        };
        if delta.sequence > applied_through[node as usize] {
            pv[node as usize] += delta.pv;
        }
    }
    Ok(pv)
}

/// Subtree statistics of a distributor for a period.
#[utoipa::path(get, path = "/v1/distributors/{id}/stats", tag = "genealogy", params(("id" = String, Path), PeriodQuery),
    responses((status = 200, body = StatsView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("api_key" = [])))]
async fn stats(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> ApiResult<Json<StatsView>> {
    let node = node_of(&tenant, &id)?;
    let pv = period_pv(&state, &tenant, &query.period).await?;
    let directory = tenant.directory.read().expect("directory lock");
    let tree = directory.tree();
    let legs = tree
        .children(node)
        .iter()
        .map(|&child| LegView {
            id: directory.id(child).to_owned(),
            gv: volume_text(tree.subtree_sum(child, &pv)),
        })
        .collect();
    let (left, right) = match directory.shape() {
        PlacementShape::Binary => {
            let sums = tree.placement_leg_sums(node, &pv);
            (Some(volume_text(sums[0])), Some(volume_text(sums[1])))
        }
        _ => (None, None),
    };
    Ok(Json(StatsView {
        sequence: directory.sequence(),
        period: query.period,
        size: tree.subtree_size(node),
        pv: volume_text(pv[node as usize]),
        gv: volume_text(tree.subtree_sum(node, &pv)),
        legs,
        left,
        right,
    }))
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RankRequirementView {
    pub rank: String,
    /// Whether every requirement below holds now.
    pub qualified: bool,
    pub min_pv: String,
    pub pv: String,
    pub min_gv: String,
    /// GV counted toward `min_gv`: own PV plus each leg capped at `max_leg_share * min_gv`.
    pub qualifying_gv: String,
    /// With a leg rule: legs needed and legs holding someone of `legs_min_rank` in the latest run.
    pub legs_needed: Option<u32>,
    pub legs_min_rank: Option<String>,
    pub legs_qualified: Option<u32>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RankProgressView {
    pub period: String,
    pub active: bool,
    /// The paid-as rank in the period's latest run, if one was computed.
    pub paid_as_rank: Option<String>,
    pub requirements: Vec<RankRequirementView>,
}

/// How close a distributor is to each rank in a period.
#[utoipa::path(get, path = "/v1/distributors/{id}/rank-progress", tag = "genealogy", params(("id" = String, Path), PeriodQuery),
    responses((status = 200, body = RankProgressView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("api_key" = [])))]
async fn rank_progress(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> ApiResult<Json<RankProgressView>> {
    crate::rank_progress::rank_progress(&state, &tenant, &id, &query.period)
        .await
        .map(Json)
}
