//! Runs nobody asks for, on the embedded store. `upline serve` closes the periods of a tenant
//! with a close schedule on its own: last month is closed, committed and posted once, each
//! wallet receives its statement's total, the month under way is left open, and a refund in the
//! closed month afterwards restates it (the wallets follow the new statements). And a
//! restatement whose process died half way is carried on by the next start, paying nothing
//! twice.

mod common;

use common::serve::{start_with, start_with_env, ServeProcess};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const DISTRIBUTORS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_closes_last_month_on_schedule_and_restates_after_a_refund() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let (last_month, this_month) = months();
    // Loaded while no scan comes (the next is an hour away) ...
    let server = start_with(&data, &["--close-scan".into(), "3600".into()]);
    let key = server
        .tenant_with(json!({
            "id": "acme", "name": "Acme",
            "plan": {
                "name": "scheduled", "currency": "USD", "ranks": [{ "name": "Member" }],
                "bonuses": { "unilevel": { "levels": [0.10, 0.05] } }
            },
            "closes": { "every": "month", "after_hours": 0 }
        }))
        .await;
    server
        .enroll_tree(&key, DISTRIBUTORS, 2, &format!("{last_month}-01"))
        .await;
    for n in 0..DISTRIBUTORS {
        for (month, order) in [(&last_month, "last"), (&this_month, "this")] {
            let status = server
                .post_order(
                    &key,
                    &format!("{order}-{n}"),
                    &format!("d{n}"),
                    &format!("{month}-01"),
                    "100",
                    &format!("{}", 40 + n * 5),
                )
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    server.stop();

    // ... then a start scans at once: last month is due, this month is not.
    let server = start_with(&data, &["--close-scan".into(), "1".into()]);
    let closed = wait_for_run(&server, &key, &format!("{last_month}.scheduled"), "posted").await;
    assert_eq!(closed["period"], last_month.as_str());
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, &format!("{last_month}.scheduled"))
        .await;
    let runs = server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;
    let periods: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, [last_month.as_str()], "only last month is closed");

    // A refund in the closed month restates it; the scheduler leaves the restatement alone.
    server
        .expect(
            Method::POST,
            "/v1/orders/last-3/refund",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    let scheduled = format!("{last_month}.scheduled");
    let restated = server.wait_for_restatement(&key, &scheduled).await;
    assert_eq!(restated["period"], last_month.as_str());
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, restated["run_id"].as_str().unwrap())
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await; // a few more scans
    let runs = server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restatement_whose_process_died_is_carried_on_at_the_next_start() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let period = "2026-10";
    let server = start_with(&data, &[]);
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
        .enroll_tree(&key, DISTRIBUTORS, 2, "2026-10-01")
        .await;
    server
        .order_for_each(&key, DISTRIBUTORS, "2026-10-05")
        .await;
    let run_id = server.pay_period(&key, period).await["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.assert_wallets_pay(&key, DISTRIBUTORS, &run_id).await;
    server.stop();

    // The refund's restatement ends the process once committed, before any adjustment.
    let mut dying = start_with_env(&data, &[], &[("UPLINE_FAILPOINT", "restatement-committed")]);
    dying
        .expect(
            Method::POST,
            "/v1/orders/o5/refund",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(dying.ended_within(Duration::from_secs(60)), Some(137));

    // The next start carries it on: the adjustments once, the old run superseded.
    let server = start_with(&data, &[]);
    let restated = server.wait_for_restatement(&key, &run_id).await;
    server
        .assert_wallets_pay(&key, DISTRIBUTORS, restated["run_id"].as_str().unwrap())
        .await;
    let runs = server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;
    let statuses: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["run_id"].as_str().unwrap(),
                run["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (run_id.as_str(), "superseded"),
            (restated["run_id"].as_str().unwrap(), "posted")
        ],
        "one restatement, carried on"
    );
    server.stop();
}

async fn wait_for_run(server: &ServeProcess, key: &str, run_id: &str, status: &str) -> Value {
    for _ in 0..600 {
        let response = server
            .client
            .get(format!("{}/v1/runs/{run_id}", server.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            let run: Value = response.json().await.unwrap();
            if run["status"] == status {
                return run;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run_id} did not become {status}");
}

/// Last month and this month, `YYYY-MM`.
fn months() -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (year, month, _) = engine::calendar::civil_from_days((now / 86_400) as i32);
    let last = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    (
        format!("{:04}-{:02}", last.0, last.1),
        format!("{year:04}-{month:02}"),
    )
}
