//! A run larger than the pages its readers take (4,096 statements): posting, a restatement's
//! differences and the next period's carry state all read the run a page at a time, so every
//! page boundary must pass every line once — each wallet then holds exactly what the run in
//! force pays its owner, by the run's own `summary.csv`.

mod common;

use common::*;
use futures_util::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;

/// More than two pages of statements.
const DISTRIBUTORS: usize = 9_000;
/// Every this many distributors orders once.
const ORDER_EVERY: usize = 9;

/// The id of the distributor enrolled `n`-th: a permutation of the enrollment order, so that
/// a sponsor's id (enrolled earlier) may sort anywhere, and the recipients of lines fall on
/// every page rather than on the first.
fn id(n: usize) -> String {
    format!("d{:05}", (n * 7_919) % DISTRIBUTORS)
}

/// A tree four wide: distributor `n` is sponsored by `(n - 1) / 4`.
fn distributors_csv() -> String {
    let mut csv = String::from("id,sponsor_id,placement_id,leg,joined_on,status\n");
    for n in 0..DISTRIBUTORS {
        let sponsor = if n == 0 {
            String::new()
        } else {
            id((n - 1) / 4)
        };
        csv.push_str(&format!("{},{sponsor},,,2026-10-01,active\n", id(n)));
    }
    csv
}

/// Everyone active, two levels of unilevel, and a rank whose highest reach the carry state
/// keeps.
fn plan() -> Value {
    serde_json::from_str(
        r#"{ "name": "paged", "currency": "USD", "activity": { "min_pv": 0 },
             "ranks": [{ "name": "Member" }, { "name": "Bronze", "min_pv": 50 }],
             "bonuses": { "unilevel": { "levels": [0.10, 0.05] } } }"#,
    )
    .unwrap()
}

/// One of a run's files (`GET /v1/runs/{run_id}/files/{file}`).
async fn run_file(server: &Server, key: &str, run_id: &str, file: &str) -> String {
    let path = format!("/v1/runs/{run_id}/files/{file}");
    let response = server.call(Method::GET, &path, key, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// Each distributor's `total` in one of a run's `summary.csv`, in minor units, the zeros left out.
async fn totals_of_run(server: &Server, key: &str, run_id: &str) -> BTreeMap<String, i64> {
    let summary = run_file(server, key, run_id, "summary.csv").await;
    let mut rows = summary.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let total_at = header.iter().position(|name| *name == "total").unwrap();
    let totals: BTreeMap<String, i64> = rows
        .map(|row| {
            let cells: Vec<&str> = row.split(',').collect();
            (cells[0].to_owned(), minor(cells[total_at]))
        })
        .filter(|(_, total)| *total != 0)
        .collect();
    assert_eq!(summary.lines().count(), DISTRIBUTORS + 1);
    totals
}

fn minor(amount: &str) -> i64 {
    amount.replace('.', "").parse().unwrap()
}

/// Every wallet of `ids`, in minor units.
async fn balances(server: &Server, key: &str, ids: &[&String]) -> BTreeMap<String, i64> {
    futures_util::stream::iter(ids)
        .map(|id| async move { ((*id).clone(), minor(&server.balance(key, id).await)) })
        .buffer_unordered(16)
        .collect()
        .await
}

/// The run now in force for 2026-11 once no restatement is under way.
async fn settled_run(server: &Server, key: &str) -> Value {
    for _ in 0..3_000 {
        let runs = server
            .expect(Method::GET, "/v1/runs", key, None, StatusCode::OK)
            .await;
        let runs = runs.as_array().unwrap();
        let busy = runs.iter().any(|run| {
            ["running", "preview", "committed"].contains(&run["status"].as_str().unwrap())
        });
        let restated = runs.iter().any(|run| run["status"] == "superseded");
        if restated && !busy {
            return runs
                .iter()
                .find(|run| run["status"] == "posted")
                .cloned()
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the period was not restated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_larger_than_a_page_are_posted_restated_and_carried_exactly() {
    let server = start().await;
    let key = server.tenant("paged", plan()).await;
    let report: Value = server
        .post_import(&key, "text/csv", distributors_csv())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["enrolled"], DISTRIBUTORS, "{report}");
    let buyers: Vec<usize> = (1..DISTRIBUTORS).step_by(ORDER_EVERY).collect();
    let mut orders = futures_util::stream::iter(&buyers)
        .map(|&n| {
            let server = &server;
            let key = &key;
            async move {
                let pv = format!("{}", 10 + n % 90);
                server.order(key, &format!("o{n}"), &id(n), &pv, &pv).await;
            }
        })
        .buffer_unordered(16);
    while orders.next().await.is_some() {}

    // Posted: every wallet holds what the run pays, and a second post moves nothing.
    let first = server.pay_period(&key, "2026-11").await;
    assert_eq!(first["status"], "posted", "{first}");
    let first_id = first["run_id"].as_str().unwrap();
    let paid = totals_of_run(&server, &key, first_id).await;
    assert!(paid.len() > 1_000, "{} paid", paid.len());
    let recipients: Vec<&String> = paid.keys().collect();
    assert_eq!(balances(&server, &key, &recipients).await, paid);
    server
        .expect(
            Method::POST,
            &format!("/v1/runs/{first_id}/post"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(balances(&server, &key, &recipients).await, paid);

    // Refunds of orders whose uplines lie on different pages restate the period: the wallets
    // then hold what the new run pays (the first run's lines plus the differences).
    for &n in &buyers[..5] {
        server
            .expect(
                Method::POST,
                &format!("/v1/orders/o{n}/refund"),
                &key,
                None,
                StatusCode::OK,
            )
            .await;
    }
    let second = settled_run(&server, &key).await;
    let second_id = second["run_id"].as_str().unwrap();
    assert_ne!(second_id, first_id);
    let repaid = totals_of_run(&server, &key, second_id).await;
    assert_ne!(repaid, paid);
    let everyone: Vec<&String> = paid.keys().chain(repaid.keys()).collect();
    let expected: BTreeMap<String, i64> = everyone
        .iter()
        .map(|id| ((*id).clone(), repaid.get(*id).copied().unwrap_or(0)))
        .collect();
    assert_eq!(balances(&server, &key, &everyone).await, expected);
    assert_eq!(server.ledger_sum(&key).await, "0");

    // The next period starts from the restated run's carry state, read page by page: with no
    // orders in it nobody is Bronze, yet its state.csv keeps every Bronze reached before, so
    // it is the restated run's, row for row.
    let next = server.run_period(&key, "2026-12").await;
    assert_eq!(next["status"], "preview", "{next}");
    let carried = run_file(&server, &key, second_id, "state.csv").await;
    assert_eq!(carried.lines().count(), DISTRIBUTORS + 1);
    assert!(carried.matches(",Bronze\n").count() > 100, "{carried:.300}");
    let next_id = next["run_id"].as_str().unwrap();
    assert_eq!(run_file(&server, &key, next_id, "state.csv").await, carried);
}
