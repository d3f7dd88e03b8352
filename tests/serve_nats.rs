//! `upline serve --nats`: the server publishes its outbox to the region's JetStream stream (a
//! real nats-server) while its volume projector keeps the volumes; an event leaves the outbox
//! only after both have passed it.

mod common;

use common::nats::nats_url;
use common::serve::start_with;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use store::{OutboxStore, VolumeStore};
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{headers, ConsumerConfig, EventBus};
use worker::streams::RegionStreams;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_every_event_once_and_keeps_its_volumes() {
    let url = nats_url();
    let prefix = format!(
        "S{}X{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = start_with(
        &data,
        &[
            "--nats".into(),
            url.clone(),
            "--stream-prefix".into(),
            prefix.clone(),
        ],
    );
    let plan = serde_json::from_str(
        r#"{ "name": "nats", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": { "unilevel": { "levels": [0.10] } } }"#,
    )
    .unwrap();
    let key = server.tenant("acme", plan).await;
    for n in 0..10 {
        let sponsor = (n > 0).then(|| format!("d{}", (n - 1) / 2));
        server
            .expect(
                Method::POST,
                "/v1/distributors",
                &key,
                Some(json!({ "id": format!("d{n}"), "sponsor_id": sponsor, "joined_on": "2026-01-01" })),
                StatusCode::CREATED,
            )
            .await;
    }
    let mut expected_pv: BTreeMap<String, i64> = BTreeMap::new();
    for n in 0..30 {
        let distributor = format!("d{}", n % 10);
        let status = server
            .post_order(
                &key,
                &format!("o{n}"),
                &distributor,
                "2026-11-12",
                &format!("{}", n + 1),
                "1",
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
        // PV in 1/10,000.
        *expected_pv.entry(distributor).or_default() += (n + 1) * 10_000;
    }

    // The region's stream holds the tenant's events, each once.
    let streams = RegionStreams::new(&prefix, "local");
    let bus = JetStreamBus::connect(&url, streams.events()).await.unwrap();
    let reader = bus
        .consumer(ConsumerConfig::new("test-reader"))
        .await
        .unwrap();
    let mut orders: BTreeMap<String, usize> = BTreeMap::new();
    let mut enrolled = 0;
    for _ in 0..200 {
        for delivery in reader.fetch(100, Duration::from_millis(200)).await.unwrap() {
            assert!(delivery
                .subject
                .starts_with(&streams.events_subject_prefix()));
            assert_eq!(delivery.header(headers::TENANT), Some("acme"));
            match delivery.header(headers::KIND) {
                Some("order.created") => {
                    let order: Value = serde_json::from_slice(&delivery.payload).unwrap();
                    *orders
                        .entry(order["order_id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
                Some("distributor.enrolled") => enrolled += 1,
                _ => {}
            }
            delivery.ack().await.unwrap();
        }
        if orders.len() == 30 && enrolled == 10 {
            break;
        }
    }
    assert_eq!(enrolled, 10);
    assert_eq!(orders.len(), 30, "{orders:?}");
    assert!(orders.values().all(|&count| count == 1), "{orders:?}");

    // A graceful stop stores the volumes and deletes what both readers passed.
    server.stop();
    let store = store::embedded::EmbeddedStore::open(&data).unwrap();
    let stored: BTreeMap<String, i64> = store
        .period_volumes("acme", "2026-11")
        .await
        .unwrap()
        .into_iter()
        .map(|(distributor, volume)| (distributor, volume.pv))
        .collect();
    assert_eq!(stored, expected_pv);
    assert!(store.pending_events(0, 10).await.unwrap().is_empty());
}
