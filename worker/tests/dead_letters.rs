//! Dead letters on both buses: a buried event is listed with its reason, and a replay puts it
//! back on the events stream once, with its own headers, and removes the letter.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::memory::MemoryBus;
use worker::bus::{headers, ConsumerConfig, EventBus, OutgoingEvent};
use worker::dead_letters::DeadLetters;

async fn a_buried_event_is_listed_and_replayed_once(
    events: Arc<dyn EventBus>,
    events_prefix: &str,
    dead: Arc<dyn EventBus>,
    dead_prefix: &str,
) {
    let original = OutgoingEvent {
        id: "us-east:acme-7".into(),
        subject: format!("{events_prefix}.acme.order.created"),
        headers: vec![
            (headers::KIND.into(), "order.created".into()),
            (headers::TENANT.into(), "acme".into()),
            (headers::OUTBOX_SEQUENCE.into(), "7".into()),
        ],
        payload: br#"{"order_id":"o7"}"#.to_vec().into(),
    };
    let outcome = events
        .publish(std::slice::from_ref(&original), None, 1)
        .await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    let consumer = events
        .consumer(ConsumerConfig::new("payouts"))
        .await
        .unwrap();
    let delivered = consumer.fetch(1, Duration::from_secs(1)).await.unwrap();
    let letters = DeadLetters::new(dead, dead_prefix);
    // Buried twice (a consumer that crashed before giving it up buries it again): kept once.
    for _ in 0..2 {
        letters
            .bury(
                &delivered[0],
                "payouts",
                "the wallet service refused:\nclosed",
            )
            .await
            .unwrap();
    }
    delivered[0].term().await.unwrap();

    let listed = letters.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let letter = &listed[0];
    assert_eq!(letter.consumer, "payouts");
    assert_eq!(letter.event_id, original.id);
    assert_eq!(letter.subject, original.subject);
    assert_eq!(letter.reason, "the wallet service refused: closed");
    assert_eq!(letter.payload, original.payload);

    let replayed = letters.replay(letter.sequence, &*events).await.unwrap();
    assert_eq!(replayed.as_ref(), Some(letter));
    assert!(letters.list().await.unwrap().is_empty());
    assert_eq!(
        letters.replay(letter.sequence, &*events).await.unwrap(),
        None
    );

    let again = consumer.fetch(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        again[0].id,
        format!("{}:replay:{}", original.id, letter.sequence)
    );
    assert_eq!(again[0].subject, original.subject);
    assert_eq!(again[0].payload, original.payload);
    for (name, value) in &original.headers {
        assert_eq!(again[0].header(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(again[0].header("Upline-Dead-Reason"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buried_event_is_listed_and_replayed_once_in_process() {
    a_buried_event_is_listed_and_replayed_once(
        Arc::new(MemoryBus::new()),
        "events",
        Arc::new(MemoryBus::new()),
        "dead",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buried_event_is_listed_and_replayed_once_on_jetstream() {
    let url = support::shared_nats();
    let name = support::unique("letters");
    let dead_name = format!("{name}-DLQ");
    let events = support::jetstream_bus(&url, &name).await;
    let dead = support::jetstream_bus(&url, &dead_name).await;
    a_buried_event_is_listed_and_replayed_once(Arc::new(events), &name, Arc::new(dead), &dead_name)
        .await;
}
