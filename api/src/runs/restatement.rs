//! Restatements: a refund of an order in a committed period re-runs the period, and only the
//! differences are posted, as adjustments (negative ones claw back from the wallet, which may
//! then stand below zero until earned back).
//!
//! A restatement that stopped half way (its process died) is carried on, not begun again: the
//! run that restates the one in force is found by its `restates` and goes on from its status
//! — computed again, committed, its differences posted (their ids derive from the run and the
//! line, so none is paid twice), the old run superseded. Every start of `upline serve` (and of
//! `upline worker --closes`) carries on the restatements it finds unfinished.

use super::compute::{compute, is_effective};
use super::lifecycle::{new_run, set_status};
use super::posting::{line_amounts, line_transfer, payee_account, post_all};
use crate::periods::periods_of;
use crate::state::{now_ms, AppState, TenantRuntime};
use std::sync::Arc;
use store::{Run, RunStatus, TransferKind};

/// After a refund of an order dated `date`: restates the periods it counted in that have an
/// effective run. The restating runs are stored before this returns (so a process that dies
/// afterwards leaves them to the next start, see [`resume_unfinished`]); they are computed and
/// posted in the background, failures logged, the old run standing meanwhile.
pub async fn restate_after_refund(state: AppState, tenant: Arc<TenantRuntime>, date: String) {
    let Some(day) = engine::calendar::parse_date(date.as_bytes()) else {
        return;
    };
    let periods = periods_of(day);
    for period in &periods {
        if let Err(error) = begin(&state, &tenant, period).await {
            tracing::error!(tenant = %tenant.tenant.id, %period, %error, "starting a restatement failed");
        }
    }
    tokio::spawn(async move {
        for period in periods {
            if let Err(error) = restate(&state, &tenant, &period).await {
                tracing::error!(tenant = %tenant.tenant.id, %period, %error, "restatement failed");
            }
        }
    });
}

/// Stores the run restating `period`'s effective run, unless there is none or one is under
/// way already: then the restatement this refund spawns waits for that one (the tenant's lock)
/// and restates its result again, counting this refund.
async fn begin(state: &AppState, tenant: &TenantRuntime, period: &str) -> Result<(), String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let runs = state
        .store()
        .runs(&tenant.tenant.id)
        .await
        .map_err(|error| error.to_string())?;
    if runs
        .iter()
        .any(|run| run.period == period && is_unfinished_restatement(run))
    {
        return Ok(());
    }
    let Some(old) = runs
        .iter()
        .find(|run| run.period == period && is_effective(run))
    else {
        return Ok(());
    };
    new_run(state, tenant, period, Some(old.run_id.clone()))
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Whether `run` restates another and has not finished doing so.
fn is_unfinished_restatement(run: &Run) -> bool {
    run.restates.is_some()
        && matches!(
            run.status,
            RunStatus::Running | RunStatus::Preview | RunStatus::Committed
        )
}

/// Carries on every restatement left unfinished (by a process that died), tenant by tenant;
/// runs in the background, logging what fails.
pub fn resume_unfinished(state: AppState) {
    tokio::spawn(async move {
        let tenants = match state.store().tenants().await {
            Ok(tenants) => tenants,
            Err(error) => {
                tracing::error!(%error, "listing the tenants for unfinished restatements failed");
                return;
            }
        };
        for tenant in tenants
            .into_iter()
            .filter(|tenant| tenant.home_region.is_none())
        {
            let runs = match state.store().runs(&tenant.id).await {
                Ok(runs) => runs,
                Err(error) => {
                    tracing::error!(tenant = %tenant.id, %error, "reading the runs failed");
                    continue;
                }
            };
            for run in runs.iter().filter(|run| is_unfinished_restatement(run)) {
                let Ok(Some(runtime)) = crate::runtime::tenant_runtime(&state, &tenant.id).await
                else {
                    continue;
                };
                tracing::info!(tenant = %tenant.id, run = %run.run_id, "carrying on an unfinished restatement");
                if let Err(error) = restate(&state, &runtime, &run.period).await {
                    tracing::error!(tenant = %tenant.id, run = %run.run_id, %error, "restatement failed");
                }
            }
        }
    });
}

/// Restates `period` if it has an effective run — or carries on its unfinished restatement;
/// returns the new run.
pub async fn restate(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
) -> Result<Option<Run>, String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let tenant_id = &tenant.tenant.id;
    let runs = state
        .store()
        .runs(tenant_id)
        .await
        .map_err(|error| error.to_string())?;
    let unfinished = runs
        .iter()
        .find(|run| run.period == period && is_unfinished_restatement(run))
        .cloned();
    let old = match &unfinished {
        Some(run) => runs
            .iter()
            .find(|old| Some(&old.run_id) == run.restates.as_ref() && is_effective(old)),
        None => runs
            .iter()
            .find(|run| run.period == period && is_effective(run)),
    };
    let Some(old) = old.cloned() else {
        return Ok(None);
    };
    let mut run = match unfinished {
        Some(run) => run,
        None => new_run(state, tenant, period, Some(old.run_id.clone()))
            .await
            .map_err(|error| error.to_string())?,
    };
    if run.status == RunStatus::Running {
        run = compute(state, tenant, run).await;
        if run.status != RunStatus::Preview {
            return Err(run.error.unwrap_or_else(|| "the restatement failed".into()));
        }
    }
    if run.status == RunStatus::Preview {
        run = set_status(state, tenant_id, run, RunStatus::Committed)
            .await
            .map_err(|error| error.to_string())?;
        crate::failpoint::crash_at("restatement-committed");
    }
    let run = if old.status == RunStatus::Posted {
        post_differences(state, tenant, &old, &run).await?;
        set_status(state, tenant_id, run, RunStatus::Posted)
            .await
            .map_err(|error| error.to_string())?
    } else {
        run
    };
    set_status(state, tenant_id, old, RunStatus::Superseded)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Some(run))
}

/// Posts `new - old` for every line, as adjustments of the new run.
async fn post_differences(
    state: &AppState,
    tenant: &TenantRuntime,
    old: &Run,
    new: &Run,
) -> Result<u64, String> {
    let tenant_id = &tenant.tenant.id;
    let store = state.store();
    let old_lines = line_amounts(
        &store
            .statements(tenant_id, &old.run_id)
            .await
            .map_err(|error| error.to_string())?,
    )?;
    let new_lines = line_amounts(
        &store
            .statements(tenant_id, &new.run_id)
            .await
            .map_err(|error| error.to_string())?,
    )?;
    let now = now_ms();
    let mut transfers = Vec::new();
    let keys: std::collections::BTreeSet<&String> =
        old_lines.keys().chain(new_lines.keys()).collect();
    for key in keys {
        let (recipient, old_amount) = old_lines.get(key).cloned().unwrap_or_default();
        let (new_recipient, new_amount) = new_lines.get(key).cloned().unwrap_or_default();
        let recipient = if recipient.is_empty() {
            new_recipient
        } else {
            recipient
        };
        let difference = new_amount - old_amount;
        if difference != 0 {
            let id = format!("{}/adjust/{key}", new.run_id);
            transfers.push(line_transfer(
                id,
                &recipient,
                payee_account(state, tenant, &recipient),
                difference,
                TransferKind::Adjustment,
                now,
            ));
        }
    }
    post_all(state, tenant_id, transfers)
        .await
        .map_err(|error| error.to_string())
}
