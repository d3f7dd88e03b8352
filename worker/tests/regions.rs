//! Events cross regions: three real nats-servers — us-east and eu-west, each its own JetStream
//! domain, and a link server between them (leaf nodes) — and us-east's inbound stream sourcing
//! eu-west's events. Cutting the link holds the events in eu-west; they cross, once and in
//! order, when it is back. The volumes of orders taken in eu-west reach us-east's store exactly
//! through an outage of eu-west's NATS server and a cut link.

mod support;

use std::sync::Arc;
use std::time::Duration;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{headers, ConsumerConfig, EventBus};
use worker::dead_letters::DeadLetters;
use worker::relay::{Relay, RelayConfig};
use worker::streams::RegionStreams;
use worker::volumes::VolumeWorker;

/// The three servers of a test: us-east (domain `us-east`, accepting leaf links), a link server
/// without JetStream, and eu-west (domain `eu-west`) reaching us-east through the link.
struct Regions {
    us_name: String,
    link_name: String,
    eu_name: String,
    us: support::NatsServer,
    eu: support::NatsServer,
}

impl Regions {
    fn start(test: &str) -> Regions {
        let tag = format!("{test}-{}", std::process::id());
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
        Regions {
            us_name,
            link_name,
            eu_name,
            us,
            eu,
        }
    }

    fn remove(self) {
        for name in [&self.eu_name, &self.link_name, &self.us_name] {
            support::remove_nats(name);
        }
    }
}

/// eu-west's relay on its own events stream, running.
async fn eu_west_relay(
    regions: &Regions,
    streams: &RegionStreams,
    store: Arc<dyn store::Store>,
) -> (Arc<Relay>, tokio::task::JoinHandle<()>) {
    let bus: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&regions.eu.client, streams.events())
            .await
            .unwrap(),
    );
    let relay = Arc::new(Relay::new(
        store,
        bus,
        RelayConfig::new("eu-west", &streams.events_subject_prefix()),
    ));
    let task = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    (relay, task)
}

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
    let regions = Regions::start("cross");
    let us = &regions.us;
    let link_name = regions.link_name.clone();
    let prefix = support::unique("R");
    let eu_streams = RegionStreams::new(&prefix, "eu-west");
    let us_streams = RegionStreams::new(&prefix, "us-east");

    // eu-west relays its store's outbox to its own stream.
    let (store, _directory) = support::embedded_store();
    support::write_orders(&*store, "acme", 0, 200).await;
    let (relay, relay_task) = eu_west_relay(&regions, &eu_streams, store.clone()).await;
    let mut relayed = relay.progress();

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

    regions.remove();
}

/// Orders taken in eu-west: us-east's volume worker applies them from its inbound stream to
/// us-east's store. eu-west's NATS server is stopped mid-flow, then the link is cut: the events
/// wait (in eu-west's outbox, then in its stream) and flow after each recovery; us-east's
/// volumes end exactly those of the orders — nothing lost, nothing applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eu_west_volumes_reach_us_east_once_through_an_outage_and_a_cut_link() {
    let regions = Regions::start("volumes");
    let prefix = support::unique("V");
    let eu_streams = RegionStreams::new(&prefix, "eu-west");
    let us_streams = RegionStreams::new(&prefix, "us-east");
    let (eu_store, _eu_directory) = support::embedded_store();
    let (us_store, _us_directory) = support::embedded_store();
    let (relay, relay_task) = eu_west_relay(&regions, &eu_streams, eu_store.clone()).await;
    let mut relayed = relay.progress();

    let inbound = JetStreamBus::connect(&regions.us.client, us_streams.inbound(&["eu-west"]))
        .await
        .unwrap();
    let dead: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&regions.us.client, us_streams.dead_letters())
            .await
            .unwrap(),
    );
    let worker = Arc::new(VolumeWorker::new(
        us_store.clone(),
        inbound
            .consumer(ConsumerConfig::new(worker::volumes::CONSUMER_NAME))
            .await
            .unwrap(),
        DeadLetters::new(dead, &us_streams.dead_letter_subject_prefix()),
    ));
    let mut applied = worker.progress();
    let worker_task = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    // 100 orders, 20 of them refunded: 120 events.
    let mut expected = support::write_orders(&*eu_store, "acme", 0, 100).await;
    support::until(
        "us-east applies eu-west's first events",
        &mut applied,
        |progress| progress.applied_through == 120,
    )
    .await;

    // eu-west's own NATS goes down: the orders are taken, their events wait in the outbox.
    support::stop_nats(&regions.eu_name);
    let during_outage = support::write_orders(&*eu_store, "acme", 100, 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        relay.progress().borrow().published,
        120,
        "published while NATS was down"
    );
    support::resume_nats(&regions.eu_name);

    // Then the link is cut: eu-west's stream holds the events; none cross.
    support::until(
        "eu-west relays the orders of its outage",
        &mut relayed,
        |progress| progress.published == 240,
    )
    .await;
    support::until("us-east applies them", &mut applied, |progress| {
        progress.applied_through == 240
    })
    .await;
    support::stop_nats(&regions.link_name);
    let during_cut = support::write_orders(&*eu_store, "acme", 200, 100).await;
    support::until(
        "eu-west relays the orders of the cut",
        &mut relayed,
        |progress| progress.published == 360,
    )
    .await;
    assert_eq!(
        inbound.bounds().await.unwrap().1,
        240,
        "events crossed a cut link"
    );
    support::resume_nats(&regions.link_name);
    support::until("us-east applies every event", &mut applied, |progress| {
        progress.applied_through == 360
    })
    .await;

    for (key, pv) in during_outage.into_iter().chain(during_cut) {
        *expected.entry(key).or_default() += pv;
    }
    assert_eq!(
        support::stored_monthly_pv(&*us_store, "acme", &expected).await,
        expected
    );
    let progress = applied.borrow().clone();
    assert_eq!(progress.applied, 360, "{progress:?}");
    assert!(progress.poison.is_empty(), "{progress:?}");
    relay_task.abort();
    worker_task.abort();
    regions.remove();
}
