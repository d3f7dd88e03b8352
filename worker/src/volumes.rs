//! The volume worker: applies order events from the bus to period volumes.
//!
//! Volume records skip deltas at or below the outbox sequence they hold
//! (`VolumeStore::apply_volumes`), which makes a duplicate harmless but needs each record's
//! events in order. The bus delivers first deliveries in order, and a redelivery may come
//! after later events; so the worker applies events strictly in stream order: a delivery
//! ahead of the next expected sequence is held until the missing ones arrive, a delivery
//! behind it is a duplicate and only acknowledged.
//!
//! The worker consumes every event of the stream (no subject filter) so that stream sequences
//! have no gaps, and acknowledges the events that do not change volumes.
//!
//! A poison event (one that can never be applied: its payload is not an order) goes to the
//! dead letters with the reason and is given up; a store failure hands the whole run back for
//! a later redelivery.

use crate::bus::{headers, BusResult, Consumer, Delivery};
use crate::dead_letters::DeadLetters;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::volume_events::{changes_volumes, volume_delta_of};
use store::{VolumeDelta, VolumeStore};
use tokio::sync::watch;

/// Deliveries fetched at once.
const FETCH_MAX: usize = 4096;
/// Deliveries gathered into one application while a backlog lasts: the deltas of one volume
/// record combine into one write, which is what a store with a compare-and-set per record
/// (ScyllaDB) is limited by. Caught up, a run is what one fetch brings.
const RUN_MAX: usize = 65_536;
/// How long a fetch after a full one waits (the backlog is there already).
const FETCH_MORE_WAIT: Duration = Duration::from_millis(5);
/// How long a fetch waits for a delivery.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// The delay before a run that failed on the store is delivered again.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// What the worker has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeProgress {
    /// Every stream sequence up to this one is applied (or skipped, or given up).
    pub applied_through: u64,
    /// Order events applied.
    pub applied: u64,
    /// Deliveries behind the position: duplicates, acknowledged without effect.
    pub duplicates: u64,
    /// Deliveries ahead of the position, held until the ones before them came.
    pub held: u64,
    /// Events given up as poison, with the reason.
    pub poison: Vec<(String, String)>,
    /// Store failures (the run was handed back and applied later).
    pub failures: u64,
}

/// The consumer's durable name (and its name on dead letters).
pub const CONSUMER_NAME: &str = "volumes";

/// Which tenants' events a worker applies (the others it acknowledges without effect).
pub type TenantFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub struct VolumeWorker {
    volumes: Arc<dyn VolumeStore>,
    /// None: every tenant's.
    tenants: Option<TenantFilter>,
    consumer: Box<dyn Consumer>,
    dead_letters: DeadLetters,
    progress: watch::Sender<VolumeProgress>,
}

impl VolumeWorker {
    pub fn new(
        volumes: Arc<dyn VolumeStore>,
        consumer: Box<dyn Consumer>,
        dead_letters: DeadLetters,
    ) -> VolumeWorker {
        VolumeWorker {
            volumes,
            tenants: None,
            consumer,
            dead_letters,
            progress: watch::Sender::new(VolumeProgress::default()),
        }
    }

    /// Applies only the events of the tenants `applies` accepts: on a home region's inbound
    /// stream, the tenants at home here (another region's own tenants' orders are theirs).
    pub fn only_tenants(mut self, applies: TenantFilter) -> VolumeWorker {
        self.tenants = Some(applies);
        self
    }

    pub fn progress(&self) -> watch::Receiver<VolumeProgress> {
        self.progress.subscribe()
    }

    /// Applies events until the task is dropped.
    pub async fn run(&self) {
        let mut position = loop {
            match self.consumer.ack_floor().await {
                Ok(floor) => break floor,
                Err(error) => {
                    tracing::warn!(%error, "volume worker: reading the consumer's position");
                    tokio::time::sleep(RETRY_DELAY).await;
                }
            }
        };
        self.progress
            .send_modify(|progress| progress.applied_through = position);
        let mut held: BTreeMap<u64, Delivery> = BTreeMap::new();
        loop {
            if let Err(error) = self.round(&mut position, &mut held).await {
                tracing::warn!(%error, "volume worker: the bus failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }

    /// Fetches, then applies the run of deliveries that continues `position`.
    async fn round(&self, position: &mut u64, held: &mut BTreeMap<u64, Delivery>) -> BusResult<()> {
        let mut deliveries = self.consumer.fetch(FETCH_MAX, FETCH_WAIT).await?;
        let mut last_fetch = deliveries.len();
        while last_fetch == FETCH_MAX && deliveries.len() < RUN_MAX {
            let more = self.consumer.fetch(FETCH_MAX, FETCH_MORE_WAIT).await?;
            last_fetch = more.len();
            deliveries.extend(more);
        }
        for delivery in deliveries {
            if delivery.stream_sequence <= *position {
                self.progress
                    .send_modify(|progress| progress.duplicates += 1);
                delivery.ack().await?;
            } else {
                if delivery.stream_sequence > *position + 1 + held.len() as u64 {
                    self.progress.send_modify(|progress| progress.held += 1);
                }
                // A newer delivery of a held event replaces the old one (either settles it).
                held.insert(delivery.stream_sequence, delivery);
            }
        }
        let mut run = Vec::new();
        while let Some(delivery) = held.remove(&(*position + 1 + run.len() as u64)) {
            run.push(delivery);
        }
        if run.is_empty() {
            return Ok(());
        }
        match self.apply(&run).await {
            Ok((applied, poison)) => {
                for (index, reason) in &poison {
                    self.dead_letters
                        .bury(&run[*index], CONSUMER_NAME, reason)
                        .await?;
                }
                for delivery in &run {
                    delivery.ack().await?;
                }
                let poison = poison
                    .into_iter()
                    .map(|(index, reason)| (run[index].id.clone(), reason));
                *position += run.len() as u64;
                self.progress.send_modify(|progress| {
                    progress.applied_through = *position;
                    progress.applied += applied;
                    progress.poison.extend(poison);
                });
            }
            Err(error) => {
                tracing::warn!(%error, "volume worker: applying volumes failed; redelivering");
                self.progress.send_modify(|progress| progress.failures += 1);
                for delivery in &run {
                    delivery.nak(RETRY_DELAY).await?;
                }
            }
        }
        Ok(())
    }

    /// Applies the volume deltas of a run of events, tenant by tenant. Returns how many events
    /// changed volumes and the poison ones (their index in the run, the reason): skipped.
    async fn apply(&self, run: &[Delivery]) -> store::StoreResult<(u64, Vec<(usize, String)>)> {
        let mut by_tenant: BTreeMap<String, Vec<VolumeDelta>> = BTreeMap::new();
        let mut poison = Vec::new();
        let mut applied = 0;
        for (index, delivery) in run.iter().enumerate() {
            let skipped = self.tenants.as_ref().is_some_and(|applies| {
                delivery
                    .header(headers::TENANT)
                    .is_some_and(|tenant| !applies(tenant))
            });
            if skipped {
                continue;
            }
            match decode(delivery) {
                Ok(None) => {}
                Ok(Some((tenant_id, delta))) => {
                    applied += 1;
                    by_tenant.entry(tenant_id).or_default().push(delta);
                }
                Err(reason) => poison.push((index, reason)),
            }
        }
        for (tenant_id, deltas) in by_tenant {
            self.volumes.apply_volumes(&tenant_id, deltas).await?;
        }
        Ok((applied, poison))
    }
}

/// The volume change a delivery carries: None for events of other kinds; an error (the
/// reason it is poison) when it cannot be read.
fn decode(delivery: &Delivery) -> Result<Option<(String, VolumeDelta)>, String> {
    let kind = delivery
        .header(headers::KIND)
        .ok_or("no Upline-Kind header")?;
    if !changes_volumes(kind) {
        return Ok(None);
    }
    let (tenant_id, sequence) = delivery.origin()?;
    let event_id = format!("{tenant_id}-{sequence}");
    match volume_delta_of(kind, sequence, &event_id, || {
        serde_json::from_slice(&delivery.payload)
    }) {
        Ok(delta) => Ok(delta.map(|delta| (tenant_id.to_owned(), delta))),
        Err(store::StoreError::Corrupt(reason)) => Err(reason),
        Err(error) => Err(error.to_string()),
    }
}
