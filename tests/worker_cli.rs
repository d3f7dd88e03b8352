//! `upline worker` and `upline dlq` as an operator runs them, on a real nats-server: the worker
//! relays an embedded store's outbox and applies its orders to volumes, buries a poison event,
//! and `upline dlq` lists and replays it. Across regions, a home region's worker applies the
//! orders taken in another region. A worker tells its operators when NATS goes away, why it
//! cannot connect again, and when it is back.

mod common;

use common::nats::{
    nats_url, own_nats, own_nats_with, remove_nats, resume_nats, stop_nats, unique, OwnServer,
};
use common::worker::{wait_for, Worker};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use store::{NewOrder, Order, OrderStatus, OrderStore, OutboxStore, VolumeStore};
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{headers, ConsumerConfig, EventBus, OutgoingEvent};
use worker::streams::RegionStreams;

fn upline(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(arguments)
        .output()
        .expect("upline runs")
}

/// Writes 60 orders (every fourth refunded) and returns the PV per (distributor, month).
async fn write_orders(data: &Path) -> BTreeMap<(String, String), i64> {
    let store = store::embedded::EmbeddedStore::open(data).unwrap();
    let mut expected = BTreeMap::new();
    for at in 0..60 {
        let month = if at % 2 == 0 { "2026-10" } else { "2026-11" };
        let order = Order {
            order_id: format!("o{at}"),
            distributor_id: format!("d{}", at % 5),
            date: format!("{month}-1{}", at % 9),
            pv: 10_000 * (at + 1),
            cv: 1,
            status: OrderStatus::Paid,
            created_at_ms: 1,
        };
        let key = (order.distributor_id.clone(), month.to_owned());
        store
            .create_order(
                "acme",
                NewOrder {
                    idempotency_key: format!("k{at}"),
                    request_sha256: format!("b{at}"),
                    order,
                },
            )
            .await
            .unwrap();
        *expected.entry(key.clone()).or_default() += 10_000 * (at + 1);
        if at % 4 == 0 {
            store.refund_order("acme", &format!("o{at}")).await.unwrap();
            *expected.entry(key).or_default() -= 10_000 * (at + 1);
        }
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_relays_applies_and_dead_letters_and_dlq_replays() {
    let url = nats_url();
    let prefix = format!("T{}X{}", std::process::id(), rand_suffix());
    let streams = RegionStreams::new(&prefix, "local");
    let data = tempfile::tempdir().unwrap();
    let expected = write_orders(data.path()).await;

    // A poison event on the stream before the worker starts.
    let events = JetStreamBus::connect(&url, streams.events()).await.unwrap();
    let poison = OutgoingEvent {
        id: "elsewhere:acme-1".into(),
        subject: format!("{}.acme.order.created", streams.events_subject_prefix()),
        headers: vec![
            (headers::KIND.into(), "order.created".into()),
            (headers::TENANT.into(), "acme".into()),
            (headers::OUTBOX_SEQUENCE.into(), "1".into()),
        ],
        payload: br#"{"order_id": 7}"#.to_vec().into(),
    };
    assert!(events.publish(&[poison], None, 1).await.error.is_none());

    let common = ["--nats", url.as_str(), "--stream-prefix", prefix.as_str()];
    let mut worker = Command::new(env!("CARGO_BIN_EXE_upline"))
        .arg("worker")
        .args(common)
        .arg("--data")
        .arg(data.path())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // 60 orders and 15 refunds relayed after the poison: wait until the worker acknowledged
    // the whole stream.
    let volumes = events
        .consumer(ConsumerConfig::new("volumes"))
        .await
        .unwrap();
    let mut caught_up = false;
    for _ in 0..600 {
        let (_, last) = events.bounds().await.unwrap();
        if last == 76 && volumes.ack_floor().await.unwrap() == 76 {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    let status = worker.wait().unwrap();
    assert!(caught_up, "the worker did not get through the stream");
    assert!(status.success(), "upline worker exited with {status}");

    let store = store::embedded::EmbeddedStore::open(data.path()).unwrap();
    let mut stored = BTreeMap::new();
    for month in ["2026-10", "2026-11"] {
        for (distributor, volume) in store.period_volumes("acme", month).await.unwrap() {
            stored.insert((distributor, month.to_owned()), volume.pv);
        }
    }
    assert_eq!(stored, expected);
    assert!(store.pending_events(0, 10).await.unwrap().is_empty());
    drop(store);

    let listed = upline(&[&["dlq", "list"][..], &common[..]].concat());
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 1, "{listing}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(
        fields[..3],
        ["1", "volumes", "elsewhere:acme-1"],
        "{listing}"
    );
    assert!(
        fields[4].contains("the payload is not an order"),
        "{listing}"
    );

    let replayed = upline(&[&["dlq", "replay", "--sequence", "1"][..], &common[..]].concat());
    assert!(replayed.status.success(), "{replayed:?}");
    assert_eq!(
        String::from_utf8_lossy(&replayed.stdout).trim(),
        "replayed 1: elsewhere:acme-1"
    );
    let (_, last) = events.bounds().await.unwrap();
    let again = events.event(last).await.unwrap().unwrap();
    assert_eq!(again.id, "elsewhere:acme-1:replay:1");
    let empty = upline(&[&["dlq", "list"][..], &common[..]].concat());
    assert_eq!(
        String::from_utf8_lossy(&empty.stdout).trim(),
        "no dead letters in region local"
    );
    let missing = upline(&[&["dlq", "replay", "--sequence", "1"][..], &common[..]].concat());
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("there is no dead letter 1"),
        "{missing:?}"
    );
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Two regions as an operator runs them: eu-west's worker relays the orders its store took;
/// us-east's worker (`--inbound-from eu-west`) applies them to us-east's store from its inbound
/// stream, which sources eu-west's stream over a leaf link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_regions_worker_applies_the_orders_taken_in_another_region() {
    let tag = std::process::id();
    let (us_name, eu_name) = (format!("cli-us-east-{tag}"), format!("cli-eu-west-{tag}"));
    let us = own_nats_with(
        &us_name,
        &[
            ("UPLINE_NATS_DOMAIN", "us-east"),
            ("UPLINE_NATS_LEAF_LISTEN", "1"),
        ],
    );
    let eu = own_nats_with(
        &eu_name,
        &[
            ("UPLINE_NATS_DOMAIN", "eu-west"),
            ("UPLINE_NATS_LEAF_REMOTES", us.leaf.as_deref().unwrap()),
        ],
    );
    let prefix = format!("H{tag}X{}", rand_suffix());
    let (eu_data, us_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let expected = write_orders(eu_data.path()).await;
    // The tenant is at home in us-east: us-east applies its residents' orders from elsewhere.
    {
        let us_store = store::embedded::EmbeddedStore::open(us_data.path()).unwrap();
        store::TenantStore::create_tenant(
            &us_store,
            store::Tenant {
                id: "acme".into(),
                name: "Acme".into(),
                plan: serde_json::json!({ "name": "p", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": {} }),
                plan_version: 1,
                created_at_ms: 1,
                home_region: None,
                closes: None,
            },
        )
        .await
        .unwrap();
    }
    let worker = |region: &str, url: &str, data: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_upline"))
            .args(["worker", "--region", region, "--nats", url])
            .args(["--stream-prefix", prefix.as_str(), "--data"])
            .arg(data)
            .args(extra)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut eu_worker = worker("eu-west", &eu.client, eu_data.path(), &[]);
    let mut us_worker = worker(
        "us-east",
        &us.client,
        us_data.path(),
        &["--no-relay", "--inbound-from", "eu-west"],
    );

    // 60 orders and 15 refunds cross: wait until us-east's inbound consumer acknowledged them.
    let inbound = JetStreamBus::connect(
        &us.client,
        RegionStreams::new(&prefix, "us-east").inbound(&["eu-west"]),
    )
    .await
    .unwrap();
    let volumes = inbound
        .consumer(ConsumerConfig::new("volumes"))
        .await
        .unwrap();
    let mut crossed = false;
    for _ in 0..600 {
        if volumes.ack_floor().await.unwrap() == 75 {
            crossed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for worker in [&mut eu_worker, &mut us_worker] {
        unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
        assert!(worker.wait().unwrap().success());
    }
    assert!(crossed, "the orders did not cross to us-east");

    let store = store::embedded::EmbeddedStore::open(us_data.path()).unwrap();
    let mut stored = BTreeMap::new();
    for month in ["2026-10", "2026-11"] {
        for (distributor, volume) in store.period_volumes("acme", month).await.unwrap() {
            stored.insert((distributor, month.to_owned()), volume.pv);
        }
    }
    assert_eq!(stored, expected, "us-east's volumes");
    for name in [&eu_name, &us_name] {
        remove_nats(name);
    }
}

/// The worker holds several connections to its NATS server (the relay's, the consumers', the
/// dead letters'). When the server stops, its log says so once, then why connecting fails, and
/// once the server is back, that it is connected again; it then stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_logs_a_nats_outage_once_with_its_reason_and_its_end() {
    let name = unique("worker-outage").to_lowercase();
    let url = own_nats(&name);
    let _removes = OwnServer(name.clone());
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::start_with_env(
        data.path(),
        &[
            "--nats".into(),
            url.clone(),
            "--stream-prefix".into(),
            unique("OUTAGE"),
        ],
        &[("UPLINE_LOG", "info")],
    );
    let said_within = |needle: &'static str| {
        let worker = &worker;
        async move {
            let said = wait_for(Duration::from_secs(120), || worker.said().contains(needle)).await;
            assert!(said, "the worker never said {needle:?}:\n{}", worker.said());
        }
    };
    said_within("upline worker: region").await;

    stop_nats(&name);
    said_within("connecting fails: IO error: Connection refused").await;
    resume_nats(&name);
    said_within("connected again").await;

    let said = worker.said();
    // Told once however many connections were lost; a connection that came back after
    // another may tell its return again.
    for news in ["connection lost", "Connection refused"] {
        assert_eq!(said.matches(news).count(), 1, "{news:?} in:\n{said}");
    }
    assert!(
        said.contains(&format!(
            "NATS {url}: connection lost; reconnecting in the background"
        )),
        "{said}"
    );
    assert!(
        !said.contains("async_nats"),
        "the client's own lines: {said}"
    );
    worker.stop();
}
