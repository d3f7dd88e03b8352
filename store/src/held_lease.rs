//! Holding a job lease while the job runs: a keeper task renews it every third of its length
//! and tells the job whether it still holds it — counted from when each renewal that applied
//! was *sent*, which is before the store started the lease's new term.
//!
//! Scheduled closes (`upline worker`'s scheduler) and restatements (the API's run lifecycle)
//! hold the same lease per period, [`period_job`], so they never change one period's runs at
//! once, whichever processes run them.

use crate::LeaseStore;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease of a period's runs: held to close the period or to restate its run.
pub fn period_job(tenant_id: &str, period: &str) -> String {
    format!("close/{tenant_id}/{period}")
}

/// A holder name for this process: host, process id and start time (unique across processes
/// and restarts).
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or(0);
    format!("{host}-{}-{started_ms}", std::process::id())
}

/// What running a job under a lease came to.
#[derive(Debug)]
pub enum Leased<T> {
    /// The job ran under the lease (released since): its outcome.
    Ran(T),
    /// Another holder's lease is running: the job did not run.
    HeldElsewhere,
}

/// Whether the lease is still this process's, as the job sees it.
pub type LeaseCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// Runs `job` under the lease `name` — taken, renewed while it runs, released after — unless
/// another holder has it. An error when the lease could not be asked for.
pub async fn run_under_lease<T, F, Job>(
    store: Arc<dyn LeaseStore>,
    name: &str,
    holder: &str,
    valid_for: Duration,
    job: Job,
) -> Result<Leased<T>, String>
where
    Job: FnOnce(LeaseCheck) -> F,
    F: std::future::Future<Output = T>,
{
    let Some(lease) = HeldLease::take(store, name, holder, valid_for).await? else {
        return Ok(Leased::HeldElsewhere);
    };
    let outcome = job(Arc::new(lease.checker())).await;
    lease.release().await;
    Ok(Leased::Ran(outcome))
}

/// A lease this process took; renewed until dropped (then released).
pub struct HeldLease {
    job: String,
    holder: String,
    store: Arc<dyn LeaseStore>,
    valid_until: Arc<Mutex<Instant>>,
    keeper: tokio::task::JoinHandle<()>,
}

impl HeldLease {
    /// Takes the lease of `job`, or None while another holder's runs.
    pub async fn take(
        store: Arc<dyn LeaseStore>,
        job: &str,
        holder: &str,
        valid_for: Duration,
    ) -> Result<Option<HeldLease>, String> {
        let sent_at = Instant::now();
        if !store
            .hold_lease(job, holder, valid_for)
            .await
            .map_err(|error| error.to_string())?
        {
            return Ok(None);
        }
        let valid_until = Arc::new(Mutex::new(sent_at + valid_for));
        let keeper = tokio::spawn(keep(
            store.clone(),
            job.to_owned(),
            holder.to_owned(),
            valid_for,
            valid_until.clone(),
        ));
        Ok(Some(HeldLease {
            job: job.to_owned(),
            holder: holder.to_owned(),
            store,
            valid_until,
            keeper,
        }))
    }

    /// Whether the lease is still this process's.
    pub fn is_held(&self) -> bool {
        Instant::now() < *self.valid_until.lock().expect("lease lock")
    }

    /// A check the job can call from anywhere.
    pub fn checker(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let valid_until = self.valid_until.clone();
        move || Instant::now() < *valid_until.lock().expect("lease lock")
    }

    /// Stops renewing and gives the lease up, so the next job need not wait for it to lapse.
    pub async fn release(self) {
        self.keeper.abort();
        if let Err(error) = self.store.release_lease(&self.job, &self.holder).await {
            tracing::warn!(job = %self.job, %error, "releasing a lease failed; it lapses instead");
        }
    }
}

/// Renews the lease until aborted; a renewal that does not apply leaves the lease to lapse
/// here (the job sees it through `is_held`).
async fn keep(
    store: Arc<dyn LeaseStore>,
    job: String,
    holder: String,
    valid_for: Duration,
    valid_until: Arc<Mutex<Instant>>,
) {
    let mut every = tokio::time::interval(valid_for / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let sent_at = Instant::now();
        match store.hold_lease(&job, &holder, valid_for).await {
            Ok(true) => *valid_until.lock().expect("lease lock") = sent_at + valid_for,
            Ok(false) => {
                tracing::warn!(%job, "the lease was taken by another process");
                return;
            }
            Err(error) => tracing::warn!(%job, %error, "renewing a lease failed; trying again"),
        }
    }
}
