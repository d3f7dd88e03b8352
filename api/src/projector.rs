//! The volume projector: the in-process consumer of the outbox.
//!
//! Orders are stored with an `order.created` / `order.refunded` event in one step; this task
//! applies the events to the period volumes (idempotently: the store skips an `(order, kind)`
//! it has applied) and to the binary plans' lifetime PV, then acknowledges them. After a crash
//! the unacknowledged events are simply applied again. A period close first waits until every
//! event written before it has been applied ([`Projector::sync`]), so it reflects every
//! acknowledged order without ever scanning orders.

use crate::periods::periods_of;
use crate::state::AppState;
use crate::tree_shim::PlacementShape;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Order, OutboxEvent, Store, StoreResult, VolumeDelta, VolumeEventKind};
use tokio::sync::{watch, Notify};

/// Events taken per round.
const EVENTS_PER_ROUND_MAX: usize = 8192;
/// How long an idle projector sleeps when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_millis(200);

pub struct Projector {
    store: Arc<dyn Store>,
    wake: Notify,
    /// The highest outbox sequence applied and acknowledged.
    applied_through: watch::Sender<u64>,
}

impl Projector {
    pub fn new(store: Arc<dyn Store>) -> Arc<Projector> {
        Arc::new(Projector {
            store,
            wake: Notify::new(),
            applied_through: watch::Sender::new(0),
        })
    }

    /// Tells the projector new events are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until every event pending now has been applied.
    pub async fn sync(&self) -> StoreResult<()> {
        let mut target = *self.applied_through.borrow();
        loop {
            let pending = self
                .store
                .pending_events(target, EVENTS_PER_ROUND_MAX)
                .await?;
            match pending.last() {
                Some(last) => target = last.sequence,
                None => break,
            }
        }
        self.wake();
        let mut applied = self.applied_through.subscribe();
        applied
            .wait_for(|&through| through >= target)
            .await
            .map_err(|_| store::StoreError::Backend("the volume projector stopped".into()))?;
        Ok(())
    }

    /// Applies every pending event once, now (at start, before the indexes are built).
    pub async fn drain(&self) -> StoreResult<()> {
        while self.round(None).await? > 0 {}
        Ok(())
    }

    /// Runs forever: the background task of a serving process.
    pub async fn run(self: Arc<Self>, state: AppState) {
        loop {
            match self.round(Some(&state)).await {
                Ok(0) => {
                    let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "volume projector round failed; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    /// One round: applies and acknowledges up to a page of events; returns how many.
    async fn round(&self, state: Option<&AppState>) -> StoreResult<usize> {
        let after = *self.applied_through.borrow();
        let events = self
            .store
            .pending_events(after, EVENTS_PER_ROUND_MAX)
            .await?;
        let Some(last) = events.last().map(|event| event.sequence) else {
            return Ok(0);
        };
        let mut by_tenant: BTreeMap<&str, Vec<VolumeDelta>> = BTreeMap::new();
        for event in &events {
            if let Some(delta) = volume_delta(event)? {
                by_tenant.entry(&event.tenant_id).or_default().push(delta);
            }
        }
        for (tenant_id, deltas) in by_tenant {
            self.store.apply_volumes(tenant_id, deltas.clone()).await?;
            if let Some(state) = state {
                add_lifetime_pv(state, tenant_id, &deltas);
            }
        }
        self.store
            .acknowledge_events(events.iter().map(|event| event.sequence).collect())
            .await?;
        self.applied_through.send_replace(last);
        Ok(events.len())
    }
}

/// The volume change an event makes, if it is an order event.
fn volume_delta(event: &OutboxEvent) -> StoreResult<Option<VolumeDelta>> {
    let (kind, sign) = match event.kind.as_str() {
        "order.created" => (VolumeEventKind::Paid, 1),
        "order.refunded" => (VolumeEventKind::Refunded, -1),
        _ => return Ok(None),
    };
    let order: Order = serde_json::from_value(event.payload.clone()).map_err(|error| {
        store::StoreError::Corrupt(format!("event {}: {error}", event.event_id()))
    })?;
    let day = engine::calendar::parse_date(order.date.as_bytes()).ok_or_else(|| {
        store::StoreError::Corrupt(format!("event {}: bad order date", event.event_id()))
    })?;
    Ok(Some(VolumeDelta {
        order_id: order.order_id,
        kind,
        distributor_id: order.distributor_id,
        periods: periods_of(day),
        day,
        pv: sign * order.pv,
        cv: sign * order.cv,
    }))
}

/// Binary plans place by lifetime PV (weak leg): keep the index's subtree sums current.
/// At start this runs before the index exists (the index then reads the volumes instead).
fn add_lifetime_pv(state: &AppState, tenant_id: &str, deltas: &[VolumeDelta]) {
    let Some(tenant) = state.tenant(tenant_id) else {
        return;
    };
    let mut directory = tenant.directory.write().expect("directory lock");
    if !matches!(directory.shape(), PlacementShape::Binary) {
        return;
    }
    for delta in deltas {
        if let Some(node) = directory.node(&delta.distributor_id) {
            directory.tree_mut().add_lifetime_pv(node, delta.pv);
        }
    }
}
