//! The volume projector: the in-process consumer of the outbox.
//!
//! Orders are stored with an `order.created` / `order.refunded` event in one step; this task
//! turns the events into period volumes. It works in two paces:
//!
//! - **Fold** (every [`FOLD_PAUSE`]): read the new events and keep their volume deltas in
//!   memory, where reads see them at once ([`Projector::pending_deltas`]), and add their PV to
//!   the binary plans' lifetime PV (weak-leg placement).
//! - **Checkpoint** (every [`CHECKPOINT_INTERVAL`], every [`CHECKPOINT_EVENTS_MAX`] events, or
//!   when a close asks through [`Projector::sync`]): store the folded deltas, record by record
//!   in key order and in short writes, then acknowledge (delete) their events.
//! - **Deletion gate** (with `upline serve --nats`): the relay reads the same outbox, so an
//!   event is deleted only once the relay has passed it too. A checkpoint that finds the relay
//!   behind (NATS is down) still publishes its progress — the volumes are stored, a close
//!   need not wait — and leaves the events' sequences queued; they are deleted as the relay
//!   passes them.
//!
//! Why two paces: an order lands on two random volume records (its month and its ISO week),
//! and a B-tree copies every page a transaction touches. Stored order by order, each order
//! cost two page copies in the single writer's group commit, which capped ingestion there;
//! stored per checkpoint, the orders of many seconds share each record and page once.
//!
//! Nothing is lost or counted twice: until a checkpoint is acknowledged its events stay in the
//! outbox, so after a crash they are folded again; each volume record remembers the highest
//! event sequence it holds, so the events of an interrupted checkpoint that reached a record
//! already are skipped there (`VolumeStore::apply_volumes`).

use crate::genealogy_index::PlacementShape;
use crate::state::AppState;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::volume_events::volume_delta;
use store::{Store, StoreResult, VolumeDelta};
use tokio::sync::{watch, Notify};

/// Events read per fold.
const EVENTS_PER_READ_MAX: usize = 8192;
/// The pause between folds when the outbox is caught up.
const FOLD_PAUSE: Duration = Duration::from_millis(20);
/// Folded events are stored at least this often.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// ... and at the latest when this many events are folded (bounds memory and replay).
const CHECKPOINT_EVENTS_MAX: usize = 200_000;
/// Volume records per write of a checkpoint: each write is one job of the store's group
/// commit, and a short one keeps the orders committed in the same batch fast.
const RECORDS_PER_WRITE_MAX: usize = 128;
/// Events acknowledged per write.
const ACKNOWLEDGEMENTS_PER_WRITE_MAX: usize = 4096;

/// Which events a projector deletes from the outbox once their volumes are stored. Whatever
/// the choice, an event is deleted only once applied, so that another applier of the same
/// outbox (another process's projector, a volume worker) that misses it loses nothing.
pub enum Deletion {
    /// Every event it stored.
    Applied,
    /// Those another reader of the outbox (the NATS relay) has passed too: the gate is the
    /// highest sequence it has passed.
    AfterGate(watch::Receiver<u64>),
    /// None: another process owns the outbox (its relay must see every event) and deletes.
    Never,
}

pub struct Projector {
    store: Arc<dyn Store>,
    /// Rings when a close waits for a checkpoint.
    flush: Notify,
    /// The highest sequence a close waits for: checkpoints run at once and unpaced until
    /// `applied_through` reaches it.
    flush_through: AtomicU64,
    /// The highest outbox sequence whose volumes are stored (its event may still wait for the
    /// deletion gate).
    applied_through: watch::Sender<u64>,
    /// Which stored events it deletes.
    deletion: Deletion,
    /// The sequences of stored events not deleted yet (the gate has not passed them), one
    /// slice per fold, in sequence order.
    undeleted: Mutex<VecDeque<Arc<[u64]>>>,
    /// Held by whoever is deleting: a slice taken from `undeleted` is out of it until its
    /// deletion is stored, so a second deleter (the way out, beside the projector's round)
    /// waits for the first instead of finding nothing left and returning early.
    deleting: tokio::sync::Mutex<()>,
    /// What has been folded and not yet stored. Readers take the `Arc` and read without the
    /// lock; a fold copies it only if a reader still holds the old one, and then copies only
    /// the lists of shared slices.
    folded: Mutex<Arc<Folded>>,
}

/// Events folded since the last checkpoint.
#[derive(Default, Clone)]
pub struct Folded {
    /// The highest sequence folded.
    through: u64,
    /// The sequences folded, one slice per read, to acknowledge once stored.
    sequences: Vec<Arc<[u64]>>,
    events: usize,
    /// Per tenant, the volume deltas in sequence order, one slice per read.
    deltas: BTreeMap<String, Vec<Arc<[VolumeDelta]>>>,
    /// When the oldest event of this fold was folded.
    oldest_at: Option<Instant>,
}

impl Folded {
    /// The tenant's deltas folded and not yet stored, in sequence order.
    pub fn deltas_of(&self, tenant_id: &str) -> impl Iterator<Item = &VolumeDelta> {
        self.deltas
            .get(tenant_id)
            .into_iter()
            .flatten()
            .flat_map(|slice| slice.iter())
    }
}

impl Projector {
    pub fn new(store: Arc<dyn Store>) -> Arc<Projector> {
        Projector::deleting(store, Deletion::Applied)
    }

    /// A projector that deletes the events `deletion` says.
    pub fn deleting(store: Arc<dyn Store>, deletion: Deletion) -> Arc<Projector> {
        Arc::new(Projector {
            store,
            deletion,
            flush: Notify::new(),
            flush_through: AtomicU64::new(0),
            applied_through: watch::Sender::new(0),
            undeleted: Mutex::new(VecDeque::new()),
            deleting: tokio::sync::Mutex::new(()),
            folded: Mutex::new(Arc::new(Folded::default())),
        })
    }

    /// The deltas folded and not yet stored. A reader adds a delta to a stored record only
    /// if its sequence is above the record's `applied_through` (a checkpoint may be halfway).
    pub fn pending_deltas(&self) -> Arc<Folded> {
        self.folded.lock().expect("folded lock").clone()
    }

    /// Waits until every event pending now is stored in the volumes.
    pub async fn sync(&self) -> StoreResult<()> {
        let mut target = self.read_through();
        loop {
            let pending = self
                .store
                .pending_events(target, EVENTS_PER_READ_MAX)
                .await?;
            match pending.last() {
                Some(last) => target = last.sequence,
                None => break,
            }
        }
        let mut applied = self.applied_through.subscribe();
        if *applied.borrow() >= target {
            return Ok(());
        }
        self.flush_through.fetch_max(target, Ordering::SeqCst);
        self.flush.notify_one();
        applied
            .wait_for(|&through| through >= target)
            .await
            .map_err(|_| store::StoreError::Backend("the volume projector stopped".into()))?;
        Ok(())
    }

    /// Stores every pending event now (at start, before the indexes are built).
    pub async fn drain(&self) -> StoreResult<()> {
        while self.fold(None).await? > 0 {}
        self.flush_through
            .fetch_max(self.pending_deltas().through, Ordering::SeqCst);
        self.checkpoint(None).await
    }

    /// Runs forever: the background task of a serving process.
    pub async fn run(self: Arc<Self>, state: AppState) {
        loop {
            let outcome = async {
                let read = self.fold(Some(&state)).await?;
                if self.checkpoint_due() {
                    self.checkpoint(Some(&state)).await?;
                }
                self.delete_passed().await?;
                StoreResult::Ok(read)
            }
            .await;
            match outcome {
                Ok(read) if read == EVENTS_PER_READ_MAX => {}
                Ok(_) => {
                    let _ = tokio::time::timeout(FOLD_PAUSE, self.flush.notified()).await;
                }
                Err(error) => {
                    tracing::error!(%error, "volume projector round failed; retrying");
                    tokio::time::sleep(FOLD_PAUSE * 10).await;
                }
            }
        }
    }

    /// Reads the events after those folded and folds them; returns how many were read.
    async fn fold(&self, state: Option<&AppState>) -> StoreResult<usize> {
        let after = self.read_through();
        let events = self
            .store
            .pending_events(after, EVENTS_PER_READ_MAX)
            .await?;
        let Some(last) = events.last().map(|event| event.sequence) else {
            return Ok(0);
        };
        let mut new_deltas: BTreeMap<&str, Vec<VolumeDelta>> = BTreeMap::new();
        for event in &events {
            if let Some(delta) = volume_delta(event)? {
                new_deltas.entry(&event.tenant_id).or_default().push(delta);
            }
        }
        if let Some(state) = state {
            for (tenant_id, deltas) in &new_deltas {
                add_lifetime_pv(state, tenant_id, deltas);
            }
        }
        let mut guard = self.folded.lock().expect("folded lock");
        let folded = Arc::make_mut(&mut guard);
        folded.through = last;
        folded.oldest_at.get_or_insert_with(Instant::now);
        folded
            .sequences
            .push(events.iter().map(|event| event.sequence).collect());
        folded.events += events.len();
        for (tenant_id, deltas) in new_deltas {
            folded
                .deltas
                .entry(tenant_id.to_owned())
                .or_default()
                .push(deltas.into());
        }
        Ok(events.len())
    }

    /// The highest sequence read from the outbox: folded, or stored by a checkpoint.
    fn read_through(&self) -> u64 {
        self.pending_deltas()
            .through
            .max(*self.applied_through.borrow())
    }

    /// Whether a close waits for events not stored yet.
    fn flush_waited(&self) -> bool {
        self.flush_through.load(Ordering::SeqCst) > *self.applied_through.borrow()
    }

    fn checkpoint_due(&self) -> bool {
        let folded = self.pending_deltas();
        let Some(oldest_at) = folded.oldest_at else {
            return false;
        };
        self.flush_waited()
            || folded.events >= CHECKPOINT_EVENTS_MAX
            || oldest_at.elapsed() >= CHECKPOINT_INTERVAL
    }

    /// Stores everything folded up to now, drops it from the fold and deletes its events (or
    /// queues them until the deletion gate passes them). Unless a close is waiting, it is paced: after each write it pauses as long as the
    /// write took, so a checkpoint never takes more than half of the store writer's time from
    /// the orders, and it keeps folding new events meanwhile.
    async fn checkpoint(&self, state: Option<&AppState>) -> StoreResult<()> {
        let snapshot = self.pending_deltas();
        if snapshot.events == 0 {
            return Ok(());
        }
        let mut last_fold = Instant::now();
        for (tenant_id, slices) in &snapshot.deltas {
            let deltas = slices.iter().flat_map(|slice| slice.iter());
            for chunk in deltas_by_record_chunks(deltas) {
                let started = Instant::now();
                self.store.apply_volumes(tenant_id, chunk).await?;
                if !self.flush_waited() {
                    tokio::time::sleep(started.elapsed()).await;
                }
                if last_fold.elapsed() >= FOLD_PAUSE {
                    self.fold(state).await?;
                    last_fold = Instant::now();
                }
            }
        }
        self.forget_stored(&snapshot);
        if !matches!(self.deletion, Deletion::Never) {
            self.undeleted
                .lock()
                .expect("undeleted lock")
                .extend(snapshot.sequences.iter().cloned());
        }
        self.applied_through.send_replace(snapshot.through);
        self.delete_passed().await
    }

    /// Deletes the stored events the deletion gate has passed (all of them without a gate).
    async fn delete_passed(&self) -> StoreResult<()> {
        let _deleting = self.deleting.lock().await;
        let passed = match &self.deletion {
            Deletion::AfterGate(gate) => *gate.borrow(),
            Deletion::Applied | Deletion::Never => u64::MAX,
        };
        loop {
            let slice = {
                let mut undeleted = self.undeleted.lock().expect("undeleted lock");
                match undeleted.front() {
                    Some(slice) if slice.last().is_some_and(|&last| last <= passed) => {
                        undeleted.pop_front()
                    }
                    _ => None,
                }
            };
            let Some(slice) = slice else {
                return Ok(());
            };
            for chunk in slice.chunks(ACKNOWLEDGEMENTS_PER_WRITE_MAX) {
                if let Err(error) = self.store.acknowledge_events(chunk.to_vec()).await {
                    // Deleting twice is harmless: the whole slice goes back to the front.
                    self.undeleted
                        .lock()
                        .expect("undeleted lock")
                        .push_front(slice);
                    return Err(error);
                }
            }
        }
    }

    /// Stored events still in the outbox because the deletion gate has not passed them.
    pub fn undeleted_events(&self) -> usize {
        let undeleted = self.undeleted.lock().expect("undeleted lock");
        undeleted.iter().map(|slice| slice.len()).sum()
    }

    /// On the way out: waits up to `grace` for the deletion gate to pass every stored event,
    /// then deletes what it has passed. Returns how many stay in the outbox (published and
    /// deleted after the next start).
    pub async fn delete_passed_within(&self, grace: std::time::Duration) -> StoreResult<usize> {
        if let Deletion::AfterGate(gate) = &self.deletion {
            let target = *self.applied_through.borrow();
            let mut gate = gate.clone();
            let _ = tokio::time::timeout(grace, gate.wait_for(|&passed| passed >= target)).await;
        }
        self.delete_passed().await?;
        Ok(self.undeleted_events())
    }

    /// Drops what `snapshot` held from the fold. Folds only append slices, so the snapshot is
    /// a prefix of every list.
    fn forget_stored(&self, snapshot: &Folded) {
        let mut guard = self.folded.lock().expect("folded lock");
        let folded = Arc::make_mut(&mut guard);
        folded.sequences.drain(..snapshot.sequences.len());
        folded.events -= snapshot.events;
        for (tenant_id, stored) in &snapshot.deltas {
            let slices = folded.deltas.get_mut(tenant_id).expect("a prefix stays");
            slices.drain(..stored.len());
        }
        folded.deltas.retain(|_, slices| !slices.is_empty());
        folded.oldest_at = (folded.events > 0).then(Instant::now);
    }
}

/// Splits deltas into writes of at most [`RECORDS_PER_WRITE_MAX`] records each, records in key
/// order (neighbouring records share B-tree pages) and every delta of a record in the same
/// write.
fn deltas_by_record_chunks<'d>(
    deltas: impl Iterator<Item = &'d VolumeDelta>,
) -> Vec<Vec<VolumeDelta>> {
    let mut by_record: BTreeMap<(&str, &str), Vec<VolumeDelta>> = BTreeMap::new();
    for delta in deltas {
        for period in &delta.periods {
            by_record
                .entry((period, &delta.distributor_id))
                .or_default()
                .push(VolumeDelta {
                    periods: vec![period.clone()],
                    ..delta.clone()
                });
        }
    }
    let records: Vec<Vec<VolumeDelta>> = by_record.into_values().collect();
    records
        .chunks(RECORDS_PER_WRITE_MAX)
        .map(|chunk| chunk.concat())
        .collect()
}

/// Deltas added to the lifetime PV under one hold of the directory's write lock: each walks
/// up the placement tree, and orders wait for the read lock meanwhile, so the lock is taken
/// for a few walks at a time, never for a whole fold.
const LIFETIME_DELTAS_PER_LOCK_MAX: usize = 16;

/// Binary plans place by lifetime PV (weak leg): keep the index's subtree sums current.
/// At start this runs before the index exists (the index then reads the volumes instead).
fn add_lifetime_pv(state: &AppState, tenant_id: &str, deltas: &[VolumeDelta]) {
    let Some(tenant) = state.tenant(tenant_id) else {
        return;
    };
    if !matches!(
        tenant.directory.read().expect("directory lock").shape(),
        PlacementShape::Binary
    ) {
        return;
    }
    for chunk in deltas.chunks(LIFETIME_DELTAS_PER_LOCK_MAX) {
        let mut directory = tenant.directory.write().expect("directory lock");
        for delta in chunk {
            if let Some(node) = directory.node(&delta.distributor_id) {
                directory.tree_mut().add_lifetime_pv(node, delta.pv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the way out, `delete_passed_within` may meet the projector's own round deleting the
    /// same events (the checkpoint a close or a stop asked for deletes what the relay passed
    /// as soon as it has stored it). The process exits right after the call returns, so it
    /// must not return while events it saw passed are still being deleted elsewhere.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_way_out_returns_only_when_every_passed_event_is_deleted() {
        let work = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(store::embedded::EmbeddedStore::open(work.path()).unwrap());
        // The relay has passed every event.
        let (_relay, gate) = watch::channel(u64::MAX);
        let projector = Projector::deleting(store.clone(), Deletion::AfterGate(gate));
        for round in 0..40u32 {
            let enrolled = (0..20u32)
                .map(|i| {
                    store::conformance::distributor(&format!("d{round}-{i}"), round * 20 + i, None)
                })
                .collect();
            store.enroll("acme", enrolled).await.unwrap();
            let checkpointing = projector.clone();
            let checkpoint = tokio::spawn(async move {
                checkpointing.fold(None).await.unwrap();
                checkpointing.checkpoint(None).await.unwrap();
            });
            projector.sync().await.unwrap();
            let left = projector
                .delete_passed_within(Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(left, 0, "round {round}");
            let pending = store.pending_events(0, 10).await.unwrap();
            assert!(
                pending.is_empty(),
                "round {round}: {} passed events still in the outbox",
                pending.len()
            );
            checkpoint.await.unwrap();
        }
    }
}
