//! The volume worker applies each order event once, whatever the bus does: redeliveries,
//! deliveries out of order, events published twice, and a poison event among them.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::{headers, ConsumerConfig, EventBus, OutgoingEvent};
use worker::dead_letters::DeadLetters;
use worker::relay::{Relay, RelayConfig};
use worker::volumes::VolumeWorker;

async fn applies_each_order_once_whatever_the_delivery(buses: support::Buses) {
    let support::Buses {
        events: bus,
        prefix,
        dead,
        dead_prefix,
    } = buses;
    let (prefix, dead_prefix) = (prefix.as_str(), dead_prefix.as_str());
    let (store, _directory) = support::embedded_store();
    let dead_view = dead.clone();
    let mut expected = support::write_orders(&*store, "acme", 0, 400).await;
    let relay = Arc::new(Relay::new(
        store.clone(),
        bus.clone(),
        RelayConfig {
            batch: 50,
            ..RelayConfig::new("us-east", prefix)
        },
    ));
    let mut relayed = relay.progress();
    let relay_task = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    support::until(
        "the relay publishes every order event",
        &mut relayed,
        |progress| progress.published == 480,
    )
    .await;

    // The stream's events published again under new ids (a relay that restarted after the
    // duplicate window), and one poison event.
    let copies = republished(&*bus, prefix).await;
    let poison = OutgoingEvent {
        id: "poison".into(),
        subject: format!("{prefix}.acme.order.created"),
        headers: vec![
            (headers::KIND.into(), "order.created".into()),
            (headers::TENANT.into(), "acme".into()),
            (headers::OUTBOX_SEQUENCE.into(), "100000".into()),
        ],
        payload: br#"{"not": "an order"}"#.to_vec().into(),
    };
    let outcome = bus.publish(&[poison], None, 1).await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    // More orders after all that.
    let later = support::write_orders(&*store, "acme", 400, 100).await;
    for (key, pv) in later {
        *expected.entry(key).or_default() += pv;
    }

    let consumer = bus
        .consumer(ConsumerConfig {
            ack_wait: Duration::from_millis(700),
            ..ConsumerConfig::new("volumes")
        })
        .await
        .unwrap();
    let worker = Arc::new(VolumeWorker::new(
        store.clone(),
        Box::new(support::Disorderly::new(consumer)),
        DeadLetters::new(dead.clone(), dead_prefix),
    ));
    let mut progress = worker.progress();
    let worker_task = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    let total = 480 + copies + 1 + 120;
    support::until(
        "the worker applies the whole stream",
        &mut progress,
        |progress| progress.applied_through == total,
    )
    .await;
    worker_task.abort();
    relay_task.abort();

    let done = progress.borrow().clone();
    assert!(
        done.held > 0,
        "the disorder never reached the worker: {done:?}"
    );
    // Every order event of the stream (the originals, their copies, the later ones) went
    // through the worker exactly once, whatever came twice.
    assert_eq!(done.applied, 480 + copies + 120, "{done:?}");
    assert_eq!(done.poison.len(), 1, "{done:?}");
    assert_eq!(done.poison[0].0, "poison");
    let letters = DeadLetters::new(dead_view, dead_prefix)
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        (letters[0].event_id.as_str(), letters[0].consumer.as_str()),
        ("poison", "volumes")
    );
    assert!(
        letters[0].reason.contains("the payload is not an order"),
        "{letters:?}"
    );
    assert_eq!(
        support::stored_monthly_pv(&*store, "acme", &expected).await,
        expected
    );
}

/// Publishes every event of the stream again under a new id; returns how many.
async fn republished(bus: &dyn EventBus, _prefix: &str) -> u64 {
    let reader = bus
        .consumer(ConsumerConfig::new(support::unique("copier")))
        .await
        .unwrap();
    let mut copies = Vec::new();
    loop {
        let deliveries = reader
            .fetch(1000, Duration::from_millis(300))
            .await
            .unwrap();
        if deliveries.is_empty() {
            break;
        }
        for delivery in deliveries {
            copies.push(OutgoingEvent {
                id: format!("copy-of-{}", delivery.id),
                subject: delivery.subject.clone(),
                headers: [headers::KIND, headers::TENANT, headers::OUTBOX_SEQUENCE]
                    .into_iter()
                    .map(|name| (name.to_owned(), delivery.header(name).unwrap().to_owned()))
                    .collect(),
                payload: delivery.payload.clone(),
            });
            delivery.ack().await.unwrap();
        }
    }
    let outcome = bus.publish(&copies, None, 64).await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    copies.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_each_order_once_whatever_the_delivery_in_process() {
    applies_each_order_once_whatever_the_delivery(support::Buses::in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_each_order_once_whatever_the_delivery_on_jetstream() {
    applies_each_order_once_whatever_the_delivery(support::Buses::on_jetstream("volumes").await)
        .await;
}
