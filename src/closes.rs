//! Scheduled closes and restatements in this binary: the worker crate's scheduler and
//! restatement worker (which periods, which process, under which lease) driving the API
//! crate's resumable close and restatement of a period.

use api::state::AppState;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use worker::bus::EventBus;
use worker::closes::{CloseProgress, CloseScheduler, PeriodCloser, ScheduleConfig};
use worker::dead_letters::DeadLetters;
use worker::restatements::{
    consumer_config, RefundRestater, Restatement, RestatementConfig, RestatementProgress,
    RestatementWorker,
};

/// How long a close's lease lasts unless told otherwise: a dead closer's close is carried on
/// by another process within this (plus a scan).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How often the tenants are scanned for due closes.
pub const DEFAULT_SCAN_EVERY: Duration = Duration::from_secs(60);

/// Closes periods through the run lifecycle of `state`.
struct ApiCloser {
    state: AppState,
    /// Whether a close first reads the tenant's genealogy index from the store: a process
    /// that enrolls nobody (a worker) holds the index it loaded at start, and a close pays
    /// each distributor where they reside, which the index tells.
    refresh_index: bool,
}

#[async_trait]
impl PeriodCloser for ApiCloser {
    async fn close(
        &self,
        tenant_id: &str,
        period: &str,
        lease_held: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<String, String> {
        let tenant = api::runtime::tenant_runtime(&self.state, tenant_id)
            .await?
            .ok_or_else(|| format!("tenant {tenant_id:?} is not in the store"))?;
        if self.refresh_index {
            api::runtime::rebuild_directory(&**self.state.store(), &tenant).await?;
        }
        let run = api::runs::close::close_period(&self.state, &tenant, period, lease_held).await?;
        Ok(account_of(&run))
    }
}

/// A one-line account of a run: id, status, size and totals.
fn account_of(run: &store::Run) -> String {
    let total: Vec<String> = run
        .totals
        .iter()
        .map(|(bonus, amount)| format!("{bonus} {amount}"))
        .collect();
    format!(
        "run {} {} ({} distributors, {} lines; {})",
        run.run_id,
        run.status.as_str(),
        run.distributors,
        run.lines,
        total.join(", ")
    )
}

/// Restates periods for refunds through the run lifecycle of `state`.
struct ApiRestater {
    state: AppState,
}

#[async_trait]
impl RefundRestater for ApiRestater {
    async fn restate(
        &self,
        tenant_id: &str,
        period: &str,
        sequence: u64,
        lease_held: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Restatement, String> {
        let Some(tenant) = api::runtime::tenant_runtime(&self.state, tenant_id).await? else {
            return Err(format!("tenant {tenant_id:?} is not in the store"));
        };
        if tenant.check_at_home().is_err() {
            // Its home region restates it (the relay publishes every tenant's events).
            return Ok(Restatement::NothingToRestate);
        }
        // A worker enrolls nobody: the index it loaded tells where new distributors reside.
        api::runtime::rebuild_directory(&**self.state.store(), &tenant).await?;
        use api::runs::restatement::{restate_refund, Restated};
        Ok(
            match restate_refund(&self.state, &tenant, period, sequence, lease_held).await? {
                Restated::Restated(run) => Restatement::Restated(account_of(&run)),
                Restated::AlreadyRestated => Restatement::AlreadyRestated,
                Restated::NothingToRestate => Restatement::NothingToRestate,
            },
        )
    }
}

/// Starts the restatement worker: the refunds of the region's stream restate the periods they
/// counted in, under the periods' leases.
pub async fn spawn_restatements(
    state: &AppState,
    events: &Arc<dyn EventBus>,
    events_subject_prefix: &str,
    dead_letters: DeadLetters,
) -> Result<tokio::sync::watch::Receiver<RestatementProgress>, String> {
    let consumer = events
        .consumer(consumer_config(
            events_subject_prefix,
            state.period_leases().valid_for,
        ))
        .await
        .map_err(|error| error.to_string())?;
    let leases = state.period_leases().clone();
    let worker = Arc::new(RestatementWorker::new(
        state.store().clone(),
        Arc::new(ApiRestater {
            state: state.clone(),
        }),
        consumer,
        dead_letters,
        RestatementConfig {
            holder: leases.holder,
            lease: leases.valid_for,
        },
    ));
    let progress = worker.progress();
    tokio::spawn(async move { worker.run().await });
    Ok(progress)
}

/// Where the scheduler runs: `serve` keeps its genealogy indexes current as it enrolls (and,
/// with --nats, as other processes do); a worker enrolls nobody.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Serve,
    Worker,
}

/// Starts scanning for due closes under the period leases set on `state`
/// ([`CloseArgs::set_leases`]); the scheduler runs until the runtime stops.
pub fn spawn_scheduler(
    state: &AppState,
    host: Host,
    scan_every: Duration,
) -> tokio::sync::watch::Receiver<CloseProgress> {
    let leases = state.period_leases();
    let scheduler = Arc::new(CloseScheduler::new(
        state.store().clone(),
        Arc::new(ApiCloser {
            state: state.clone(),
            refresh_index: host == Host::Worker,
        }),
        ScheduleConfig {
            holder: leases.holder.clone(),
            lease: leases.valid_for,
            scan_every,
            region: state.region().map(str::to_owned),
        },
    ));
    let progress = scheduler.progress();
    tokio::spawn(scheduler.run());
    progress
}

/// The flags that time the closes, shared by `serve` and `worker`.
#[derive(clap::Args, Debug, Clone)]
pub struct CloseArgs {
    /// How long a scheduled close's lease lasts: another process carries on a close whose
    /// process died at most this long after its last renewal (renewed every third of it).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LEASE.as_secs(), env = "UPLINE_CLOSE_LEASE")]
    pub close_lease: u64,
    /// Seconds between scans of the tenants for due closes.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_SCAN_EVERY.as_secs(), env = "UPLINE_CLOSE_SCAN")]
    pub close_scan: u64,
}

impl CloseArgs {
    /// Sets how this process holds period leases (to close or restate a period): before
    /// anything that takes one starts.
    pub fn set_leases(&self, state: &AppState) {
        state.set_period_leases(api::state::PeriodLeases {
            valid_for: Duration::from_secs(self.close_lease.max(1)),
            ..Default::default()
        });
    }

    pub fn spawn(
        &self,
        state: &AppState,
        host: Host,
    ) -> tokio::sync::watch::Receiver<CloseProgress> {
        spawn_scheduler(state, host, Duration::from_secs(self.close_scan.max(1)))
    }
}
