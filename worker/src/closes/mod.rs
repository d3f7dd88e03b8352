//! Scheduled period closes: each tenant with a close schedule (`Tenant::closes`) has its due
//! periods (see [`due`]) closed, committed and posted by one process at a time, under a lease
//! per (tenant, period) in the region's store. Any number of processes may run the scheduler:
//! each takes what is free, and a process that dies mid-close leaves its lease to lapse; the
//! next scan of another process takes it and carries the close on from where it stopped
//! (the closer — `api::runs::close` — is resumable from every step).

pub mod due;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use store::held_lease::{period_job, run_under_lease, Leased};
use store::Store;
use tokio::sync::watch;

/// What closes a period (the API's run lifecycle, in the binary that runs both).
#[async_trait]
pub trait PeriodCloser: Send + Sync {
    /// Closes `period` of the tenant to the end; `lease_held` tells whether this process may
    /// still go on. Returns a one-line account of the run that pays the period.
    async fn close(
        &self,
        tenant_id: &str,
        period: &str,
        lease_held: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<String, String>;
}

/// How the scheduler works.
#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    /// This process, as lease holder (unique across processes and restarts).
    pub holder: String,
    /// A close's lease length; a dead closer's close is taken over this long after its last
    /// renewal at the latest.
    pub lease: Duration,
    /// The pause between scans of the tenants.
    pub scan_every: Duration,
    /// The region this process serves: its tenants at home there are closed here.
    pub region: Option<String>,
}

/// What the scheduler has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseProgress {
    /// Periods closed to the end by this process.
    pub closed: u64,
    /// Closes that failed (tried again at a later scan).
    pub failures: u64,
    /// Due closes left alone because another process held their lease.
    pub held_elsewhere: u64,
    /// Completed scans of every tenant.
    pub scans: u64,
}

pub struct CloseScheduler {
    store: Arc<dyn Store>,
    closer: Arc<dyn PeriodCloser>,
    config: ScheduleConfig,
    progress: watch::Sender<CloseProgress>,
}

impl CloseScheduler {
    pub fn new(
        store: Arc<dyn Store>,
        closer: Arc<dyn PeriodCloser>,
        config: ScheduleConfig,
    ) -> CloseScheduler {
        CloseScheduler {
            store,
            closer,
            config,
            progress: watch::Sender::new(CloseProgress::default()),
        }
    }

    pub fn progress(&self) -> watch::Receiver<CloseProgress> {
        self.progress.subscribe()
    }

    /// Scans until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(error) = self.scan(now_ms()).await {
                tracing::warn!(%error, "a scan for due closes failed; trying again");
            }
            self.progress.send_modify(|progress| progress.scans += 1);
            tokio::time::sleep(self.config.scan_every).await;
        }
    }

    /// One pass over every tenant at home here with a schedule.
    pub async fn scan(&self, now_ms: i64) -> Result<(), String> {
        let mut tenants = self
            .store
            .tenants()
            .await
            .map_err(|error| error.to_string())?;
        tenants.sort_by(|a, b| a.id.cmp(&b.id));
        for tenant in tenants {
            let Some(schedule) = tenant.closes else {
                continue;
            };
            if !tenant.is_at_home_in(self.config.region.as_deref()) {
                continue;
            }
            let (volume_periods, runs) = tokio::try_join!(
                self.store.volume_periods(&tenant.id),
                self.store.runs(&tenant.id)
            )
            .map_err(|error| error.to_string())?;
            for period in due::due_periods(schedule, &volume_periods, &runs, now_ms) {
                // Periods close in order: a later one starts from this one's state.
                if !self.close_one(&tenant.id, &period).await {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Closes one period under its lease; true when it is closed.
    async fn close_one(&self, tenant_id: &str, period: &str) -> bool {
        let job = period_job(tenant_id, period);
        let outcome = match run_under_lease(
            self.store.clone(),
            &job,
            &self.config.holder,
            self.config.lease,
            |lease_held| async move {
                eprintln!("upline closes: closing {period} of tenant {tenant_id}");
                self.closer.close(tenant_id, period, &*lease_held).await
            },
        )
        .await
        {
            Ok(Leased::Ran(outcome)) => outcome,
            Ok(Leased::HeldElsewhere) => {
                self.progress
                    .send_modify(|progress| progress.held_elsewhere += 1);
                return false;
            }
            Err(error) => {
                tracing::warn!(%job, %error, "taking a close's lease failed");
                self.progress.send_modify(|progress| progress.failures += 1);
                return false;
            }
        };
        match outcome {
            Ok(account) => {
                eprintln!("upline closes: closed {period} of tenant {tenant_id}: {account}");
                self.progress.send_modify(|progress| progress.closed += 1);
                true
            }
            Err(error) => {
                eprintln!("upline closes: closing {period} of tenant {tenant_id} failed: {error}");
                self.progress.send_modify(|progress| progress.failures += 1);
                false
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
