//! Scheduled closes in this binary: the worker crate's scheduler (which periods, which
//! process, under which lease) driving the API crate's resumable close of a period.

use api::state::AppState;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use worker::closes::{CloseProgress, CloseScheduler, PeriodCloser, ScheduleConfig};

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
        let total: Vec<String> = run
            .totals
            .iter()
            .map(|(bonus, amount)| format!("{bonus} {amount}"))
            .collect();
        Ok(format!(
            "run {} {} ({} distributors, {} lines; {})",
            run.run_id,
            run.status.as_str(),
            run.distributors,
            run.lines,
            total.join(", ")
        ))
    }
}

/// Where the scheduler runs: `serve` keeps its genealogy indexes current as it enrolls (and,
/// with --nats, as other processes do); a worker enrolls nobody.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Serve,
    Worker,
}

/// Starts scanning for due closes; the scheduler runs until the runtime stops.
pub fn spawn_scheduler(
    state: &AppState,
    host: Host,
    lease: Duration,
    scan_every: Duration,
) -> tokio::sync::watch::Receiver<CloseProgress> {
    let scheduler = Arc::new(CloseScheduler::new(
        state.store().clone(),
        Arc::new(ApiCloser {
            state: state.clone(),
            refresh_index: host == Host::Worker,
        }),
        ScheduleConfig {
            holder: worker::closes::holder_name(),
            lease,
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
    pub fn spawn(
        &self,
        state: &AppState,
        host: Host,
    ) -> tokio::sync::watch::Receiver<CloseProgress> {
        spawn_scheduler(
            state,
            host,
            Duration::from_secs(self.close_lease.max(1)),
            Duration::from_secs(self.close_scan.max(1)),
        )
    }
}
