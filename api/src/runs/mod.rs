//! Commission runs: preview → commit → post, restatements, statements, the run's files.

pub mod close;
pub mod compute;
pub mod files;
pub mod inputs;
pub mod lifecycle;
pub mod pages;
pub mod posting;
pub mod progress;
pub mod restatement;
pub mod statements;

use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::json::JsonBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::{Run, RunStatus, Statement};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_run, list_runs))
        .routes(routes!(get_run))
        .routes(routes!(commit_run))
        .routes(routes!(post_run))
        .routes(routes!(get_statement))
        .routes(routes!(files::get_run_file))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    /// A month `YYYY-MM` or an ISO week `YYYY-Www`.
    pub period: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RunView {
    pub run_id: String,
    pub period: String,
    pub plan_version: u32,
    /// `running`, `preview`, `committed`, `posted`, `superseded` or `failed`.
    pub status: String,
    /// The run this one restates.
    pub restates: Option<String>,
    /// While running: what it is doing.
    pub progress: Option<String>,
    pub distributors: u64,
    pub lines: u64,
    /// Total per bonus (decimal strings in the plan's currency).
    pub totals: BTreeMap<String, String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
}

pub fn status_text(status: RunStatus) -> &'static str {
    status.as_str()
}

impl RunView {
    fn of(run: Run, progress: Option<String>) -> RunView {
        RunView {
            status: status_text(run.status).to_owned(),
            progress: if run.status == RunStatus::Running {
                progress
            } else {
                None
            },
            totals: run.totals.into_iter().collect(),
            run_id: run.run_id,
            period: run.period,
            plan_version: run.plan_version,
            restates: run.restates,
            distributors: run.distributors,
            lines: run.lines,
            error: run.error,
            created_at_ms: run.created_at_ms,
        }
    }
}

fn view(state: &AppState, tenant_id: &str, run: Run) -> Json<RunView> {
    let progress = state.runs().get(tenant_id, &run.run_id);
    Json(RunView::of(run, progress))
}

/// Start a preview run of a period; it computes in the background (poll `GET /v1/runs/{run_id}`).
#[utoipa::path(post, path = "/v1/runs", tag = "runs", request_body = NewRun,
    responses((status = 202, body = RunView), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)), security(("api_key" = [])))]
async fn start_run(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewRun>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    tenant.check_at_home()?;
    let run = lifecycle::start_preview(&state, &tenant, &body.period).await?;
    Ok((StatusCode::ACCEPTED, view(&state, &tenant.tenant.id, run)))
}

/// List the tenant's runs.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", responses((status = 200, body = Vec<RunView>)), security(("api_key" = [])))]
async fn list_runs(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<RunView>>> {
    let runs = state.store().runs(&tenant.tenant.id).await?;
    Ok(Json(
        runs.into_iter()
            .map(|run| view(&state, &tenant.tenant.id, run).0)
            .collect(),
    ))
}

/// Read a run, with its progress while it computes.
#[utoipa::path(get, path = "/v1/runs/{run_id}", tag = "runs", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn get_run(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let run = lifecycle::find_run(&state, &tenant.tenant.id, &run_id).await?;
    Ok(view(&state, &tenant.tenant.id, run))
}

/// Commit a preview: it becomes the period's immutable result.
#[utoipa::path(post, path = "/v1/runs/{run_id}/commit", tag = "runs", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("api_key" = [])))]
async fn commit_run(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let run = lifecycle::commit(&state, &tenant, &run_id).await?;
    Ok(view(&state, &tenant.tenant.id, run))
}

/// Post a committed run to the wallets; retrying pays nothing twice.
#[utoipa::path(post, path = "/v1/runs/{run_id}/post", tag = "runs", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("api_key" = [])))]
async fn post_run(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let run = lifecycle::post(&state, &tenant, &run_id).await?;
    Ok(view(&state, &tenant.tenant.id, run))
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct LineView {
    pub bonus: String,
    pub source: String,
    pub level: u32,
    pub base: String,
    pub rate: String,
    pub amount: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct StatementView {
    pub run_id: String,
    pub distributor_id: String,
    /// The distributor's `summary.csv` row as named fields (active, rank, pv, gv, left, right,
    /// one amount per bonus, total).
    pub summary: BTreeMap<String, String>,
    /// Every commission line: what was paid, on which volume, at which rate.
    pub lines: Vec<LineView>,
}

const SUMMARY_COLUMNS: [&str; 15] = [
    "id",
    "active",
    "rank",
    "pv",
    "gv",
    "left",
    "right",
    "unilevel",
    "matrix",
    "binary",
    "matching",
    "fast_start",
    "rank_advancement",
    "pool",
    "total",
];

fn statement_view(run_id: &str, statement: Statement) -> StatementView {
    let summary = SUMMARY_COLUMNS
        .iter()
        .zip(statement.summary.split(','))
        .skip(1)
        .map(|(column, value)| (column.to_string(), value.to_owned()))
        .collect();
    let lines = statement
        .lines
        .iter()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let [_, bonus, source, level, base, rate, amount] = cells[..] else {
                return None;
            };
            Some(LineView {
                bonus: bonus.into(),
                source: source.into(),
                level: level.parse().unwrap_or(0),
                base: base.into(),
                rate: rate.into(),
                amount: amount.into(),
            })
        })
        .collect();
    StatementView {
        run_id: run_id.to_owned(),
        distributor_id: statement.distributor_id,
        summary,
        lines,
    }
}

/// One distributor's statement in a run, with its explanation lines.
#[utoipa::path(get, path = "/v1/runs/{run_id}/statements/{distributor_id}", tag = "runs",
    params(("run_id" = String, Path), ("distributor_id" = String, Path)),
    responses((status = 200, body = StatementView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn get_statement(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path((run_id, distributor_id)): Path<(String, String)>,
) -> ApiResult<Json<StatementView>> {
    let statement = state
        .store()
        .statement(&tenant.tenant.id, &run_id, &distributor_id)
        .await?;
    let statement = statement.ok_or_else(|| {
        ApiError::NotFound(format!("statement of {distributor_id:?} in run {run_id:?}"))
    })?;
    Ok(Json(statement_view(&run_id, statement)))
}
