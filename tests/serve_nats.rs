//! `upline serve --nats`: the server publishes its outbox to the region's JetStream stream (a
//! real nats-server) while its volume projector keeps the volumes; an event leaves the outbox
//! only after both have passed it, and a NATS outage holds up neither orders nor closes. What
//! leaves the process carries pseudonymous ids and volumes, never a distributor's personal data.

mod common;

use common::event_stream::StreamReader;
use common::nats::{nats_url, own_nats, remove_nats, resume_nats, stop_nats, unique};
use common::serve::{start_with, ServeProcess};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use store::{OutboxStore, VolumeStore};
use worker::requests::Requester;
use worker::streams::RegionStreams;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_every_event_once_and_keeps_its_volumes() {
    let url = nats_url();
    let prefix = unique("S");
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = serve_with_nats(&data, &url, &prefix);
    let key = tenant_with_distributors(&server, 10).await;
    let mut expected_pv = BTreeMap::new();
    post_orders(&server, &key, 0..30, 10, &mut expected_pv).await;

    server
        .expect(
            Method::PATCH,
            "/v1/distributors/d3",
            &key,
            Some(json!({ "name": "Renamed Person", "email": "renamed@example.org" })),
            StatusCode::OK,
        )
        .await;

    // The region's stream holds the tenant's events, each once, and no personal data.
    let mut reader = StreamReader::new(&url, &prefix).await;
    reader.read_until(10, 30).await;
    reader.assert_each_once(10, 30);
    reader.read_until_kind("distributor.updated").await;
    for personal in ["Person", "example.org", "FR"] {
        let leaked: Vec<&String> = reader
            .payloads
            .iter()
            .filter(|payload| payload.contains(personal))
            .collect();
        assert!(
            leaked.is_empty(),
            "{personal:?} left the region: {leaked:?}"
        );
    }

    // A graceful stop stores the volumes and deletes what both readers passed.
    server.stop();
    assert_outbox_empty_and_volumes(&data, &expected_pv).await;
}

/// NATS stops mid-flow: orders are still taken and a close still runs on every one of them;
/// the events wait in the outbox (the projector has stored their volumes but may not delete
/// them before the relay has published them) and reach the stream once each after the resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_holds_up_neither_orders_nor_closes_and_loses_no_event() {
    let nats_name = unique("serve-outage").to_lowercase();
    let url = own_nats(&nats_name);
    let prefix = unique("O");
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = serve_with_nats(&data, &url, &prefix);
    let key = tenant_with_distributors(&server, 5).await;
    let mut expected_pv = BTreeMap::new();
    post_orders(&server, &key, 0..10, 5, &mut expected_pv).await;
    let mut reader = StreamReader::new(&url, &prefix).await;
    reader.read_until(5, 10).await;

    stop_nats(&nats_name);
    post_orders(&server, &key, 10..20, 5, &mut expected_pv).await;
    // The close waits for every acknowledged order to reach the volumes, not for NATS.
    let run = server.run_period(&key, "2026-11").await;
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(run["status"], "preview", "{run}");
    for (distributor, pv) in &expected_pv {
        let statement = server
            .expect(
                Method::GET,
                &format!("/v1/runs/{run_id}/statements/{distributor}"),
                &key,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            whole_units(&statement["summary"]["pv"]),
            pv / 10_000,
            "{statement}"
        );
    }

    resume_nats(&nats_name);
    let mut reader = StreamReader::new(&url, &prefix).await;
    reader.read_until(5, 20).await;
    reader.assert_each_once(5, 20);
    server.stop();
    assert_outbox_empty_and_volumes(&data, &expected_pv).await;
    remove_nats(&nats_name);
}

/// A distributor residing in eu-west enrolls through eu-west's endpoint, which asks the home
/// region (this server, us-east) to place them: the request carries the pseudonymous id, the
/// sponsor, the date and the residence — never a profile. us-east places them like any
/// enrollment; a retried request gets the same answer; a conflicting one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_region_places_distributors_enrolled_through_other_regions() {
    let url = nats_url();
    let prefix = unique("E");
    let work = tempfile::tempdir().unwrap();
    let server = start_with(
        &work.path().join("data"),
        &[
            "--nats".into(),
            url.clone(),
            "--stream-prefix".into(),
            prefix.clone(),
            "--region".into(),
            "us-east".into(),
        ],
    );
    let key = tenant_with_distributors(&server, 5).await;
    let subject = RegionStreams::new(&prefix, "us-east").enroll_subject();
    let requester = Requester::connect(&url, Duration::from_secs(10))
        .await
        .unwrap();
    let ask = |request: Value| {
        let (requester, subject) = (requester.clone(), subject.clone());
        async move {
            let answer = requester
                .request(&subject, serde_json::to_vec(&request).unwrap())
                .await
                .expect("us-east answers");
            serde_json::from_slice::<Value>(&answer).unwrap()
        }
    };
    let request = json!({
        "tenant_id": "acme",
        "id": "eu1",
        "sponsor_id": "d1",
        "joined_on": "2026-11-02",
        "residence_region": "eu-west",
    });

    let enrolled = ask(request.clone()).await;
    let placed = &enrolled["enrolled"];
    assert_eq!(placed["id"], "eu1", "{enrolled}");
    assert_eq!(placed["sponsor_id"], "d1");
    assert_eq!(placed["joined_on"], "2026-11-02");
    assert_eq!(placed["residence_region"], "eu-west");
    // The answer was lost, say: the retry gets the same record, and nothing is enrolled twice.
    assert_eq!(ask(request.clone()).await, enrolled);

    let mut moved = request.clone();
    moved["sponsor_id"] = json!("d2");
    let refused = ask(moved).await;
    assert_eq!(refused["refused"]["status"], 409, "{refused}");
    let mut orphan = request.clone();
    orphan["id"] = json!("eu2");
    orphan["sponsor_id"] = json!("nobody");
    let refused = ask(orphan).await;
    assert!(
        refused["refused"]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("nobody")),
        "{refused}"
    );
    let mut personal = request.clone();
    personal["id"] = json!("eu3");
    personal["profile"] = json!({ "name": "Personal Data" });
    let refused = ask(personal).await;
    assert_eq!(refused["refused"]["status"], 422, "{refused}");
    assert!(
        refused["refused"]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("profile")),
        "{refused}"
    );

    // us-east's genealogy has them under their sponsor, without any personal data.
    let stored = server
        .expect(
            Method::GET,
            "/v1/distributors/eu1",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(stored["residence_region"], "eu-west");
    assert_eq!(
        stored["profile"],
        json!({ "name": null, "email": null, "country": null })
    );
    let upline = server
        .expect(
            Method::GET,
            "/v1/distributors/eu1/upline",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    let ids: Vec<&str> = upline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["d1", "d0"], "{upline}");
    for absent in ["eu2", "eu3"] {
        server
            .expect(
                Method::GET,
                &format!("/v1/distributors/{absent}"),
                &key,
                None,
                StatusCode::NOT_FOUND,
            )
            .await;
    }
}

fn serve_with_nats(data: &Path, url: &str, prefix: &str) -> ServeProcess {
    start_with(
        data,
        &[
            "--nats".into(),
            url.to_owned(),
            "--stream-prefix".into(),
            prefix.to_owned(),
        ],
    )
}

/// Tenant `acme` (one unilevel level) with `count` distributors d0… in a binary-shaped sponsor
/// tree; returns its API key.
async fn tenant_with_distributors(server: &ServeProcess, count: usize) -> String {
    let plan = serde_json::from_str(
        r#"{ "name": "nats", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": { "unilevel": { "levels": [0.10] } } }"#,
    )
    .unwrap();
    let key = server.tenant("acme", plan).await;
    for n in 0..count {
        let sponsor = (n > 0).then(|| format!("d{}", (n - 1) / 2));
        server
            .expect(
                Method::POST,
                "/v1/distributors",
                &key,
                Some(json!({
                    "id": format!("d{n}"),
                    "sponsor_id": sponsor,
                    "joined_on": "2026-01-01",
                    "profile": {
                        "name": format!("Person Number{n}"),
                        "email": format!("person{n}@example.org"),
                        "country": "FR",
                    },
                })),
                StatusCode::CREATED,
            )
            .await;
    }
    key
}

/// Posts orders `o{n}` of PV n+1 in November, spread over `distributors`; adds their PV (in
/// 1/10,000) to `expected_pv`.
async fn post_orders(
    server: &ServeProcess,
    key: &str,
    numbers: std::ops::Range<i64>,
    distributors: i64,
    expected_pv: &mut BTreeMap<String, i64>,
) {
    for n in numbers {
        let distributor = format!("d{}", n % distributors);
        let status = server
            .post_order(
                key,
                &format!("o{n}"),
                &distributor,
                "2026-11-12",
                &format!("{}", n + 1),
                "1",
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
        *expected_pv.entry(distributor).or_default() += (n + 1) * 10_000;
    }
}

/// A decimal string with a zero fraction (`"55"`, `"55.00"`) as whole units.
fn whole_units(value: &Value) -> i64 {
    let text = value.as_str().expect("a decimal string");
    let (units, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.chars().all(|c| c == '0'), "{text}");
    units.parse().unwrap()
}

/// After a graceful stop: the outbox is empty and the stored November volumes are `expected`.
async fn assert_outbox_empty_and_volumes(data: &Path, expected_pv: &BTreeMap<String, i64>) {
    let store = store::embedded::EmbeddedStore::open(data).unwrap();
    let stored: BTreeMap<String, i64> = store
        .period_volumes("acme", "2026-11")
        .await
        .unwrap()
        .into_iter()
        .map(|(distributor, volume)| (distributor, volume.pv))
        .collect();
    assert_eq!(&stored, expected_pv);
    assert!(store.pending_events(0, 10).await.unwrap().is_empty());
}
