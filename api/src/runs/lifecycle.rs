//! A run's lifecycle: preview (computed, stored, not payable) → commit (immutable, the
//! period's result) → post (ledger transfers). Each step is a compare-and-set on the run's
//! status, so a retried or concurrent step happens once.

use super::compute::{compute, is_effective};
use super::posting::{post_all, RunTransfers, TRANSFERS_PER_POST};
use crate::error::{ApiError, ApiResult};
use crate::state::{now_ms, AppState, TenantRuntime};
use std::sync::Arc;
use store::{Run, RunStatus};

/// Stores a new `Running` run of `period` with the next free id (`<period>.<n>`). A run
/// restating `restates` pays by the plan version that run was paid by; any other by the
/// runtime's.
pub async fn new_run(
    state: &AppState,
    tenant: &TenantRuntime,
    period: &str,
    restates: Option<&Run>,
) -> ApiResult<Run> {
    let plan_version = restates.map_or(tenant.tenant.plan_version, |old| old.plan_version);
    let restates = restates.map(|old| old.run_id.clone());
    let tenant_id = &tenant.tenant.id;
    let existing = state.store().runs(tenant_id).await?;
    let mut number = existing.iter().filter(|run| run.period == period).count() + 1;
    loop {
        let run = Run {
            run_id: format!("{period}.{number}"),
            period: period.to_owned(),
            plan_version,
            status: RunStatus::Running,
            restates: restates.clone(),
            created_at_ms: now_ms(),
            distributors: 0,
            lines: 0,
            totals: Vec::new(),
            error: None,
        };
        match state.store().create_run(tenant_id, run.clone()).await {
            Ok(()) => return Ok(run),
            Err(store::StoreError::Conflict { .. }) => number += 1,
            Err(error) => return Err(error.into()),
        }
    }
}

/// Moves `run` to `to`, if it still has the status it was read with.
pub async fn set_status(
    state: &AppState,
    tenant_id: &str,
    run: Run,
    to: RunStatus,
) -> ApiResult<Run> {
    let from = run.status;
    let changed = Run { status: to, ..run };
    if state
        .store()
        .update_run(tenant_id, from, changed.clone())
        .await?
    {
        Ok(changed)
    } else {
        Err(ApiError::Conflict(format!(
            "run {:?} changed meanwhile; read it again",
            changed.run_id
        )))
    }
}

/// Starts a preview run of `period` in the background; answers at once with the running run.
pub async fn start_preview(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
) -> ApiResult<Run> {
    engine::calendar::Period::parse(period)
        .map_err(|error| ApiError::invalid("period", error.to_string()))?;
    // Paid by the plan in force now, even when another process changed it.
    let tenant = &crate::runtime::with_current_plan(state, tenant.clone()).await?;
    let run = {
        let _lifecycle = tenant.run_lifecycle.lock().await;
        new_run(state, tenant, period, None).await?
    };
    state.runs().set(&tenant.tenant.id, &run.run_id, "queued");
    let (state, tenant, running) = (state.clone(), tenant.clone(), run.clone());
    tokio::spawn(async move {
        compute(&state, &tenant, running).await;
    });
    Ok(run)
}

/// The run, or 404.
pub async fn find_run(state: &AppState, tenant_id: &str, run_id: &str) -> ApiResult<Run> {
    state
        .store()
        .run(tenant_id, run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {run_id:?}")))
}

/// Commits a preview: it becomes the period's result. A period has one effective run; to
/// change a committed period, refund or correct and let the restatement do it.
pub async fn commit(state: &AppState, tenant: &TenantRuntime, run_id: &str) -> ApiResult<Run> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let tenant_id = &tenant.tenant.id;
    let run = find_run(state, tenant_id, run_id).await?;
    match run.status {
        RunStatus::Preview => {}
        RunStatus::Committed | RunStatus::Posted => return Ok(run),
        other => {
            return Err(ApiError::Conflict(format!(
                "run {run_id:?} is {other:?}; only a preview can be committed"
            )))
        }
    }
    let runs = state.store().runs(tenant_id).await?;
    if let Some(effective) = runs
        .iter()
        .find(|other| other.period == run.period && is_effective(other))
    {
        return Err(ApiError::Conflict(format!(
            "period {} is already committed by run {:?}",
            run.period, effective.run_id
        )));
    }
    set_status(state, tenant_id, run, RunStatus::Committed).await
}

/// Posts a committed run: one transfer per line, ids derived from run and line, so a retry
/// (or a post resumed after a crash) pays nothing twice.
pub async fn post(state: &AppState, tenant: &TenantRuntime, run_id: &str) -> ApiResult<Run> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let tenant_id = &tenant.tenant.id;
    let run = find_run(state, tenant_id, run_id).await?;
    match run.status {
        RunStatus::Committed => {}
        RunStatus::Posted => return Ok(run),
        other => {
            return Err(ApiError::Conflict(format!(
                "run {run_id:?} is {other:?}; commit it before posting"
            )))
        }
    }
    let mut transfers = RunTransfers::new(state, tenant, run_id, TRANSFERS_PER_POST);
    while let Some(batch) = transfers.next_batch().await? {
        post_all(state, tenant_id, batch).await?;
    }
    set_status(state, tenant_id, run, RunStatus::Posted).await
}
