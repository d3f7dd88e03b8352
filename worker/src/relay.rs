//! The outbox relay: publishes the store's outbox to the bus, in order, and deletes what the
//! bus acknowledged.
//!
//! - **Order.** Events are read in outbox order and published chained (each expects its
//!   predecessor to be the stream's last event), so a lost publish stops everything after it
//!   until it is published again: a tenant's events never overtake each other.
//! - **Nothing lost.** An event leaves the outbox only after the bus acknowledged it; the
//!   deletion is the relay's checkpoint (made beside the publishing, a few batches behind). After a restart the relay publishes the outbox from
//!   its oldest event again.
//! - **Nothing applied twice.** A republished event carries the same id (`Nats-Msg-Id`), so
//!   the bus drops it as a duplicate within its window; beyond the window (a relay down longer
//!   than that with its last batch published and not deleted) the consumers, idempotent by
//!   event id, skip it.
//! - **Bounded.** One batch is read at a time and at most `in_flight` publishes await their
//!   acknowledgement.
//!
//! One relay per store: it deletes what it relays, so it replaces the in-process volume
//! projector, which reads the same outbox.

use crate::bus::{headers, BusError, EventBus, OutgoingEvent};
use std::sync::Arc;
use std::time::Duration;
use store::{OutboxEvent, OutboxStore};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The region whose outbox this is: the prefix of event ids and subjects.
    pub region: String,
    /// Subjects are `{subject_prefix}.{tenant}.{kind}`.
    pub subject_prefix: String,
    /// Outbox events read at once.
    pub batch: usize,
    /// Publishes awaiting acknowledgement at once.
    pub in_flight: usize,
    /// The pause before looking at an empty outbox again.
    pub idle_pause: Duration,
    /// Whether the relay deletes what it relayed (its checkpoint). Inside `upline serve` the
    /// volume projector deletes instead, once both have passed an event.
    pub delete_relayed: bool,
}

impl RelayConfig {
    pub fn new(region: &str, subject_prefix: &str) -> RelayConfig {
        RelayConfig {
            region: region.to_owned(),
            subject_prefix: subject_prefix.to_owned(),
            batch: 4096,
            in_flight: 1024,
            idle_pause: Duration::from_millis(5),
            delete_relayed: true,
        }
    }
}

/// What the relay has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayProgress {
    /// The highest outbox sequence acknowledged by the bus.
    pub relayed_through: u64,
    /// The highest outbox sequence deleted from the outbox (the checkpoint a restart resumes
    /// after).
    pub checkpoint: u64,
    /// Events the bus stored.
    pub published: u64,
    /// Events the bus had already (republished after a failure or a restart).
    pub duplicates: u64,
    /// Publish or delete attempts that failed (and were retried).
    pub failures: u64,
}

/// The first pause after a failure; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Batches relayed and not yet deleted from the outbox, at most.
const DELETIONS_QUEUED_MAX: usize = 16;

pub struct Relay {
    outbox: Arc<dyn OutboxStore>,
    bus: Arc<dyn EventBus>,
    config: RelayConfig,
    progress: watch::Sender<RelayProgress>,
    /// `progress.relayed_through` alone, for a reader that waits on it (the projector's gate).
    relayed_through: watch::Sender<u64>,
}

/// The id an event carries on the bus: its store's event id qualified by the region, since
/// every region numbers its outbox on its own and streams of several regions meet.
pub fn bus_event_id(region: &str, event: &OutboxEvent) -> String {
    format!("{region}:{}", event.event_id())
}

/// The subject an event is published on.
pub fn subject_of(prefix: &str, event: &OutboxEvent) -> String {
    format!("{prefix}.{}.{}", event.tenant_id, event.kind)
}

impl Relay {
    pub fn new(outbox: Arc<dyn OutboxStore>, bus: Arc<dyn EventBus>, config: RelayConfig) -> Relay {
        Relay {
            outbox,
            bus,
            config,
            progress: watch::Sender::new(RelayProgress::default()),
            relayed_through: watch::Sender::new(0),
        }
    }

    pub fn progress(&self) -> watch::Receiver<RelayProgress> {
        self.progress.subscribe()
    }

    /// The highest outbox sequence the bus acknowledged.
    pub fn relayed_through(&self) -> watch::Receiver<u64> {
        self.relayed_through.subscribe()
    }

    fn outgoing(&self, event: &OutboxEvent) -> OutgoingEvent {
        OutgoingEvent {
            id: bus_event_id(&self.config.region, event),
            subject: subject_of(&self.config.subject_prefix, event),
            headers: vec![
                (
                    headers::OUTBOX_SEQUENCE.to_owned(),
                    event.sequence.to_string(),
                ),
                (headers::TENANT.to_owned(), event.tenant_id.clone()),
                (headers::KIND.to_owned(), event.kind.clone()),
                (headers::REGION.to_owned(), self.config.region.clone()),
            ],
            payload: serde_json::to_vec(&event.payload)
                .expect("a JSON value serialises")
                .into(),
        }
    }

    /// Relays until the task is dropped.
    pub async fn run(&self) {
        // Relayed events are deleted beside the publishing, in order, so a deletion's write
        // is not on the path of the next event; the channel bounds how far it may lag.
        let (deletions, pending_deletions) =
            tokio::sync::mpsc::channel::<Vec<u64>>(DELETIONS_QUEUED_MAX);
        let deleter = async {
            let mut pending_deletions = pending_deletions;
            while let Some(sequences) = pending_deletions.recv().await {
                let last = sequences.last().copied().unwrap_or_default();
                self.delete_relayed(sequences).await;
                self.progress
                    .send_modify(|progress| progress.checkpoint = progress.checkpoint.max(last));
            }
        };
        tokio::join!(deleter, self.publish_loop(deletions));
    }

    async fn publish_loop(&self, deletions: tokio::sync::mpsc::Sender<Vec<u64>>) {
        let mut cursor = 0;
        // Unknown at start: everything before the oldest outbox event was acknowledged by the
        // bus, so the first publish needs no chain.
        let mut chain: Option<String> = None;
        let mut backoff = BACKOFF_START;
        loop {
            match self.relay_batch(&mut cursor, &mut chain, &deletions).await {
                Ok(0) => tokio::time::sleep(self.config.idle_pause).await,
                Ok(_) => backoff = BACKOFF_START,
                Err(error) => {
                    self.progress.send_modify(|progress| progress.failures += 1);
                    tracing::warn!(%error, retry_in = ?backoff, "outbox relay: publishing failed");
                    if matches!(error, RelayError::Bus(BusError::WrongLastEvent { .. })) {
                        // Someone else published to the stream: the events before ours are
                        // acknowledged all the same, so publish again unchained.
                        chain = None;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Reads one batch after `cursor`, publishes it and deletes what the bus acknowledged.
    /// Returns how many events were relayed.
    async fn relay_batch(
        &self,
        cursor: &mut u64,
        chain: &mut Option<String>,
        deletions: &tokio::sync::mpsc::Sender<Vec<u64>>,
    ) -> Result<usize, RelayError> {
        let events = self
            .outbox
            .pending_events(*cursor, self.config.batch)
            .await
            .map_err(RelayError::Store)?;
        if events.is_empty() {
            return Ok(0);
        }
        let outgoing: Vec<OutgoingEvent> =
            events.iter().map(|event| self.outgoing(event)).collect();
        let outcome = self
            .bus
            .publish(&outgoing, chain.as_deref(), self.config.in_flight)
            .await;
        let relayed = outcome.receipts.len();
        if relayed > 0 {
            let sequences: Vec<u64> = events[..relayed]
                .iter()
                .map(|event| event.sequence)
                .collect();
            if self.config.delete_relayed {
                deletions
                    .send(sequences)
                    .await
                    .expect("the deleter runs as long as the relay");
            }
            *cursor = events[relayed - 1].sequence;
            *chain = Some(outgoing[relayed - 1].id.clone());
            let duplicates = outcome
                .receipts
                .iter()
                .filter(|receipt| receipt.duplicate)
                .count();
            self.progress.send_modify(|progress| {
                progress.relayed_through = *cursor;
                progress.published += (relayed - duplicates) as u64;
                progress.duplicates += duplicates as u64;
            });
            self.relayed_through.send_replace(*cursor);
        }
        match outcome.error {
            Some(error) => Err(RelayError::Bus(error)),
            None => Ok(relayed),
        }
    }

    /// Deletes relayed events from the outbox, retrying until the store takes it: the bus has
    /// them, and the cursor moves past them either way (a restart before the deletion only
    /// republishes them, which the bus and the consumers absorb).
    async fn delete_relayed(&self, sequences: Vec<u64>) {
        let mut backoff = BACKOFF_START;
        while let Err(error) = self.outbox.acknowledge_events(sequences.clone()).await {
            self.progress.send_modify(|progress| progress.failures += 1);
            tracing::warn!(%error, "outbox relay: deleting relayed events failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Bus(BusError),
    #[error("reading the outbox: {0}")]
    Store(store::StoreError),
}
