//! Scheduled closes: one period of one tenant closed, committed and posted by whichever
//! process holds the period's lease (`worker::closes`), carried on from whatever step a
//! process that died there left it at.
//!
//! A scheduled close makes one run per period, `<period>.scheduled`: a closer that takes over
//! (once the dead one's lease lapsed) finds it and goes on from its status instead of making
//! another, so a period is never paid twice whoever dies when:
//! - `running` — its closer died computing: it is computed again. Computing is deterministic
//!   and the statements of a distributor overwrite the ones written before.
//! - `preview` — committed.
//! - `committed` — posted. Transfer ids derive from the run and the line, so the transfers
//!   the dead closer posted are not posted again.
//! - `failed` — computed again: the closer retries at its next scan, and a fixed input (a
//!   new plan version, a refund) may make it succeed.
//!
//! A period someone committed through the API is only posted.

use super::compute::{compute, is_effective};
use super::lifecycle::set_status;
use super::posting::{post_all, RunTransfers, TRANSFERS_PER_POST};
use crate::error::ApiError;
use crate::failpoint::crash_at;
use crate::state::{now_ms, AppState, TenantRuntime};
use std::sync::Arc;
use store::{Run, RunStatus, StoreError};

/// The one run a scheduled close makes of `period`.
pub fn scheduled_run_id(period: &str) -> String {
    format!("{period}.scheduled")
}

/// Whether the process still holds the close's lease; checked before every step that pays
/// or commits, so that a closer whose lease lapsed (a long pause) stops there.
pub type LeaseHeld<'a> = &'a (dyn Fn() -> bool + Send + Sync);

pub(super) fn still_held(lease_held: LeaseHeld<'_>) -> Result<(), String> {
    if lease_held() {
        Ok(())
    } else {
        Err("the period's lease lapsed; another process carries the job on".into())
    }
}

/// Closes `period` of the tenant to the end (posted); returns the run that pays it.
pub async fn close_period(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
    lease_held: LeaseHeld<'_>,
) -> Result<Run, String> {
    let tenant_id = &tenant.tenant.id;
    let run_id = scheduled_run_id(period);
    loop {
        let runs = state
            .store()
            .runs(tenant_id)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(effective) = runs
            .iter()
            .find(|run| run.period == period && is_effective(run))
        {
            return match effective.status {
                RunStatus::Committed => post(state, tenant, effective.clone(), lease_held).await,
                _ => Ok(effective.clone()),
            };
        }
        let Some(scheduled) = runs.into_iter().find(|run| run.run_id == run_id) else {
            still_held(lease_held)?;
            // Paid by the plan in force now, even when another process changed it.
            let current = crate::runtime::with_current_plan(state, tenant.clone())
                .await
                .map_err(|error| error.to_string())?;
            let run = new_scheduled_run(&current, period);
            match state.store().create_run(tenant_id, run).await {
                Ok(()) | Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.to_string()),
            }
        };
        match scheduled.status {
            RunStatus::Running => {
                let run = compute(state, tenant, scheduled).await;
                if run.status == RunStatus::Failed {
                    return Err(run.error.unwrap_or_else(|| "the close failed".into()));
                }
                crash_at("close-computed");
            }
            RunStatus::Failed => {
                still_held(lease_held)?;
                let again = Run {
                    error: None,
                    created_at_ms: now_ms(),
                    ..scheduled
                };
                set_status(state, tenant_id, again, RunStatus::Running)
                    .await
                    .map_err(|error| error.to_string())?;
            }
            RunStatus::Preview => {
                still_held(lease_held)?;
                let _lifecycle = tenant.run_lifecycle.lock().await;
                set_status(state, tenant_id, scheduled, RunStatus::Committed)
                    .await
                    .map_err(|error| error.to_string())?;
                crash_at("close-committed");
            }
            other => {
                return Err(format!(
                    "run {run_id:?} is {} while period {period} has no effective run",
                    other.as_str()
                ))
            }
        }
    }
}

fn new_scheduled_run(tenant: &TenantRuntime, period: &str) -> Run {
    Run {
        run_id: scheduled_run_id(period),
        period: period.to_owned(),
        plan_version: tenant.tenant.plan_version,
        status: RunStatus::Running,
        restates: None,
        created_at_ms: now_ms(),
        distributors: 0,
        lines: 0,
        totals: Vec::new(),
        error: None,
    }
}

/// Posts a committed run a batch at a time, with a crash point after each batch (the failover
/// tests end a closer there, partly paid). A run of fewer lines than a full batch still goes in
/// two batches, so that the crash point falls half way through it.
async fn post(
    state: &AppState,
    tenant: &TenantRuntime,
    run: Run,
    lease_held: LeaseHeld<'_>,
) -> Result<Run, String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let tenant_id = &tenant.tenant.id;
    let failed = |error: ApiError| error.to_string();
    let batch = usize::try_from(run.lines.div_ceil(2))
        .unwrap_or(usize::MAX)
        .min(TRANSFERS_PER_POST);
    let mut transfers = RunTransfers::new(state, tenant, &run.run_id, batch);
    while let Some(batch) = transfers.next_batch().await.map_err(failed)? {
        still_held(lease_held)?;
        post_all(state, tenant_id, batch).await.map_err(failed)?;
        crash_at("close-partly-posted");
    }
    set_status(state, tenant_id, run, RunStatus::Posted)
        .await
        .map_err(|error| error.to_string())
}
