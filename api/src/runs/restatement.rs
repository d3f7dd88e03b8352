//! Restatements: a refund of an order in a period that has an effective run re-runs the
//! period, and only the differences are posted, as adjustments (negative ones claw back from
//! the wallet, which may then stand below zero until earned back).
//!
//! Two places start them, and the period's lease (`store::held_lease::period_job`, the one a
//! scheduled close holds) keeps any two from changing one period's runs at once:
//! - **In process** (`upline serve`, unless `--no-closes`): the refund's handler stores the
//!   restating run before it answers ([`restate_after_refund`]), then computes and posts it in
//!   the background under the lease. Every start of `upline serve` or `upline worker --closes`
//!   carries on what a dead process left unfinished ([`resume_unfinished`]).
//! - **From the refund events** (`upline worker --closes`): [`restate_refund`] restates the
//!   period with a run named after the refund's outbox sequence, `<period>.r<sequence>`, so a
//!   redelivered refund finds its run finished (or carries it on) instead of starting another.
//!
//! A restatement that stopped half way is carried on, not begun again: it is found by its
//! `restates` and goes on from its status — computed again, committed, its differences posted
//! (their ids derive from the run and the line, so none is paid twice), the old run superseded.
//! Restating counts every refund stored before it computes, so restating a run that counts them
//! all already posts nothing: a restatement too many is harmless, two at once are not (each
//! would post the same differences), hence the lease.

use super::close::{still_held, LeaseHeld};
use super::compute::{compute, is_effective};
use super::lifecycle::{new_run, set_status};
use super::pages::{StatementCursor, StatementPages};
use super::posting::{line_amounts, line_transfer, payee_account, post_all, TRANSFERS_PER_POST};
use crate::periods::periods_of;
use crate::state::{now_ms, AppState, TenantRuntime};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::held_lease::{period_job, run_under_lease, Leased};
use store::{Run, RunStatus, Statement, StoreError, TransferKind};

/// How long a restatement in process waits before asking again for a lease another process
/// holds.
const LEASE_WAIT: Duration = Duration::from_millis(500);

/// What restating a period for a refund came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restated {
    /// A run restating the period was finished: this one.
    Restated(Run),
    /// The refund's restatement was finished before (a redelivered refund).
    AlreadyRestated,
    /// The period has no effective run: its close, whenever it comes, counts the refund.
    NothingToRestate,
}

/// The run that restates `period` for the refund stored at outbox `sequence`.
pub fn refund_run_id(period: &str, sequence: u64) -> String {
    format!("{period}.r{sequence}")
}

/// After a refund of an order dated `date`, in process: restates the periods it counted in
/// that have an effective run. The restating runs are stored before this returns (so a process
/// that dies afterwards leaves them to the next start, see [`resume_unfinished`]); they are
/// computed and posted in the background under each period's lease, failures logged, the old
/// run standing meanwhile.
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
            if let Err(error) = restate_in_process(&state, &tenant, &period).await {
                tracing::error!(tenant = %tenant.tenant.id, %period, %error, "restatement failed");
            }
        }
    });
}

/// Stores the run restating `period`'s effective run, unless there is none or one is under
/// way already: then the restatement this refund spawns carries that one on, computing it
/// after this refund was stored. Takes no lease (the refund's answer does not wait for one):
/// a run begun while another process restated the period is pointed at that one's result
/// before it is computed (see [`carry_on`]).
async fn begin(state: &AppState, tenant: &TenantRuntime, period: &str) -> Result<(), String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let runs = runs_of(state, tenant).await?;
    if unfinished_restatement(&runs, period).is_some() {
        return Ok(());
    }
    let Some(old) = effective_run(&runs, period) else {
        return Ok(());
    };
    new_run(state, tenant, period, Some(old))
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Restates `period` in this process under its lease, waiting for the lease while another
/// process holds it.
async fn restate_in_process(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
) -> Result<Option<Run>, String> {
    let leases = state.period_leases();
    let job = period_job(&tenant.tenant.id, period);
    loop {
        let leased = run_under_lease(
            state.store().clone(),
            &job,
            &leases.holder,
            leases.valid_for,
            |lease_held| async move { restate(state, tenant, period, &*lease_held).await },
        )
        .await?;
        match leased {
            Leased::Ran(outcome) => return outcome,
            Leased::HeldElsewhere => tokio::time::sleep(LEASE_WAIT).await,
        }
    }
}

/// Whether `run` restates another and has not finished doing so: not computed or committed
/// yet, or the run it restates is still in force (its process died before superseding it).
fn is_unfinished_restatement(run: &Run, runs: &[Run]) -> bool {
    let Some(restated) = &run.restates else {
        return false;
    };
    match run.status {
        RunStatus::Running | RunStatus::Preview => true,
        RunStatus::Committed | RunStatus::Posted => runs
            .iter()
            .any(|old| &old.run_id == restated && is_effective(old)),
        RunStatus::Failed | RunStatus::Superseded => false,
    }
}

fn unfinished_restatement<'a>(runs: &'a [Run], period: &str) -> Option<&'a Run> {
    runs.iter()
        .find(|run| run.period == period && is_unfinished_restatement(run, runs))
}

fn effective_run<'a>(runs: &'a [Run], period: &str) -> Option<&'a Run> {
    runs.iter()
        .find(|run| run.period == period && is_effective(run))
}

async fn runs_of(state: &AppState, tenant: &TenantRuntime) -> Result<Vec<Run>, String> {
    state
        .store()
        .runs(&tenant.tenant.id)
        .await
        .map_err(|error| error.to_string())
}

/// Carries on every restatement left unfinished (by a process that died), tenant by tenant,
/// each under its period's lease; runs in the background, logging what fails.
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
            .filter(|tenant| tenant.is_at_home_in(state.region()))
        {
            let runs = match state.store().runs(&tenant.id).await {
                Ok(runs) => runs,
                Err(error) => {
                    tracing::error!(tenant = %tenant.id, %error, "reading the runs failed");
                    continue;
                }
            };
            for run in runs
                .iter()
                .filter(|run| is_unfinished_restatement(run, &runs))
            {
                let Ok(Some(runtime)) = crate::runtime::tenant_runtime(&state, &tenant.id).await
                else {
                    continue;
                };
                tracing::info!(tenant = %tenant.id, run = %run.run_id, "carrying on an unfinished restatement");
                if let Err(error) = restate_in_process(&state, &runtime, &run.period).await {
                    tracing::error!(tenant = %tenant.id, run = %run.run_id, %error, "restatement failed");
                }
            }
        }
    });
}

/// Restates `period` if it has an effective run — or carries on its unfinished restatement;
/// returns the run that restated it. The caller holds the period's lease (`lease_held`).
pub async fn restate(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
    lease_held: LeaseHeld<'_>,
) -> Result<Option<Run>, String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let runs = runs_of(state, tenant).await?;
    let run = match unfinished_restatement(&runs, period) {
        Some(run) => run.clone(),
        None => {
            let Some(old) = effective_run(&runs, period) else {
                return Ok(None);
            };
            still_held(lease_held)?;
            new_run(state, tenant, period, Some(old))
                .await
                .map_err(|error| error.to_string())?
        }
    };
    carry_on(state, tenant, run, lease_held).await.map(Some)
}

/// Restates `period` for the refund stored at outbox `sequence` (an `order.refunded` event):
/// first carries on any restatement of the period left unfinished, then, unless the refund's
/// own run (`<period>.r<sequence>`) is finished already, makes and finishes it. The caller
/// holds the period's lease (`lease_held`).
pub async fn restate_refund(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    period: &str,
    sequence: u64,
    lease_held: LeaseHeld<'_>,
) -> Result<Restated, String> {
    let _lifecycle = tenant.run_lifecycle.lock().await;
    let own_id = refund_run_id(period, sequence);
    loop {
        let runs = runs_of(state, tenant).await?;
        let own = runs.iter().find(|run| run.run_id == own_id);
        if let Some(own) = own.filter(|own| own.status == RunStatus::Failed) {
            // It failed computing (the store, say): compute it again.
            still_held(lease_held)?;
            let again = Run {
                error: None,
                created_at_ms: now_ms(),
                ..own.clone()
            };
            set_status(state, &tenant.tenant.id, again, RunStatus::Running)
                .await
                .map_err(|error| error.to_string())?;
            continue;
        }
        if own.is_some_and(|own| !is_unfinished_restatement(own, &runs)) {
            return Ok(Restated::AlreadyRestated);
        }
        if let Some(unfinished) = unfinished_restatement(&runs, period) {
            let finished = carry_on(state, tenant, unfinished.clone(), lease_held).await?;
            if finished.run_id == own_id {
                return Ok(Restated::Restated(finished));
            }
            continue;
        }
        let Some(old) = effective_run(&runs, period) else {
            return Ok(Restated::NothingToRestate);
        };
        still_held(lease_held)?;
        let run = Run {
            run_id: own_id.clone(),
            period: period.to_owned(),
            // The period is paid again by the rules it was paid by.
            plan_version: old.plan_version,
            status: RunStatus::Running,
            restates: Some(old.run_id.clone()),
            created_at_ms: now_ms(),
            distributors: 0,
            lines: 0,
            totals: Vec::new(),
            error: None,
        };
        match state.store().create_run(&tenant.tenant.id, run).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Finishes the restating `run` from its status: computes it (`running`), commits it
/// (`preview`), posts its differences if the run it restates was posted, and supersedes that
/// run. A run not computed yet whose old run was superseded meanwhile (begun without the lease
/// while another restatement ran) restates the period's run in force instead.
async fn carry_on(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    mut run: Run,
    lease_held: LeaseHeld<'_>,
) -> Result<Run, String> {
    let tenant_id = &tenant.tenant.id;
    let runs = runs_of(state, tenant).await?;
    let restated = runs
        .iter()
        .find(|old| Some(&old.run_id) == run.restates.as_ref() && is_effective(old));
    let old = match restated {
        Some(old) => old.clone(),
        None if run.status == RunStatus::Running => {
            let Some(current) = effective_run(&runs, &run.period).cloned() else {
                return Err(format!(
                    "restatement {} has no effective run of {} to restate",
                    run.run_id, run.period
                ));
            };
            let repointed = Run {
                restates: Some(current.run_id.clone()),
                ..run.clone()
            };
            if !state
                .store()
                .update_run(tenant_id, RunStatus::Running, repointed.clone())
                .await
                .map_err(|error| error.to_string())?
            {
                return Err(format!("run {:?} changed meanwhile", run.run_id));
            }
            run = repointed;
            current
        }
        None => {
            return Err(format!(
                "restatement {} is {} but the run it restates is no longer in force",
                run.run_id,
                run.status.as_str()
            ))
        }
    };
    if run.status == RunStatus::Running {
        run = compute(state, tenant, run).await;
        if run.status != RunStatus::Preview {
            return Err(run.error.unwrap_or_else(|| "the restatement failed".into()));
        }
    }
    if run.status == RunStatus::Preview {
        still_held(lease_held)?;
        run = set_status(state, tenant_id, run, RunStatus::Committed)
            .await
            .map_err(|error| error.to_string())?;
        crate::failpoint::crash_at("restatement-committed");
    }
    let run = if old.status == RunStatus::Posted && run.status != RunStatus::Posted {
        still_held(lease_held)?;
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
    Ok(run)
}

/// Posts `new - old` for every line, as adjustments of the new run. Both runs are read a page
/// at a time and side by side, in id order: a distributor's lines are all in their own
/// statement (they are its recipient), so the two statements of one id hold every line whose
/// amount may differ.
async fn post_differences(
    state: &AppState,
    tenant: &TenantRuntime,
    old: &Run,
    new: &Run,
) -> Result<u64, String> {
    let tenant_id = &tenant.tenant.id;
    let failed = |error: StoreError| error.to_string();
    let cursor = |run: &Run| {
        StatementCursor::new(StatementPages::new(
            state.store().clone(),
            tenant_id,
            &run.run_id,
        ))
    };
    let (mut old_statements, mut new_statements) = (cursor(old), cursor(new));
    let now = now_ms();
    let mut posted = 0;
    let mut transfers = Vec::new();
    loop {
        let old_id = old_statements.next_id().await.map_err(failed)?;
        let new_id = new_statements.next_id().await.map_err(failed)?;
        let (old_statement, new_statement) = match (old_id, new_id) {
            (None, None) => break,
            (Some(old_id), Some(new_id)) if old_id == new_id => {
                (old_statements.take(), new_statements.take())
            }
            (Some(old_id), new_id) if new_id.is_none_or(|new_id| old_id < new_id) => {
                (old_statements.take(), None)
            }
            _ => (None, new_statements.take()),
        };
        for (key, recipient, difference) in
            differences(old_statement.as_ref(), new_statement.as_ref())?
        {
            transfers.push(line_transfer(
                format!("{}/adjust/{key}", new.run_id),
                &recipient,
                payee_account(state, tenant, &recipient),
                difference,
                TransferKind::Adjustment,
                now,
            ));
        }
        if transfers.len() >= TRANSFERS_PER_POST {
            posted += post_all(state, tenant_id, std::mem::take(&mut transfers))
                .await
                .map_err(|error| error.to_string())?;
        }
    }
    posted += post_all(state, tenant_id, transfers)
        .await
        .map_err(|error| error.to_string())?;
    Ok(posted)
}

/// `new - old` for every line of one distributor's two statements (either may be missing),
/// as (line identity, recipient, difference in minor units), leaving out lines that did not
/// change.
fn differences(
    old: Option<&Statement>,
    new: Option<&Statement>,
) -> Result<Vec<(String, String, i64)>, String> {
    let amounts = |statement: Option<&Statement>| {
        line_amounts(statement.map(std::slice::from_ref).unwrap_or_default())
    };
    let (old_lines, new_lines) = (amounts(old)?, amounts(new)?);
    let keys: std::collections::BTreeSet<&String> =
        old_lines.keys().chain(new_lines.keys()).collect();
    // Both statements are one distributor's, the recipient of every line in them.
    let recipient = old.or(new).map(|statement| &statement.distributor_id);
    let amount = |lines: &BTreeMap<String, (String, i64)>, key: &String| {
        lines.get(key).map_or(0, |(_, amount)| *amount)
    };
    Ok(keys
        .into_iter()
        .filter_map(|key| {
            let difference = amount(&new_lines, key) - amount(&old_lines, key);
            let recipient = recipient.expect("a line comes from a statement").clone();
            (difference != 0).then(|| (key.clone(), recipient, difference))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(lines: &[&str]) -> Statement {
        Statement {
            distributor_id: "a".into(),
            summary: "a,true".into(),
            lines: lines.iter().map(|line| (*line).to_owned()).collect(),
            state: "a,0,0,Member".into(),
        }
    }

    #[test]
    fn only_changed_lines_are_adjusted_and_a_missing_side_counts_as_nothing() {
        let old = statement(&[
            "a,unilevel,b,1,100.0000,0.05,5.00",
            "a,unilevel,c,1,40.0000,0.05,2.00",
            "a,unilevel,d,2,10.0000,0.05,0.50",
        ]);
        let new = statement(&[
            "a,unilevel,b,1,100.0000,0.05,5.00",
            "a,unilevel,c,1,20.0000,0.05,1.00",
            "a,unilevel,e,2,30.0000,0.05,1.50",
        ]);
        let adjusted =
            |old: Option<&Statement>, new: Option<&Statement>| differences(old, new).unwrap();
        let row = |key: &str, amount: i64| (key.to_owned(), "a".to_owned(), amount);
        assert_eq!(
            adjusted(Some(&old), Some(&new)),
            [
                row("a/unilevel/c/1", -100),
                row("a/unilevel/d/2", -50),
                row("a/unilevel/e/2", 150),
            ]
        );
        assert_eq!(
            adjusted(None, Some(&new)),
            [
                row("a/unilevel/b/1", 500),
                row("a/unilevel/c/1", 100),
                row("a/unilevel/e/2", 150),
            ]
        );
        assert_eq!(adjusted(Some(&old), None)[0], row("a/unilevel/b/1", -500));
        assert!(adjusted(Some(&old), Some(&old)).is_empty());
        assert!(adjusted(None, None).is_empty());
    }
}
