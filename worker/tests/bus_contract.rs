//! The delivery contract of `worker::bus`, checked on both buses: the in-process one and
//! JetStream on a real nats-server.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::memory::MemoryBus;
use worker::bus::{BusError, ConsumerConfig, EventBus, OutgoingEvent};

/// A bus and the subject prefix its stream captures.
struct Subject {
    bus: Arc<dyn EventBus>,
    prefix: String,
}

fn event(prefix: &str, id: &str) -> OutgoingEvent {
    OutgoingEvent {
        id: id.to_owned(),
        subject: format!("{prefix}.acme.order.created"),
        headers: vec![("Upline-Kind".to_owned(), "order.created".to_owned())],
        payload: format!("payload of {id}").into_bytes().into(),
    }
}

fn events(prefix: &str, ids: &[&str]) -> Vec<OutgoingEvent> {
    ids.iter().map(|id| event(prefix, id)).collect()
}

fn short_wait(durable: &str) -> ConsumerConfig {
    ConsumerConfig {
        ack_wait: Duration::from_secs(1),
        ..ConsumerConfig::new(durable)
    }
}

async fn memory() -> Subject {
    Subject {
        bus: Arc::new(MemoryBus::new()),
        prefix: "events".into(),
    }
}

async fn jetstream() -> Subject {
    let url = support::shared_nats();
    let name = support::unique("contract");
    Subject {
        bus: Arc::new(support::jetstream_bus(&url, &name).await),
        prefix: name,
    }
}

async fn events_are_stored_in_order_and_ids_deduplicated(subject: Subject) {
    let Subject { bus, prefix } = subject;
    let first = bus
        .publish(&events(&prefix, &["a", "b", "c"]), None, 2)
        .await;
    assert!(first.error.is_none(), "{first:?}");
    let sequences: Vec<u64> = first
        .receipts
        .iter()
        .map(|receipt| receipt.stream_sequence)
        .collect();
    assert_eq!(sequences, vec![1, 2, 3]);
    assert!(first.receipts.iter().all(|receipt| !receipt.duplicate));
    // Republished after a failure: the bus answers with the original positions.
    let again = bus
        .publish(&events(&prefix, &["b", "c"]), Some("a"), 8)
        .await;
    assert!(again.error.is_none(), "{again:?}");
    assert!(again.receipts.iter().all(|receipt| receipt.duplicate));
    assert_eq!(again.receipts[1].stream_sequence, 3);
    let last = bus.last_event().await.unwrap().expect("a last event");
    assert_eq!((last.id.as_str(), last.stream_sequence), ("c", 3));
    assert_eq!(last.header("upline-kind"), Some("order.created"));

    let consumer = bus.consumer(ConsumerConfig::new("reader")).await.unwrap();
    let delivered = consumer.fetch(10, Duration::from_secs(1)).await.unwrap();
    let ids: Vec<&str> = delivered
        .iter()
        .map(|delivery| delivery.id.as_str())
        .collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    assert_eq!(&delivered[1].payload[..], b"payload of b");
    assert_eq!(delivered[2].header("Upline-Kind"), Some("order.created"));
}

async fn a_chained_event_is_refused_unless_its_predecessor_is_last(subject: Subject) {
    let Subject { bus, prefix } = subject;
    let stored = bus.publish(&events(&prefix, &["a", "b"]), None, 4).await;
    assert!(stored.error.is_none(), "{stored:?}");
    // "x" was lost, so "y" (chained to it) must not be stored, nor anything after it.
    let refused = bus
        .publish(&events(&prefix, &["y", "z"]), Some("x"), 4)
        .await;
    assert!(refused.receipts.is_empty(), "{refused:?}");
    assert!(
        matches!(refused.error, Some(BusError::WrongLastEvent { .. })),
        "{refused:?}"
    );
    assert_eq!(bus.last_event().await.unwrap().unwrap().id, "b");
    let resumed = bus
        .publish(&events(&prefix, &["y", "z"]), Some("b"), 4)
        .await;
    assert!(resumed.error.is_none(), "{resumed:?}");
    assert_eq!(resumed.receipts[1].stream_sequence, 4);
}

async fn unsettled_and_naked_deliveries_come_again_and_termed_ones_never(subject: Subject) {
    let Subject { bus, prefix } = subject;
    let stored = bus
        .publish(&events(&prefix, &["a", "b", "c", "d"]), None, 4)
        .await;
    assert!(stored.error.is_none(), "{stored:?}");
    let consumer = bus.consumer(short_wait("settler")).await.unwrap();
    let first = consumer.fetch(4, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.len(), 4);
    first[0].ack().await.unwrap();
    first[1].nak(Duration::from_millis(100)).await.unwrap();
    first[2].term().await.unwrap();
    // "d" is left unsettled: it comes back after the ack wait.
    let mut again = Vec::new();
    for _ in 0..20 {
        again.extend(consumer.fetch(4, Duration::from_millis(500)).await.unwrap());
        if again.len() >= 2 {
            break;
        }
    }
    let mut ids: Vec<(&str, u64)> = again
        .iter()
        .map(|delivery| (delivery.id.as_str(), delivery.delivered))
        .collect();
    ids.sort();
    assert_eq!(ids, vec![("b", 2), ("d", 2)]);
    for delivery in &again {
        delivery.ack().await.unwrap();
    }
    let quiet = consumer
        .fetch(4, Duration::from_millis(1500))
        .await
        .unwrap();
    assert!(
        quiet.is_empty(),
        "acked and termed events came again: {quiet:?}"
    );
    support::eventually("the ack floor reaches the last event", || async {
        consumer.ack_floor().await.unwrap() == 4
    })
    .await;
}

async fn a_durable_consumer_resumes_where_it_left_off(subject: Subject) {
    let Subject { bus, prefix } = subject;
    let stored = bus
        .publish(&events(&prefix, &["a", "b", "c"]), None, 4)
        .await;
    assert!(stored.error.is_none(), "{stored:?}");
    let filtered = ConsumerConfig {
        filter_subject: Some(format!("{prefix}.acme.>")),
        ..ConsumerConfig::new("durable")
    };
    {
        let consumer = bus.consumer(filtered.clone()).await.unwrap();
        let first = consumer.fetch(2, Duration::from_secs(1)).await.unwrap();
        assert_eq!(first.len(), 2);
        for delivery in &first {
            delivery.ack().await.unwrap();
        }
    }
    let later = bus.publish(&events(&prefix, &["d"]), Some("c"), 4).await;
    assert!(later.error.is_none(), "{later:?}");
    let consumer = bus.consumer(filtered).await.unwrap();
    let rest = consumer.fetch(10, Duration::from_secs(1)).await.unwrap();
    let ids: Vec<&str> = rest.iter().map(|delivery| delivery.id.as_str()).collect();
    assert_eq!(ids, vec!["c", "d"]);
    // Another durable name starts from the beginning; another filter sees nothing.
    let fresh = bus.consumer(ConsumerConfig::new("fresh")).await.unwrap();
    assert_eq!(
        fresh.fetch(10, Duration::from_secs(1)).await.unwrap().len(),
        4
    );
    let elsewhere = bus
        .consumer(ConsumerConfig {
            filter_subject: Some(format!("{prefix}.other.>")),
            ..ConsumerConfig::new("elsewhere")
        })
        .await
        .unwrap();
    assert!(elsewhere
        .fetch(10, Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::memory().await).await;
                }
            )*
        }
        mod on_jetstream {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::jetstream().await).await;
                }
            )*
        }
    };
}

contract!(
    events_are_stored_in_order_and_ids_deduplicated,
    a_chained_event_is_refused_unless_its_predecessor_is_last,
    unsettled_and_naked_deliveries_come_again_and_termed_ones_never,
    a_durable_consumer_resumes_where_it_left_off,
);

/// A cluster given as several URLs (a Region's `UPLINE_NATS`) is reached through whichever
/// answers: here the shared server, listed after one nobody listens on.
#[tokio::test]
async fn a_cluster_given_as_a_list_of_urls_is_reached() {
    let url = support::shared_nats();
    let name = support::unique("contract-list");
    let listed = format!("nats://127.0.0.1:1, {url}");
    events_are_stored_in_order_and_ids_deduplicated(Subject {
        bus: Arc::new(support::jetstream_bus(&listed, &name).await),
        prefix: name,
    })
    .await;
}
