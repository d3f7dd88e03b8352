//! The database goes away during order ingestion and comes back: while it is down the API
//! answers 503 with Retry-After (never a 500, never an acknowledgement it cannot keep);
//! afterwards every acknowledged order is there exactly once — in the orders and in the
//! volumes — and the ledger of the period's commissions sums to zero.
//!
//! The node is one of this test's own (`UPLINE_CASSANDRA_NODE`), so stopping it disturbs no
//! other test of the run.

mod common;

use api::server::StoreChoice;
use common::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::scylla::testing::OwnNode;

/// Concurrent clients sending orders.
const CLIENTS: usize = 4;

/// What the clients saw.
#[derive(Default)]
struct Seen {
    acknowledged: Mutex<BTreeSet<String>>,
    unavailable: AtomicU64,
}

/// Sends orders until told to stop; each order is retried with its key until acknowledged,
/// as a client following Retry-After does (faster here: the test wants the outage's answers).
async fn client(
    server: Arc<Server>,
    key: String,
    number: usize,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
) {
    let http = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let order_id = format!("o{number}-{n}");
        let distributor = format!("d{}", n % 9 + 1);
        let body = json!({ "order_id": order_id, "distributor_id": distributor, "date": "2026-11-05", "pv": "1", "cv": "10" });
        loop {
            let response = http
                .post(format!("{}/v1/orders", server.base))
                .bearer_auth(&key)
                .header("Idempotency-Key", format!("key-{order_id}"))
                .json(&body)
                .send()
                .await
                .expect("the API answers (it stays up while the database is down)");
            match response.status() {
                StatusCode::CREATED | StatusCode::OK => {
                    seen.acknowledged.lock().unwrap().insert(order_id.clone());
                    break;
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    let retry_after = response.headers().get("retry-after").cloned();
                    let problem = response.text().await.unwrap();
                    assert!(
                        retry_after.is_some(),
                        "a 503 without Retry-After: {problem}"
                    );
                    seen.unavailable.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => panic!(
                    "order {order_id} answered {other}: {}",
                    response.text().await.unwrap()
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_during_ingestion_loses_and_doubles_nothing() {
    let node_dir = tempfile::tempdir().expect("a directory for the node");
    let node = Arc::new(OwnNode::new(node_dir.path(), &[]));
    let address = tokio::task::spawn_blocking({
        let node = node.clone();
        move || node.run("start")
    })
    .await
    .unwrap();
    let mut config = store::scylla::testing::config("outage_", "test");
    config.nodes = vec![address];
    store::scylla::testing::migrated(&config).await;
    let choice = StoreChoice::Scylla(config);
    let server = Arc::new(Server {
        api: ApiClient::new(start_on(&choice).await, ADMIN_TOKEN),
        data: tempfile::tempdir().unwrap(),
        store: choice,
    });
    let key = server.tenant("outage", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    for n in 1..=9 {
        server.enroll(&key, &format!("d{n}"), Some("root")).await;
    }
    // The sponsor qualifies (10 PV), so the period pays commissions into the ledger.
    server.order(&key, "o-root", "root", "10", "0").await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| {
            tokio::spawn(client(
                server.clone(),
                key.clone(),
                number,
                stop.clone(),
                seen.clone(),
            ))
        })
        .collect();
    let acknowledged = || seen.acknowledged.lock().unwrap().len();
    while acknowledged() < 200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopping = node.clone();
    tokio::task::spawn_blocking(move || stopping.run("stop"))
        .await
        .unwrap();
    while seen.unavailable.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during_outage = acknowledged();
    let resuming = node.clone();
    tokio::task::spawn_blocking(move || resuming.run("resume"))
        .await
        .unwrap();
    while acknowledged() < during_outage + 200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("a client ran to its end");
    }

    let acknowledged = seen.acknowledged.lock().unwrap().clone();
    for order_id in &acknowledged {
        let order = server
            .expect(
                Method::GET,
                &format!("/v1/orders/{order_id}"),
                &key,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(order["pv"], "1.0000", "{order}");
    }
    // Every order counted once: a run waits until the volumes hold every stored event.
    let run = server.run_period(&key, "2026-11").await;
    assert_eq!(run["status"], "preview", "{run}");
    let stats = server.stats(&key, "root", "2026-11").await;
    if stats["gv"] != format!("{}.0000", acknowledged.len() + 10) {
        explain_the_volumes(&server, &acknowledged).await;
    }
    assert_eq!(
        stats["gv"],
        format!("{}.0000", acknowledged.len() + 10),
        "the group volume is not one PV per acknowledged order: {stats}"
    );
    server
        .commit_and_post(&key, run["run_id"].as_str().unwrap())
        .await;
    assert_eq!(server.ledger_sum(&key).await, "0");
    // The sponsor of everyone is paid the whole unilevel total, once.
    assert_eq!(
        server.balance(&key, "root").await,
        run["totals"]["unilevel"].as_str().unwrap()
    );
}

/// On a volume mismatch: what the store holds, per distributor, beside what was acknowledged.
async fn explain_the_volumes(server: &Server, acknowledged: &BTreeSet<String>) {
    use store::{OrderStore, VolumeStore};
    let StoreChoice::Scylla(config) = &server.store else {
        return;
    };
    let store = store::scylla::ScyllaStore::open(config).await.unwrap();
    let orders = store.orders("outage").await.unwrap();
    let volumes = store.period_volumes("outage", "2026-11").await.unwrap();
    let stored: BTreeSet<String> = orders.iter().map(|order| order.order_id.clone()).collect();
    eprintln!(
        "stored orders {} (acknowledged {}); stored, not acknowledged: {:?}; acknowledged, not stored: {:?}",
        orders.len(),
        acknowledged.len(),
        stored.difference(acknowledged).collect::<Vec<_>>(),
        acknowledged.difference(&stored).collect::<Vec<_>>()
    );
    for (distributor_id, volume) in volumes {
        let count = orders
            .iter()
            .filter(|order| order.distributor_id == distributor_id)
            .count();
        eprintln!("{distributor_id}: stored orders {count}, volume {volume:?}");
    }
}
