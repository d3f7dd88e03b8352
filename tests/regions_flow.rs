//! A tenant at home in us-east with distributors residing in eu-west, each region served by its
//! own `upline serve` on its own store and its own nats-server (a JetStream domain each, linked
//! by leaf nodes):
//! - a distributor residing in eu-west enrolls through eu-west's endpoint under a us-east
//!   sponsor: us-east places them (request and reply over NATS), eu-west keeps their profile;
//! - their orders are taken in eu-west and reach us-east's volumes as events (us-east's
//!   inbound stream), once each;
//! - us-east's commission run pays them, and the payouts land in their eu-west wallets (events
//!   back through eu-west's inbound stream), once each, however often the run is posted;
//! - us-east's data holds none of their personal data: the test reads every byte of its data
//!   files (embedded store) or every row of its keyspaces (us-east on the real Cassandra node).
//!
//! The flow runs three times: us-east on an embedded store, us-east on Cassandra (eu-west on an
//! embedded store each time: two deployments), and both regions in one Cassandra deployment —
//! one global keyspace (the tenant's one record, its API keys) and a keyspace per region.

mod common;

use common::cassandra::{migrate, migrated_prefix, scylla_arguments, DATACENTER};
use common::nats::{own_nats_with, remove_nats, unique};
use common::serve::{start_with, ServeProcess};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const PLAN: &str = r#"{ "name": "regions", "currency": "USD", "ranks": [{ "name": "Member" }],
    "bonuses": { "unilevel": { "levels": [0.10, 0.05] } } }"#;

/// The personal data of the eu-west residents: none of it may reach us-east.
const RESIDENT_NAMES: [&str; 2] = ["Amelie Eu-Resident", "Bruno Eu-Resident"];

/// Where the regions keep their data.
enum HomeStore {
    /// Each an embedded store.
    Embedded,
    /// us-east its own keyspaces on the test run's Cassandra node, under this prefix,
    /// migrated; eu-west an embedded store.
    Cassandra { prefix: String },
    /// Both one deployment on the node: the global keyspace and one keyspace per region.
    SharedCassandra { prefix: String },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributor_residing_in_eu_west_enrolls_orders_and_is_paid_by_us_east() {
    flow("embedded", HomeStore::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_with_us_east_on_cassandra() {
    let prefix = migrated_prefix("flow", "us-east");
    flow("cassandra", HomeStore::Cassandra { prefix }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_with_both_regions_in_one_cassandra_deployment() {
    let prefix = migrated_prefix("shared", "us-east");
    migrate(&prefix, "eu-west");
    flow("shared", HomeStore::SharedCassandra { prefix }).await;
}

async fn flow(label: &str, home_store: HomeStore) {
    let tag = format!("{label}-{}", std::process::id());
    let (us_name, eu_name) = (format!("flow-us-east-{tag}"), format!("flow-eu-west-{tag}"));
    let us_nats = own_nats_with(
        &us_name,
        &[
            ("UPLINE_NATS_DOMAIN", "us-east"),
            ("UPLINE_NATS_LEAF_LISTEN", "1"),
        ],
    );
    let eu_nats = own_nats_with(
        &eu_name,
        &[
            ("UPLINE_NATS_DOMAIN", "eu-west"),
            ("UPLINE_NATS_LEAF_REMOTES", us_nats.leaf.as_deref().unwrap()),
        ],
    );
    let prefix = unique("F");
    let work = tempfile::tempdir().unwrap();
    let (us_data, eu_data) = (work.path().join("us-east"), work.path().join("eu-west"));
    let region = |name: &str, url: &str, extra: &[&str]| {
        let mut arguments: Vec<String> = ["--region", name, "--nats", url, "--stream-prefix"]
            .iter()
            .map(|text| text.to_string())
            .collect();
        arguments.push(prefix.clone());
        arguments.extend(extra.iter().map(|text| text.to_string()));
        arguments
    };
    let mut us_arguments = region("us-east", &us_nats.client, &["--inbound-from", "eu-west"]);
    let mut eu_arguments = region("eu-west", &eu_nats.client, &["--inbound-from", "us-east"]);
    match &home_store {
        HomeStore::Embedded => {}
        HomeStore::Cassandra { prefix } => us_arguments.extend(scylla_arguments(prefix, "us-east")),
        HomeStore::SharedCassandra { prefix } => {
            for (arguments, here, other) in [
                (&mut us_arguments, "us-east", "eu-west"),
                (&mut eu_arguments, "eu-west", "us-east"),
            ] {
                arguments.extend(scylla_arguments(prefix, here));
                arguments.extend(["--datacenter".to_owned(), format!("{other}={DATACENTER}")]);
            }
        }
    }
    let us = start_with(&us_data, &us_arguments);
    let eu = start_with(&eu_data, &eu_arguments);

    // The tenant is at home in us-east; eu-west keeps its residents.
    let us_key = tenant(&us, None).await;
    let eu_key = match &home_store {
        // One record and its keys, read by both regions: eu-west sees it at home in us-east.
        HomeStore::SharedCassandra { .. } => us_key.clone(),
        _ => tenant(&eu, Some("us-east")).await,
    };
    for (id, sponsor) in [("d0", None), ("d1", Some("d0"))] {
        us.expect(
            Method::POST,
            "/v1/distributors",
            &us_key,
            Some(json!({ "id": id, "sponsor_id": sponsor, "joined_on": "2026-01-01" })),
            StatusCode::CREATED,
        )
        .await;
    }

    // eu1 enrolls through eu-west under d1 (a us-east distributor), eu2 under eu1.
    for (id, sponsor, name) in [
        ("eu1", "d1", RESIDENT_NAMES[0]),
        ("eu2", "eu1", RESIDENT_NAMES[1]),
    ] {
        let enrolled = eu
            .expect(
                Method::POST,
                "/v1/distributors",
                &eu_key,
                Some(json!({
                    "id": id,
                    "sponsor_id": sponsor,
                    "joined_on": "2026-11-01",
                    "profile": { "name": name, "email": format!("{id}@mail.example"), "country": "FR" },
                })),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(enrolled["sponsor_id"], sponsor, "{enrolled}");
        assert_eq!(enrolled["residence_region"], "eu-west", "{enrolled}");
        assert_eq!(enrolled["profile"]["name"], name, "{enrolled}");
    }
    // What eu-west cannot do on its own is refused with the region that can.
    let unknown_sponsor = eu
        .expect(
            Method::POST,
            "/v1/distributors",
            &eu_key,
            Some(json!({ "id": "eu9", "sponsor_id": "nobody" })),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(
        unknown_sponsor["detail"]
            .as_str()
            .unwrap()
            .contains("nobody"),
        "{unknown_sponsor}"
    );
    let elsewhere = eu
        .expect(
            Method::GET,
            "/v1/distributors/eu1/upline",
            &eu_key,
            None,
            StatusCode::MISDIRECTED_REQUEST,
        )
        .await;
    assert!(
        elsewhere["detail"].as_str().unwrap().contains("us-east"),
        "{elsewhere}"
    );

    // Orders: the residents' in eu-west, d1's in us-east; us-east refuses a resident's order.
    for (id, pv) in [("eu1", 100), ("eu2", 40)] {
        let status = eu
            .post_order(
                &eu_key,
                &format!("eu-{id}"),
                id,
                "2026-11-10",
                &pv.to_string(),
                &pv.to_string(),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
    }
    let status = us
        .post_order(&us_key, "us-d1", "d1", "2026-11-11", "10", "10")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    let status = us
        .post_order(&us_key, "us-eu1", "eu1", "2026-11-11", "10", "10")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);

    // The residents' volumes reach us-east.
    for (id, pv) in [("eu1", "100"), ("eu2", "40")] {
        let path = format!("/v1/distributors/{id}/stats?period=2026-11");
        let seen = read_until(&us, &us_key, &path, |stats| {
            stats["pv"]
                .as_str()
                .is_some_and(|text| text.split('.').next() == Some(pv))
        })
        .await;
        assert_eq!(
            seen["pv"].as_str().unwrap().split('.').next(),
            Some(pv),
            "{id} in us-east: {seen}"
        );
    }

    // us-east's run pays them: eu1 earns on eu2's volume, d1 on both.
    let run = us.run_period(&us_key, "2026-11").await;
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(run["status"], "preview", "{run}");
    let statement = |id: &'static str| {
        let (us, key) = (&us, &us_key);
        async move {
            us.expect(
                Method::GET,
                &format!("/v1/runs/{run_id}/statements/{id}"),
                key,
                None,
                StatusCode::OK,
            )
            .await
        }
    };
    let eu1 = statement("eu1").await;
    assert_eq!(
        eu1["summary"]["pv"].as_str().unwrap().split('.').next(),
        Some("100"),
        "{eu1}"
    );
    let sources: Vec<&str> = eu1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["eu2"], "{eu1}");
    assert_ne!(eu1["summary"]["total"], "0.00", "{eu1}");
    let d1 = statement("d1").await;
    let mut d1_sources: Vec<&str> = d1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["source"].as_str().unwrap())
        .collect();
    d1_sources.sort_unstable();
    assert_eq!(d1_sources, ["eu1", "eu2"], "{d1}");

    // Posted in us-east, paid into the wallets eu-west keeps; posting again pays nothing more.
    for step in ["commit", "post", "post"] {
        us.expect(
            Method::POST,
            &format!("/v1/runs/{run_id}/{step}"),
            &us_key,
            None,
            StatusCode::OK,
        )
        .await;
    }
    let eu1_total = eu1["summary"]["total"].as_str().unwrap().to_owned();
    let wallet = read_until(&eu, &eu_key, "/v1/wallets/eu1", |wallet| {
        wallet["balance"] == eu1_total.as_str()
    })
    .await;
    assert_eq!(
        wallet["balance"],
        eu1_total.as_str(),
        "eu1's wallet in eu-west: {wallet}"
    );
    // Once: settled postings come by once per line however often the run is posted, and a
    // wallet keeps its count of transfers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let wallet = eu
        .expect(
            Method::GET,
            "/v1/wallets/eu1",
            &eu_key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(wallet["balance"], eu1_total.as_str(), "{wallet}");
    assert_eq!(
        wallet["transfers"],
        eu1["lines"].as_array().unwrap().len(),
        "{wallet}"
    );
    // us-east keeps no wallet for them, only what it owes eu-west.
    let us_wallet = us
        .expect(
            Method::GET,
            "/v1/wallets/eu1",
            &us_key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(us_wallet["transfers"], 0, "{us_wallet}");
    let d1_wallet = us
        .expect(Method::GET, "/v1/wallets/d1", &us_key, None, StatusCode::OK)
        .await;
    assert_eq!(d1_wallet["balance"], d1["summary"]["total"], "{d1_wallet}");

    // us-east keeps them without personal data; eu-west keeps it.
    let in_us_east = us
        .expect(
            Method::GET,
            "/v1/distributors/eu1",
            &us_key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(in_us_east["residence_region"], "eu-west");
    let profile_seen_in_us_east = match &home_store {
        // One deployment: us-east's API reads the profile from eu-west's keyspace, as for a
        // resident it enrolled itself (api/tests/residence.rs); it stores none (below).
        HomeStore::SharedCassandra { .. } => {
            json!({ "name": RESIDENT_NAMES[0], "email": "eu1@mail.example", "country": "FR" })
        }
        // Two deployments: us-east has no way to it.
        _ => json!({ "name": null, "email": null, "country": null }),
    };
    assert_eq!(in_us_east["profile"], profile_seen_in_us_east);
    us.stop();
    eu.stop();
    let (us_rows, eu_rows) = match &home_store {
        HomeStore::Cassandra { prefix } => (keyspace_rows(prefix, "us-east").await, String::new()),
        HomeStore::SharedCassandra { prefix } => (
            keyspace_rows(prefix, "us-east").await,
            keyspace_rows(prefix, "eu-west").await,
        ),
        HomeStore::Embedded => (String::new(), String::new()),
    };
    // What each region keeps: its data files, or every row of its keyspaces.
    let us_holds = |name: &str| match &home_store {
        HomeStore::Embedded => bytes_contain(&us_data, name),
        HomeStore::Cassandra { .. } | HomeStore::SharedCassandra { .. } => us_rows.contains(name),
    };
    let eu_holds = |name: &str| match &home_store {
        HomeStore::SharedCassandra { .. } => eu_rows.contains(name),
        _ => bytes_contain(&eu_data, name),
    };
    for name in RESIDENT_NAMES {
        assert!(!us_holds(name), "{name:?} is kept in us-east");
        assert!(eu_holds(name), "{name:?} is not kept in eu-west");
    }
    for name in [&eu_name, &us_name] {
        remove_nats(name);
    }
}

/// A tenant `acme` with PLAN (at home in `home_region` when given); returns its API key.
async fn tenant(server: &ServeProcess, home_region: Option<&str>) -> String {
    let mut body = json!({ "id": "acme", "name": "Acme", "plan": serde_json::from_str::<Value>(PLAN).unwrap() });
    if let Some(home) = home_region {
        body["home_region"] = json!(home);
    }
    server.tenant_with(body).await
}

/// Reads `path` until `done` holds for the answer (or gives up after a minute: the assertion
/// after it tells what was last seen).
async fn read_until(
    server: &ServeProcess,
    key: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut seen = Value::Null;
    for _ in 0..600 {
        seen = server
            .expect(Method::GET, path, key, None, StatusCode::OK)
            .await;
        if done(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// Every row of a region's keyspaces (global and regional) as JSON text, one per line, read
/// from the node. It must hold the residents' ids (the genealogy).
async fn keyspace_rows(prefix: &str, region: &str) -> String {
    let config = store::scylla::testing::config(prefix, region);
    let session = store::scylla::connect(&config).await.unwrap();
    let mut rows = String::new();
    for keyspace in [config.global_keyspace(), config.regional_keyspace(region)] {
        for table in store::scylla::testing::tables(&session, &keyspace).await {
            let result = session
                .query_unpaged(format!("SELECT JSON * FROM {keyspace}.{table}"), ())
                .await
                .unwrap()
                .into_rows_result()
                .unwrap();
            for row in result.rows::<(String,)>().unwrap() {
                rows.push_str(&row.unwrap().0);
                rows.push('\n');
            }
        }
    }
    assert!(
        rows.contains("\"eu2\""),
        "the residents' genealogy rows are there to read"
    );
    rows
}

/// Whether any file under `directory` holds `text`'s bytes.
fn bytes_contain(directory: &Path, text: &str) -> bool {
    let needle = text.as_bytes();
    let mut pending = vec![directory.to_owned()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|window| window == needle)
        {
            return true;
        }
    }
    false
}
