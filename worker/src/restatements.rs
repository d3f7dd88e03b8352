//! The restatement worker: a refund of an order in a period that was closed restates the
//! period's run (the API's run lifecycle does the restating; this worker decides when).
//!
//! It consumes the `order.refunded` events of the region's stream (durable consumer
//! `restatements`). For each period a refund counted in, it takes the period's lease — the one
//! a scheduled close holds, so a close and a restatement of one period never run at once, nor
//! two restatements — and asks the [`RefundRestater`] to restate the period for that refund.
//! The restater names the run after the refund's outbox sequence, so a redelivered refund finds
//! its run finished instead of restating again; a refund whose period has no effective run yet
//! needs nothing (the close counts it).
//!
//! A period whose lease another process holds, and a restatement that fails (the store), come
//! again later (Nak with a delay that grows with the deliveries); an event that can never be
//! read goes to the dead letters. The refunds fetched together are restated once per period:
//! a restatement computes after every one of them was stored, so it counts them all.

use crate::bus::{headers, BusResult, Consumer, ConsumerConfig, Delivery};
use crate::dead_letters::DeadLetters;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::held_lease::{period_job, run_under_lease, Leased};
use store::periods::periods_of;
use store::{LeaseStore, Order};
use tokio::sync::watch;

/// The consumer's durable name (and its name on dead letters).
pub const CONSUMER_NAME: &str = "restatements";
/// The event kind this worker acts on.
pub const REFUNDED: &str = "order.refunded";
/// The subjects of a region's refund events, given its events subject prefix
/// (`Streams::events_subject_prefix`): the consumer's filter.
pub fn refund_subjects(events_subject_prefix: &str) -> String {
    format!("{events_subject_prefix}.*.{REFUNDED}")
}

/// The durable consumer of a region's refund events, given its events subject prefix, for
/// workers holding period leases of `lease`: a refund not settled within twice the lease (a
/// worker that died with it) is delivered again — by then the dead worker's lease lapsed.
pub fn consumer_config(events_subject_prefix: &str, lease: Duration) -> ConsumerConfig {
    ConsumerConfig {
        filter_subject: Some(refund_subjects(events_subject_prefix)),
        ack_wait: (lease * 2).max(MIN_ACK_WAIT),
        ..ConsumerConfig::new(CONSUMER_NAME)
    }
}

/// The shortest redelivery wait: a restatement computes a whole period.
const MIN_ACK_WAIT: Duration = Duration::from_secs(10);
/// Deliveries fetched at once.
const FETCH_MAX: usize = 256;
/// How long a fetch waits for a delivery.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// The first delay before a refund that could not be restated comes again; doubled with each
/// delivery up to [`MAX_RETRY_DELAY`].
const RETRY_DELAY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(15);

/// What one restatement came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restatement {
    /// The period was restated: a one-line account of the run.
    Restated(String),
    /// The refund's restatement was finished before (a redelivery).
    AlreadyRestated,
    /// The period has no effective run (its close counts the refund), or the tenant is not at
    /// home in this region.
    NothingToRestate,
}

/// What restates a period for a refund (the API's run lifecycle, in the binary).
#[async_trait]
pub trait RefundRestater: Send + Sync {
    /// Restates the tenant's `period` for the refund stored at outbox `sequence`; `lease_held`
    /// tells whether this process may still go on.
    async fn restate(
        &self,
        tenant_id: &str,
        period: &str,
        sequence: u64,
        lease_held: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Restatement, String>;
}

/// How the worker holds period leases.
#[derive(Clone, Debug)]
pub struct RestatementConfig {
    /// This process, as lease holder.
    pub holder: String,
    /// The lease's length.
    pub lease: Duration,
}

/// What the worker has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestatementProgress {
    /// Periods restated here.
    pub restated: u64,
    /// Refunds whose restatement was found finished (redeliveries).
    pub already_restated: u64,
    /// Refunds in periods without an effective run.
    pub nothing_to_restate: u64,
    /// Periods found leased by another process (their refunds came again later).
    pub held_elsewhere: u64,
    /// Restatements that failed (their refunds came again later).
    pub failures: u64,
    /// Events given up as poison, with the reason.
    pub poison: Vec<(String, String)>,
}

pub struct RestatementWorker {
    leases: Arc<dyn LeaseStore>,
    restater: Arc<dyn RefundRestater>,
    consumer: Box<dyn Consumer>,
    dead_letters: DeadLetters,
    config: RestatementConfig,
    progress: watch::Sender<RestatementProgress>,
}

/// A refund as the worker reads it off the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Refund {
    tenant_id: String,
    sequence: u64,
    periods: Vec<String>,
}

impl RestatementWorker {
    pub fn new(
        leases: Arc<dyn LeaseStore>,
        restater: Arc<dyn RefundRestater>,
        consumer: Box<dyn Consumer>,
        dead_letters: DeadLetters,
        config: RestatementConfig,
    ) -> RestatementWorker {
        RestatementWorker {
            leases,
            restater,
            consumer,
            dead_letters,
            config,
            progress: watch::Sender::new(RestatementProgress::default()),
        }
    }

    pub fn progress(&self) -> watch::Receiver<RestatementProgress> {
        self.progress.subscribe()
    }

    /// Restates until the task is dropped.
    pub async fn run(&self) {
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "restatement worker: the bus failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }

    async fn round(&self) -> BusResult<()> {
        let deliveries = self.consumer.fetch(FETCH_MAX, FETCH_WAIT).await?;
        // Each (tenant, period) once, for the latest refund in it; with the deliveries whose
        // refunds counted there.
        let mut periods: BTreeMap<(String, String), (u64, Vec<usize>)> = BTreeMap::new();
        let mut pending = vec![0usize; deliveries.len()];
        for (index, delivery) in deliveries.iter().enumerate() {
            match refund_of(delivery) {
                Ok(None) => delivery.ack().await?,
                Ok(Some(refund)) => {
                    pending[index] = refund.periods.len();
                    for period in refund.periods {
                        let entry = periods
                            .entry((refund.tenant_id.clone(), period))
                            .or_default();
                        entry.0 = entry.0.max(refund.sequence);
                        entry.1.push(index);
                    }
                    if pending[index] == 0 {
                        delivery.ack().await?;
                    }
                }
                Err(reason) => {
                    self.dead_letters
                        .give_up(delivery, CONSUMER_NAME, &reason)
                        .await?;
                    self.progress.send_modify(|progress| {
                        progress.poison.push((delivery.id.clone(), reason))
                    });
                }
            }
        }
        let mut retried = vec![false; deliveries.len()];
        for ((tenant_id, period), (sequence, indexes)) in periods {
            let done = self.restate_period(&tenant_id, &period, sequence).await;
            for index in indexes {
                if retried[index] {
                    continue;
                }
                if done {
                    pending[index] -= 1;
                    if pending[index] == 0 {
                        deliveries[index].ack().await?;
                    }
                } else {
                    retried[index] = true;
                    deliveries[index]
                        .nak(retry_delay(deliveries[index].delivered))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Restates one period under its lease; true when nothing is left to do for it.
    async fn restate_period(&self, tenant_id: &str, period: &str, sequence: u64) -> bool {
        let job = period_job(tenant_id, period);
        let outcome = match run_under_lease(
            self.leases.clone(),
            &job,
            &self.config.holder,
            self.config.lease,
            |lease_held| async move {
                self.restater
                    .restate(tenant_id, period, sequence, &*lease_held)
                    .await
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
                tracing::warn!(%job, %error, "taking a period's lease failed");
                self.progress.send_modify(|progress| progress.failures += 1);
                return false;
            }
        };
        match outcome {
            Ok(Restatement::Restated(account)) => {
                eprintln!("upline restatements: restated {period} of tenant {tenant_id} for refund {sequence}: {account}");
                self.progress.send_modify(|progress| progress.restated += 1);
                true
            }
            Ok(Restatement::AlreadyRestated) => {
                self.progress
                    .send_modify(|progress| progress.already_restated += 1);
                true
            }
            Ok(Restatement::NothingToRestate) => {
                self.progress
                    .send_modify(|progress| progress.nothing_to_restate += 1);
                true
            }
            Err(error) => {
                eprintln!("upline restatements: restating {period} of tenant {tenant_id} failed (it comes again): {error}");
                self.progress.send_modify(|progress| progress.failures += 1);
                false
            }
        }
    }
}

/// The delay before a refund delivered `delivered` times comes again.
fn retry_delay(delivered: u64) -> Duration {
    let doublings = delivered.saturating_sub(1).min(16) as u32;
    RETRY_DELAY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY_DELAY)
}

/// The refund a delivery carries: None for events of other kinds; an error (the reason it is
/// poison) when it cannot be read.
fn refund_of(delivery: &Delivery) -> Result<Option<Refund>, String> {
    if delivery.header(headers::KIND) != Some(REFUNDED) {
        return Ok(None);
    }
    let (tenant_id, sequence) = delivery.origin()?;
    let order: Order = serde_json::from_slice(&delivery.payload)
        .map_err(|error| format!("the payload is not an order: {error}"))?;
    let day = engine::calendar::parse_date(order.date.as_bytes())
        .ok_or_else(|| format!("bad order date {:?}", order.date))?;
    Ok(Some(Refund {
        tenant_id: tenant_id.to_owned(),
        sequence,
        periods: periods_of(day),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_to_a_ceiling() {
        assert_eq!(retry_delay(1), RETRY_DELAY);
        assert_eq!(retry_delay(2), RETRY_DELAY * 2);
        assert_eq!(retry_delay(3), RETRY_DELAY * 4);
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
    }
}
