//! Restatements: a refund of an order in a committed period re-runs the period, and only the
//! differences are posted, as adjustments (negative ones claw back from the wallet, which may
//! then stand below zero until earned back).

use super::compute::{compute, is_effective};
use super::lifecycle::{new_run, set_status};
use super::posting::{line_amounts, line_transfer, payee_account, post_all};
use crate::periods::periods_of;
use crate::state::{now_ms, AppState, TenantRuntime};
use std::sync::Arc;
use store::{Run, RunStatus, TransferKind};

/// After a refund of an order dated `date`: restates the periods it counted in that have an
/// effective run. Runs in the background; failures are logged and leave the old run standing.
pub fn restate_after_refund(state: AppState, tenant: Arc<TenantRuntime>, date: String) {
    tokio::spawn(async move {
        let Some(day) = engine::calendar::parse_date(date.as_bytes()) else {
            return;
        };
        for period in periods_of(day) {
            if let Err(error) = restate(&state, &tenant, &period).await {
                tracing::error!(tenant = %tenant.tenant.id, %period, %error, "restatement failed");
            }
        }
    });
}

/// Restates `period` if it has an effective run; returns the new run.
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
    let Some(old) = runs
        .into_iter()
        .find(|run| run.period == period && is_effective(run))
    else {
        return Ok(None);
    };
    let run = new_run(state, tenant, period, Some(old.run_id.clone()))
        .await
        .map_err(|error| error.to_string())?;
    let run = compute(state, tenant, run).await;
    if run.status != RunStatus::Preview {
        return Err(run.error.unwrap_or_else(|| "the restatement failed".into()));
    }
    let run = set_status(state, tenant_id, run, RunStatus::Committed)
        .await
        .map_err(|error| error.to_string())?;
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
