//! Events cross regions: three real nats-servers — us-east and eu-west, each its own JetStream
//! domain, and a link server between them (leaf nodes) — and us-east's inbound stream sourcing
//! eu-west's events. Cutting the link holds the events in eu-west; they cross, once and in
//! order, when it is back.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{headers, ConsumerConfig, EventBus};
use worker::relay::{Relay, RelayConfig};
use worker::streams::RegionStreams;

/// Reads the inbound stream from `consumer` until it holds `count` events; returns their
/// (subject, outbox sequence) in stream order.
async fn read_inbound(
    consumer: &dyn worker::bus::Consumer,
    count: usize,
    seen: &mut Vec<(String, u64)>,
) {
    for _ in 0..240 {
        if seen.len() >= count {
            return;
        }
        for delivery in consumer
            .fetch(1000, Duration::from_millis(500))
            .await
            .unwrap()
        {
            seen.push((
                delivery.subject.clone(),
                delivery
                    .header(headers::OUTBOX_SEQUENCE)
                    .unwrap()
                    .parse()
                    .unwrap(),
            ));
            delivery.ack().await.unwrap();
        }
    }
    panic!("the inbound stream holds {} of {count} events", seen.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_regions_and_wait_while_the_link_is_cut() {
    let tag = std::process::id();
    let (us_name, link_name, eu_name) = (
        format!("us-east-{tag}"),
        format!("link-{tag}"),
        format!("eu-west-{tag}"),
    );
    let us = support::own_nats_with(
        &us_name,
        &[
            ("UPLINE_NATS_DOMAIN", "us-east"),
            ("UPLINE_NATS_LEAF_LISTEN", "1"),
        ],
    );
    let link = support::own_nats_with(
        &link_name,
        &[
            ("UPLINE_NATS_NO_JETSTREAM", "1"),
            ("UPLINE_NATS_LEAF_LISTEN", "1"),
            ("UPLINE_NATS_LEAF_REMOTES", us.leaf.as_deref().unwrap()),
        ],
    );
    let eu = support::own_nats_with(
        &eu_name,
        &[
            ("UPLINE_NATS_DOMAIN", "eu-west"),
            ("UPLINE_NATS_LEAF_REMOTES", link.leaf.as_deref().unwrap()),
        ],
    );
    let prefix = support::unique("R");
    let eu_streams = RegionStreams::new(&prefix, "eu-west");
    let us_streams = RegionStreams::new(&prefix, "us-east");

    // eu-west relays its store's outbox to its own stream.
    let (store, _directory) = support::embedded_store();
    support::write_orders(&*store, "acme", 0, 200).await;
    let eu_bus: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&eu.client, eu_streams.events())
            .await
            .unwrap(),
    );
    let relay = Arc::new(Relay::new(
        store.clone(),
        eu_bus.clone(),
        RelayConfig::new("eu-west", &eu_streams.events_subject_prefix()),
    ));
    let mut relayed = relay.progress();
    let relay_task = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });

    // us-east takes eu-west's events in.
    let inbound = JetStreamBus::connect(&us.client, us_streams.inbound(&["eu-west"]))
        .await
        .unwrap();
    let consumer = inbound
        .consumer(ConsumerConfig::new("genealogy"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    read_inbound(&*consumer, 240, &mut seen).await;
    assert!(
        seen.iter()
            .all(|(subject, _)| subject.starts_with(&eu_streams.events_subject_prefix())),
        "{seen:?}"
    );

    // The link goes down; eu-west keeps taking orders and relaying them to its own stream.
    support::stop_nats(&link_name);
    support::write_orders(&*store, "acme", 200, 300).await;
    support::until(
        "eu-west relays the orders taken while the link is down",
        &mut relayed,
        |progress| progress.published == 600,
    )
    .await;
    let (_, held_across) = inbound.bounds().await.unwrap();
    assert_eq!(held_across, 240, "events crossed a cut link");

    support::resume_nats(&link_name);
    read_inbound(&*consumer, 600, &mut seen).await;
    relay_task.abort();
    let sequences: Vec<u64> = seen.iter().map(|(_, sequence)| *sequence).collect();
    assert_eq!(
        sequences,
        (1..=600).collect::<Vec<u64>>(),
        "once each, in order"
    );
    let quiet = consumer.fetch(10, Duration::from_secs(1)).await.unwrap();
    assert!(quiet.is_empty(), "more crossed than was sent: {quiet:?}");

    for name in [&eu_name, &link_name, &us_name] {
        support::remove_nats(name);
    }
}
