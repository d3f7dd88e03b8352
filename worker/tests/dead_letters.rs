//! Dead letters on both buses: a buried event is listed with its reason, and a replay puts it
//! back on the events stream once, with its own headers, and removes the letter.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::memory::MemoryBus;
use worker::bus::{headers, ConsumerConfig, EventBus, OutgoingEvent};
use worker::dead_letters::{DeadLetters, ReplayTargets};

async fn a_buried_event_is_listed_and_replayed_once(buses: support::Buses) {
    let support::Buses {
        events,
        prefix: events_prefix,
        dead,
        dead_prefix,
    } = buses;
    let (events_prefix, dead_prefix) = (events_prefix.as_str(), dead_prefix.as_str());
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
    a_buried_event_is_listed_and_replayed_once(support::Buses::in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buried_event_is_listed_and_replayed_once_on_jetstream() {
    a_buried_event_is_listed_and_replayed_once(support::Buses::on_jetstream("letters").await).await;
}

/// An event of another region, given up by a consumer of the inbound stream, replays onto the
/// inbound stream's own subjects; one of this region's goes back on the events stream; and
/// without the inbound stream the replay is refused, leaving the letter.
async fn letters_replay_where_their_event_came_from(
    events: Arc<dyn EventBus>,
    events_prefix: &str,
    inbound: Arc<dyn EventBus>,
    inbound_prefix: &str,
    dead: Arc<dyn EventBus>,
    dead_prefix: &str,
) {
    // Each on its region's events subject (eu-west's as eu-west's relay published it).
    let subject_in = |region: &str| match region {
        "us-east" => format!("{events_prefix}.acme.transfer.posted"),
        other => format!("upline.{other}.events.acme.transfer.posted"),
    };
    let event = |id: &str, region: &str| OutgoingEvent {
        id: id.into(),
        subject: subject_in(region),
        headers: vec![
            (headers::KIND.into(), "transfer.posted".into()),
            (headers::TENANT.into(), "acme".into()),
            (headers::REGION.into(), region.into()),
        ],
        payload: format!(r#"{{"from":"{region}"}}"#).into_bytes().into(),
    };
    // Delivered (and given up) on a stream of their own, as the consumers would have.
    let source = MemoryBus::new();
    let outcome = source
        .publish(
            &[
                event("us-east:acme-1", "us-east"),
                event("eu-west:acme-9", "eu-west"),
            ],
            None,
            1,
        )
        .await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    let delivered = source
        .consumer(ConsumerConfig::new("payouts"))
        .await
        .unwrap()
        .fetch(2, Duration::from_secs(1))
        .await
        .unwrap();
    let letters = DeadLetters::new(dead, dead_prefix);
    for delivery in &delivered {
        letters.bury(delivery, "payouts", "refused").await.unwrap();
    }
    let listed = letters.list().await.unwrap();
    let regions: Vec<Option<&str>> = listed
        .iter()
        .map(|letter| letter.region.as_deref())
        .collect();
    assert_eq!(regions, [Some("us-east"), Some("eu-west")]);

    let without_inbound = ReplayTargets {
        region: "us-east",
        events: &*events,
        inbound: None,
    };
    let refused = letters
        .replay_to(listed[1].sequence, &without_inbound)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        letters.list().await.unwrap().len(),
        2,
        "a refused replay keeps the letter"
    );

    let targets = ReplayTargets {
        region: "us-east",
        events: &*events,
        inbound: Some((&*inbound, inbound_prefix)),
    };
    for letter in &listed {
        assert!(letters
            .replay_to(letter.sequence, &targets)
            .await
            .unwrap()
            .is_some());
    }
    assert!(letters.list().await.unwrap().is_empty());
    let on = |bus: Arc<dyn EventBus>| async move {
        bus.consumer(ConsumerConfig::new("reader"))
            .await
            .unwrap()
            .fetch(10, Duration::from_secs(1))
            .await
            .unwrap()
    };
    let own = on(events).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].subject, subject_in("us-east"));
    let taken_in = on(inbound).await;
    assert_eq!(taken_in.len(), 1, "{taken_in:?}");
    assert_eq!(
        taken_in[0].subject,
        format!("{inbound_prefix}.{}", subject_in("eu-west"))
    );
    assert_eq!(taken_in[0].header(headers::REGION), Some("eu-west"));
    assert_eq!(taken_in[0].payload.as_ref(), br#"{"from":"eu-west"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_replay_where_their_event_came_from_in_process() {
    letters_replay_where_their_event_came_from(
        Arc::new(MemoryBus::new()),
        "us-east",
        Arc::new(MemoryBus::new()),
        "inbound",
        Arc::new(MemoryBus::new()),
        "dead",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_replay_where_their_event_came_from_on_jetstream() {
    let url = support::shared_nats();
    let name = support::unique("routes");
    let streams = worker::streams::RegionStreams::new(&name, "us-east");
    let events = support::jetstream_bus(&url, &name).await;
    // The region's own inbound stream spec: sources (none here) and its replay subjects.
    let inbound = worker::bus::jetstream::JetStreamBus::connect(&url, streams.inbound(&[]))
        .await
        .unwrap();
    let dead = support::jetstream_bus(&url, &format!("{name}-DLQ")).await;
    letters_replay_where_their_event_came_from(
        Arc::new(events),
        &name,
        Arc::new(inbound),
        &streams.inbound_subject_prefix(),
        Arc::new(dead),
        &format!("{name}-DLQ"),
    )
    .await;
}
