//! Restatements sent by `upline worker --closes`, on the test Cassandra and the shared NATS.
//! `upline serve --nats --no-closes` takes the refunds and restates nothing itself; the workers
//! restate the closed period from the refund events, each refund once:
//! - a worker ended (as by `kill -9`) right after committing a restatement leaves it to another
//!   worker (which carries it on at its start, or when the refund comes again after twice the
//!   lease), and that one posts exactly its differences;
//! - a copy of the refund event (another message id, so JetStream keeps it) restates nothing;
//! - a second refund restates the restatement.
//!
//! After each step every wallet holds exactly its total in the run in force.

mod common;

use common::cassandra::{migrated_prefix, store_arguments};
use common::nats::{nats_url, unique};
use common::serve::{start_with, ServeProcess};
use common::worker::{wait_for, Worker};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{EventBus, OutgoingEvent};
use worker::streams::RegionStreams;

const DISTRIBUTORS: usize = 12;
const PERIOD: &str = "2026-10";
const REGION: &str = "us-east";
/// The workers' period lease: a dead worker's restatement is taken over this long after.
const LEASE_SECONDS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_restate_closed_periods_from_refund_events_once_each() {
    let prefix = migrated_prefix("restate", REGION);
    let streams = unique("R");
    let work = tempfile::tempdir().unwrap();
    let mut common_arguments = store_arguments(&prefix, REGION);
    common_arguments
        .extend(["--nats", &nats_url(), "--stream-prefix", &streams].map(str::to_owned));
    let mut serve_arguments = common_arguments.clone();
    serve_arguments.push("--no-closes".into());
    let server = start_with(&work.path().join("serve"), &serve_arguments);
    let key = server
        .tenant(
            "acme",
            json!({
                "name": "restated", "currency": "USD", "ranks": [{ "name": "Member" }],
                "bonuses": { "unilevel": { "levels": [0.10, 0.05] } }
            }),
        )
        .await;
    server
        .enroll_tree(&key, DISTRIBUTORS, 2, &format!("{PERIOD}-01"))
        .await;
    server
        .order_for_each(&key, DISTRIBUTORS, &format!("{PERIOD}-05"))
        .await;
    let closed_id = server.pay_period(&key, PERIOD).await["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, &closed_id)
        .await;

    // A worker takes the refund and ends once its restatement is committed, before paying.
    let worker_arguments = {
        let mut arguments = common_arguments.clone();
        let lease = LEASE_SECONDS.to_string();
        arguments.extend(
            [
                "--no-relay",
                "--closes",
                "--close-scan",
                "3600",
                "--close-lease",
                &lease,
            ]
            .map(str::to_owned),
        );
        arguments
    };
    let worker_data = work.path().join("worker");
    let mut dying = Worker::start(
        &worker_data,
        &worker_arguments,
        Some("restatement-committed"),
    );
    refund(&server, &key, "o5").await;
    let status = dying.wait(Duration::from_secs(120));
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(137),
        "the worker ended after committing the restatement:\n{}",
        dying.said()
    );
    let after_crash = runs(&server, &key).await;
    assert_eq!(
        after_crash.len(),
        2,
        "the serve restated nothing itself: {after_crash:?}"
    );
    let (first_id, first_status, first_restates) = after_crash[1].clone();
    assert_eq!(
        (first_status.as_str(), first_restates.as_str()),
        ("committed", closed_id.as_str()),
        "{after_crash:?}"
    );
    let refund_sequence: u64 = first_id
        .strip_prefix(&format!("{PERIOD}.r"))
        .and_then(|sequence| sequence.parse().ok())
        .unwrap_or_else(|| panic!("the restatement is named after its refund: {first_id}"));

    // Another worker carries it on: the differences once.
    let finisher = Worker::start(&worker_data, &worker_arguments, None);
    let restated = server.wait_for_restatement(&key, &closed_id).await;
    assert_eq!(restated["run_id"], first_id.as_str());
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, &first_id)
        .await;

    // A copy of the refund event, under another message id, restates nothing.
    let bus = JetStreamBus::connect(&nats_url(), RegionStreams::new(&streams, REGION).events())
        .await
        .unwrap();
    let copy = republish_refund(&bus, refund_sequence).await;
    let consumer = bus
        .consumer(worker::restatements::consumer_config(
            &RegionStreams::new(&streams, REGION).events_subject_prefix(),
            Duration::from_secs(LEASE_SECONDS),
        ))
        .await
        .unwrap();
    let mut settled = false;
    for _ in 0..300 {
        if consumer.ack_floor().await.unwrap() >= copy {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        settled,
        "the worker did not settle the copy:\n{}",
        finisher.said()
    );
    assert_eq!(
        runs(&server, &key).await,
        [
            (closed_id.clone(), "superseded".into(), String::new()),
            (first_id.clone(), "posted".into(), closed_id.clone()),
        ],
        "the copy restated nothing"
    );
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, &first_id)
        .await;

    // A second refund restates the restatement.
    refund(&server, &key, "o8").await;
    let second = server.wait_for_restatement(&key, &first_id).await;
    let second_id = second["run_id"].as_str().unwrap();
    assert!(
        second_id.starts_with(&format!("{PERIOD}.r")) && second_id != first_id,
        "{second}"
    );
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, second_id)
        .await;
    assert!(
        wait_for(Duration::from_secs(1), || finisher
            .said()
            .contains(&format!("restated {PERIOD} of tenant acme")))
        .await,
        "{}",
        finisher.said()
    );
    finisher.stop();
    server.stop();
}

async fn refund(server: &ServeProcess, key: &str, order: &str) {
    server
        .expect(
            Method::POST,
            &format!("/v1/orders/{order}/refund"),
            key,
            None,
            StatusCode::OK,
        )
        .await;
}

/// The tenant's runs as (id, status, the run it restates), oldest first.
async fn runs(server: &ServeProcess, key: &str) -> Vec<(String, String, String)> {
    let runs = server
        .expect(Method::GET, "/v1/runs", key, None, StatusCode::OK)
        .await;
    let text = |run: &Value, field: &str| run[field].as_str().unwrap_or_default().to_owned();
    runs.as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                text(run, "run_id"),
                text(run, "status"),
                text(run, "restates"),
            )
        })
        .collect()
}

/// Publishes a copy of the refund event stored at outbox `sequence` under another message id;
/// returns the copy's stream position.
async fn republish_refund(bus: &JetStreamBus, sequence: u64) -> u64 {
    let (first, last) = bus.bounds().await.unwrap();
    for position in first..=last {
        let Some(event) = bus.event(position).await.unwrap() else {
            continue;
        };
        let is_the_refund = event.header("Upline-Kind") == Some("order.refunded")
            && event.header("Upline-Outbox-Sequence") == Some(sequence.to_string().as_str());
        if !is_the_refund {
            continue;
        }
        let copy = OutgoingEvent {
            id: format!("{}-copy", event.id),
            subject: event.subject.clone(),
            headers: event
                .headers
                .iter()
                .filter(|(name, _)| !name.starts_with("Nats-"))
                .cloned()
                .collect(),
            payload: event.payload.clone(),
        };
        let outcome = bus.publish(&[copy], None, 1).await;
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        let receipt = outcome.receipts[0];
        assert!(!receipt.duplicate);
        return receipt.stream_sequence;
    }
    panic!("no refund event with outbox sequence {sequence} in the stream");
}
