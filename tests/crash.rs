//! kill -9 during ingestion: every acknowledged order is there after the restart, exactly
//! once (the period volume equals the sum over the orders that exist), and the ledger still
//! sums to zero with no wallet overdrawn by a withdrawal.

mod common;

use common::serve::start;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const DISTRIBUTORS: usize = 40;
const WRITERS: usize = 8;
const ACKNOWLEDGED_BEFORE_KILL: usize = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_kill_loses_no_acknowledged_order_and_applies_none_twice() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let server = Arc::new(start(&data));
    let plan = serde_json::from_str(
        r#"{ "name": "crash", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": { "unilevel": { "levels": [0.10, 0.05] } } }"#,
    )
    .unwrap();
    let key = server.tenant("crash", plan).await;
    let enroll = |id: String, sponsor: Option<String>| {
        let body = json!({ "id": id, "sponsor_id": sponsor, "joined_on": "2026-01-01" });
        server.expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(body),
            StatusCode::CREATED,
        )
    };
    enroll("d0".into(), None).await;
    for n in 1..DISTRIBUTORS {
        enroll(format!("d{n}"), Some(format!("d{}", n / 3))).await;
    }
    // Fund the wallets: a posted October.
    for n in 0..DISTRIBUTORS {
        let status = server
            .post_order(
                &key,
                &format!("oct-{n}"),
                &format!("d{n}"),
                "2026-10-10",
                "100",
                "100",
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
    }
    let run = server.run_period(&key, "2026-10").await;
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    server
        .expect(
            Method::POST,
            &format!("/v1/runs/{run_id}/commit"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    server
        .expect(
            Method::POST,
            &format!("/v1/runs/{run_id}/post"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;

    // Writers hammer orders and withdrawals until the kill.
    let acknowledged: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let acked_count = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (server, key) = (server.clone(), key.clone());
        let (acknowledged, attempted, acked_count) =
            (acknowledged.clone(), attempted.clone(), acked_count.clone());
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let order_id = format!("nov-{writer}-{n}");
                let pv = 1 + (n % 7) as u64;
                attempted.lock().unwrap().push((order_id.clone(), pv));
                let distributor = format!("d{}", (writer * 7 + n) % DISTRIBUTORS);
                match server
                    .post_order(
                        &key,
                        &order_id,
                        &distributor,
                        "2026-11-05",
                        &pv.to_string(),
                        "1",
                    )
                    .await
                {
                    Ok(StatusCode::CREATED) => {
                        acknowledged.lock().unwrap().push((order_id, pv));
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(other) => panic!("an order answered {other}"),
                    Err(_) => return, // the server is gone
                }
                if n % 10 == 0 {
                    let body =
                        json!({ "withdrawal_id": format!("w-{writer}-{n}"), "amount": "0.70" });
                    let url = format!("{}/v1/wallets/{distributor}/withdrawals", server.base);
                    if server
                        .client
                        .post(url)
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }));
    }
    while acked_count.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // SIGKILL while the writers are mid-flight.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
    for writer in writers {
        writer.await.unwrap();
    }
    Arc::into_inner(server)
        .expect("the writers are done")
        .kill_hard();

    let server = start(&data);
    let acknowledged = acknowledged.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    let mut existing_pv = 0;
    for (order_id, pv) in &attempted {
        let response = server
            .client
            .get(format!("{}/v1/orders/{order_id}", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => existing_pv += pv,
            StatusCode::NOT_FOUND => assert!(
                !acknowledged.iter().any(|(acked, _)| acked == order_id),
                "acknowledged order {order_id} was lost"
            ),
            other => panic!("GET {order_id}: {other}"),
        }
    }
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);
    // A run waits for every stored order event to reach the volumes; the group volume of the
    // root is then the PV of every order that exists, each counted once.
    let run = server
        .expect(
            Method::POST,
            "/v1/runs",
            &key,
            Some(json!({ "period": "2026-11" })),
            StatusCode::ACCEPTED,
        )
        .await;
    server.wait_run(&key, run["run_id"].as_str().unwrap()).await;
    let stats = server
        .expect(
            Method::GET,
            "/v1/distributors/d0/stats?period=2026-11",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        stats["gv"],
        format!("{existing_pv}.0000"),
        "volumes after the restart"
    );
    let ledger = server
        .expect(
            Method::GET,
            "/v1/ledger/balance",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(ledger["sum"], "0");
    for n in 0..DISTRIBUTORS {
        let wallet = server
            .expect(
                Method::GET,
                &format!("/v1/wallets/d{n}"),
                &key,
                None,
                StatusCode::OK,
            )
            .await;
        assert!(
            !wallet["balance"].as_str().unwrap().starts_with('-'),
            "d{n} overdrawn: {wallet}"
        );
    }
    server.stop();
}
