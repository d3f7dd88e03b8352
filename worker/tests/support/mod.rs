//! What the worker's tests share: real nats-server processes (started through
//! `tests/services/nats.sh`, which builds the server once), unique names, and an embedded store
//! with orders in its outbox.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{NewOrder, Order, OrderStatus, OrderStore};
use worker::bus::jetstream::{JetStreamBus, StreamSpec};
use worker::bus::{BusResult, Consumer, Delivery};

#[path = "../../../tests/services/nats_servers.rs"]
mod nats_servers;
pub use nats_servers::*;

/// A JetStream bus on its own stream (`{name}`, subjects `{name}.>`).
pub async fn jetstream_bus(url: &str, name: &str) -> JetStreamBus {
    JetStreamBus::connect(
        url,
        StreamSpec {
            name: name.to_owned(),
            subjects: vec![format!("{name}.>")],
            duplicate_window: Duration::from_secs(120),
            sources: Vec::new(),
        },
    )
    .await
    .expect("connecting to the NATS server")
}

/// An embedded store in a temporary directory (kept alive by the returned guard).
pub fn embedded_store() -> (Arc<store::embedded::EmbeddedStore>, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let store = store::embedded::EmbeddedStore::open(directory.path()).unwrap();
    (Arc::new(store), directory)
}

/// Expected volumes: (distributor, month) → PV.
pub type MonthlyPv = BTreeMap<(String, String), i64>;

/// Creates `count` orders for `tenant` (spread over 7 distributors and two months) and refunds
/// every fifth; returns the PV each (distributor, month) must end with.
pub async fn write_orders(
    store: &dyn OrderStore,
    tenant: &str,
    first: usize,
    count: usize,
) -> MonthlyPv {
    let mut expected = MonthlyPv::new();
    for at in first..first + count {
        let distributor = format!("d{}", at % 7);
        let month = if at % 3 == 0 { "2026-10" } else { "2026-11" };
        let order = Order {
            order_id: format!("o{at}"),
            distributor_id: distributor.clone(),
            date: format!("{month}-{:02}", 1 + at % 28),
            pv: 10_000 * (1 + (at % 5) as i64),
            cv: 20_000,
            status: OrderStatus::Paid,
            created_at_ms: at as i64,
        };
        let pv = order.pv;
        store
            .create_order(
                tenant,
                NewOrder {
                    idempotency_key: format!("k{at}"),
                    request_sha256: format!("body{at}"),
                    order,
                },
            )
            .await
            .unwrap();
        *expected
            .entry((distributor.clone(), month.to_owned()))
            .or_default() += pv;
        if at % 5 == 0 {
            store.refund_order(tenant, &format!("o{at}")).await.unwrap();
            *expected.entry((distributor, month.to_owned())).or_default() -= pv;
        }
    }
    expected
}

/// The PV per (distributor, month) the store holds for the tenant's months in `expected`.
pub async fn stored_monthly_pv(
    store: &dyn store::VolumeStore,
    tenant: &str,
    expected: &MonthlyPv,
) -> MonthlyPv {
    let mut stored = MonthlyPv::new();
    let months: std::collections::BTreeSet<&String> =
        expected.keys().map(|(_, month)| month).collect();
    for month in months {
        for (distributor, volume) in store.period_volumes(tenant, month).await.unwrap() {
            stored.insert((distributor, month.clone()), volume.pv);
        }
    }
    stored
}

/// Waits (polling) until the awaited condition holds, panicking with `what` after a generous
/// minute: the tests measure no time, they only must not hang forever.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting: {what}");
}

/// Waits until the watched value satisfies `done`, panicking with `what` and the last value
/// after two minutes: the tests measure no time, they only must not hang forever.
pub async fn until<T: std::fmt::Debug>(
    what: &str,
    receiver: &mut tokio::sync::watch::Receiver<T>,
    done: impl FnMut(&T) -> bool,
) {
    let reached = tokio::time::timeout(Duration::from_secs(120), async {
        receiver
            .wait_for(done)
            .await
            .map(|_| ())
            .expect("the watched task is gone")
    })
    .await
    .is_ok();
    if !reached {
        panic!(
            "gave up waiting: {what}; last seen {:?}",
            *receiver.borrow()
        );
    }
}

/// A consumer that hands back a deterministic fraction of what it fetches (`nak` without
/// delay, so the bus delivers those again after later events) and leaves another fraction
/// unsettled (delivered again after the ack wait, after the worker acknowledged later ones).
pub struct Disorderly {
    inner: Box<dyn Consumer>,
    state: Mutex<u64>,
}

impl Disorderly {
    pub fn new(inner: Box<dyn Consumer>) -> Disorderly {
        Disorderly {
            inner,
            state: Mutex::new(0x9E37_79B9_7F4A_7C15),
        }
    }
}

#[async_trait::async_trait]
impl Consumer for Disorderly {
    async fn fetch(&self, max: usize, wait: Duration) -> BusResult<Vec<Delivery>> {
        let fetched = self.inner.fetch(max, wait).await?;
        let mut kept = Vec::new();
        for delivery in fetched {
            let draw = {
                let mut state = self.state.lock().unwrap();
                // A xorshift: the same disorder on every run.
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                *state % 8
            };
            match draw {
                0 | 1 if delivery.delivered < 4 => delivery.nak(Duration::ZERO).await?,
                2 if delivery.delivered < 3 => {
                    // Kept unsettled by "losing" it: it comes again after the ack wait.
                    std::mem::forget(delivery);
                }
                _ => kept.push(delivery),
            }
        }
        // And the rest in reverse order.
        kept.reverse();
        Ok(kept)
    }

    async fn ack_floor(&self) -> BusResult<u64> {
        self.inner.ack_floor().await
    }
}

/// A stream of events and a dead-letter stream, with their subject prefixes: what a
/// consumer's test runs on, once in process and once on the shared nats-server.
pub struct Buses {
    pub events: Arc<dyn worker::bus::EventBus>,
    pub prefix: String,
    pub dead: Arc<dyn worker::bus::EventBus>,
    pub dead_prefix: String,
}

impl Buses {
    pub fn in_process() -> Buses {
        Buses {
            events: Arc::new(worker::bus::memory::MemoryBus::new()),
            prefix: "events".into(),
            dead: Arc::new(worker::bus::memory::MemoryBus::new()),
            dead_prefix: "dead".into(),
        }
    }

    /// Streams of their own (`{label}-…` and its `-DLQ`) on the shared server.
    pub async fn on_jetstream(label: &str) -> Buses {
        let url = shared_nats();
        let prefix = unique(label);
        let dead_prefix = format!("{prefix}-DLQ");
        Buses {
            events: Arc::new(jetstream_bus(&url, &prefix).await),
            dead: Arc::new(jetstream_bus(&url, &dead_prefix).await),
            prefix,
            dead_prefix,
        }
    }
}
