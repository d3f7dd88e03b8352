//! The outbox relay on the in-process bus and on real nats-servers: every event once, in
//! outbox order, across relay restarts and a NATS outage.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use store::OutboxStore;
use worker::bus::memory::MemoryBus;
use worker::bus::{headers, ConsumerConfig, EventBus};
use worker::relay::{Relay, RelayConfig};

/// Every outbox sequence pending in the store now, in order.
async fn pending_sequences(outbox: &dyn OutboxStore) -> Vec<u64> {
    outbox
        .pending_events(0, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(|event| event.sequence)
        .collect()
}

/// Reads the whole stream from the start and returns the outbox sequences in stream order.
async fn streamed_sequences(bus: &dyn EventBus, expected: usize) -> Vec<u64> {
    let consumer = bus
        .consumer(ConsumerConfig::new(support::unique("reader")))
        .await
        .unwrap();
    let mut sequences = Vec::new();
    for _ in 0..200 {
        let deliveries = consumer
            .fetch(4096, Duration::from_millis(200))
            .await
            .unwrap();
        for delivery in &deliveries {
            sequences.push(
                delivery
                    .header(headers::OUTBOX_SEQUENCE)
                    .expect("the relay sets the outbox sequence")
                    .parse::<u64>()
                    .unwrap(),
            );
            delivery.ack().await.unwrap();
        }
        if deliveries.is_empty() && sequences.len() >= expected {
            break;
        }
    }
    sequences
}

fn start(relay: Arc<Relay>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { relay.run().await })
}

async fn relays_every_event_once_in_outbox_order(bus: Arc<dyn EventBus>, prefix: &str) {
    let (store, _directory) = support::embedded_store();
    support::write_orders(&*store, "acme", 0, 300).await;
    support::write_orders(&*store, "globex", 300, 200).await;
    let written = pending_sequences(&*store).await;
    assert_eq!(written.len(), 600, "500 orders and 100 refunds");
    let relay = Arc::new(Relay::new(
        store.clone(),
        bus.clone(),
        RelayConfig {
            batch: 128,
            in_flight: 32,
            ..RelayConfig::new("us-east", prefix)
        },
    ));
    let mut progress = relay.progress();
    let task = start(relay.clone());
    support::until(
        "the relay checkpoints the last event",
        &mut progress,
        |progress| progress.checkpoint == *written.last().unwrap(),
    )
    .await;
    task.abort();
    assert_eq!(streamed_sequences(&*bus, written.len()).await, written);
    assert!(
        pending_sequences(&*store).await.is_empty(),
        "relayed events stay in the outbox"
    );
    let last = bus.last_event().await.unwrap().unwrap();
    assert_eq!(
        last.id,
        format!("us-east:globex-{}", written.last().unwrap())
    );
    assert_eq!(progress.borrow().published, 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_every_event_once_in_outbox_order_in_process() {
    relays_every_event_once_in_outbox_order(Arc::new(MemoryBus::new()), "events").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_every_event_once_in_outbox_order_on_jetstream() {
    let name = support::unique("relay");
    let bus = support::jetstream_bus(&support::shared_nats(), &name).await;
    relays_every_event_once_in_outbox_order(Arc::new(bus), &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_stopped_midway_and_started_again_loses_and_repeats_nothing() {
    let name = support::unique("restart");
    let bus: Arc<dyn EventBus> =
        Arc::new(support::jetstream_bus(&support::shared_nats(), &name).await);
    let (store, _directory) = support::embedded_store();
    support::write_orders(&*store, "acme", 0, 2000).await;
    let mut written = pending_sequences(&*store).await;
    let config = RelayConfig {
        batch: 64,
        in_flight: 16,
        ..RelayConfig::new("us-east", &name)
    };
    // Stopped (dropped mid-batch, as a killed process stops) three times along the way.
    for stop_after in [300, 900, 1500] {
        let relay = Arc::new(Relay::new(store.clone(), bus.clone(), config.clone()));
        let mut progress = relay.progress();
        let task = start(relay);
        support::until(
            "the relay publishes part of the outbox",
            &mut progress,
            |progress| progress.published >= stop_after / 3,
        )
        .await;
        task.abort();
        let _ = task.await;
    }
    support::write_orders(&*store, "acme", 2000, 100).await;
    written = {
        let mut all: BTreeSet<u64> = written.into_iter().collect();
        all.extend(pending_sequences(&*store).await);
        all.into_iter().collect()
    };
    let relay = Arc::new(Relay::new(store.clone(), bus.clone(), config));
    let mut progress = relay.progress();
    let task = start(relay);
    support::until(
        "the restarted relay checkpoints the last event",
        &mut progress,
        |progress| progress.checkpoint == *written.last().unwrap(),
    )
    .await;
    task.abort();
    assert_eq!(streamed_sequences(&*bus, written.len()).await, written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_in_the_outbox_while_nats_is_down_and_flow_after() {
    let server = format!("relay-outage-{}", std::process::id());
    let url = support::own_nats(&server);
    let name = support::unique("outage");
    let bus: Arc<dyn EventBus> = Arc::new(support::jetstream_bus(&url, &name).await);
    let (store, _directory) = support::embedded_store();
    // Written before the relay starts, so the test knows every sequence it will relay.
    support::write_orders(&*store, "acme", 0, 200).await;
    let before = pending_sequences(&*store).await;
    let relay = Arc::new(Relay::new(
        store.clone(),
        bus.clone(),
        RelayConfig::new("us-east", &name),
    ));
    let mut progress = relay.progress();
    let task = start(relay);
    support::until(
        "the relay relays the events written before the outage",
        &mut progress,
        |progress| progress.relayed_through == *before.last().unwrap(),
    )
    .await;

    support::stop_nats(&server);
    support::write_orders(&*store, "acme", 200, 300).await;
    // The relay keeps failing, and the events wait in the outbox.
    support::until(
        "the relay fails while NATS is down",
        &mut progress,
        |progress| progress.failures >= 3,
    )
    .await;
    let waiting = pending_sequences(&*store).await;
    assert!(
        waiting.len() >= 300,
        "only {} events wait in the outbox",
        waiting.len()
    );

    support::resume_nats(&server);
    let last = *waiting.last().unwrap();
    support::until(
        "the relay relays the events written during the outage",
        &mut progress,
        |progress| progress.checkpoint == last,
    )
    .await;
    task.abort();
    let mut expected: Vec<u64> = before.into_iter().chain(waiting).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(streamed_sequences(&*bus, expected.len()).await, expected);
    assert!(pending_sequences(&*store).await.is_empty());
    support::remove_nats(&server);
}
