//! Orders over HTTP: idempotency keys, bad input, refunds.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn post_order(
    server: &Server,
    key: &str,
    idempotency_key: &str,
    body: &Value,
) -> (StatusCode, Option<String>, Value) {
    let response = server
        .client
        .post(format!("{}/v1/orders", server.base))
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency_key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, replayed, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_gives_one_order_and_one_answer() {
    let server = start().await;
    let key = server.tenant("idem", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let body = json!({ "order_id": "o1", "distributor_id": "root", "date": "2026-11-05", "pv": "25.5", "cv": "20" });
    let (status, replayed, first) = post_order(&server, &key, "k1", &body).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, None));
    assert_eq!(first["pv"], "25.5000");
    // The same request again, with other spacing: the first answer, marked as a replay.
    let (status, replayed, again) = post_order(&server, &key, "k1", &body).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(again, first);
    // The same key with another body.
    let other = json!({ "order_id": "o1", "distributor_id": "root", "date": "2026-11-05", "pv": "26", "cv": "20" });
    let (status, _, problem) = post_order(&server, &key, "k1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["type"], "urn:upline:problem:idempotency_key_reused");
    // Another key for the same order id.
    let (status, _, _) = post_order(&server, &key, "k2", &body).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_key_create_one_order() {
    let server = std::sync::Arc::new(start().await);
    let key = server.tenant("race", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let body = json!({ "order_id": "o1", "distributor_id": "root", "date": "2026-11-05", "pv": "10", "cv": "10" });
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (server, key, body) = (server.clone(), key.clone(), body.clone());
            tokio::spawn(async move { post_order(&server, &key, "same", &body).await })
        })
        .collect();
    let mut created = 0;
    let mut answers = Vec::new();
    for task in tasks {
        let (status, replayed, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED);
        created += usize::from(replayed.is_none());
        answers.push(answer);
    }
    assert_eq!(created, 1, "exactly one request created the order");
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    // The period volume counts it once.
    let stats = server.stats(&key, "root", "2026-11").await;
    let run = server.run_period(&key, "2026-11").await;
    assert_eq!(run["status"], "preview");
    let stats_after = server.stats(&key, "root", "2026-11").await;
    assert_eq!(stats_after["pv"], "10.0000", "before the sync: {stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_orders_are_refused_naming_the_field() {
    let server = start().await;
    let key = server.tenant("bad", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let good = json!({ "order_id": "o1", "distributor_id": "root", "date": "2026-11-05", "pv": "1", "cv": "1" });
    let cases: Vec<(&str, Value, &str)> = vec![
        ("pv", json!("-1"), "pv"),
        ("pv", json!("1.23456"), "pv"),
        ("cv", json!("abc"), "cv"),
        ("date", json!("2026-02-30"), "date"),
        ("distributor_id", json!("nobody"), "distributor_id"),
        ("order_id", json!("has space"), "order_id"),
        ("pv", json!(5), "pv"),
    ];
    for (field, value, named) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let (status, _, problem) =
            post_order(&server, &key, &format!("k-{field}-{value}"), &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}: {problem}"
        );
        assert_eq!(problem["field"], named, "{field} = {value}: {problem}");
    }
    let missing = server
        .client
        .post(format!("{}/v1/orders", server.base))
        .bearer_auth(&key)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["field"], "Idempotency-Key");
    // Nothing was stored by any of them.
    server
        .expect(
            Method::GET,
            "/v1/orders/o1",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
}

/// Orders count in the statistics as soon as the projector has folded them — long before its
/// next checkpoint stores them — and a refund takes them back the same way; a close then
/// stores exactly what the reads showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_see_orders_before_they_are_stored() {
    let server = start().await;
    let key = server.tenant("folded", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    server.enroll(&key, "a", Some("root")).await;
    server.order(&key, "o1", "a", "30", "30").await;
    server.order(&key, "o2", "root", "5", "5").await;
    assert_eq!(
        root_gv_once_folded(&server, &key, "35.0000").await,
        "35.0000",
        "the folded orders are not counted"
    );
    let refund = server
        .client
        .post(format!("{}/v1/orders/o1/refund", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    assert_eq!(
        root_gv_once_folded(&server, &key, "5.0000").await,
        "5.0000",
        "the folded refund is not counted"
    );
    server.run_period(&key, "2026-11").await; // stores the fold
    let stored = server.stats(&key, "root", "2026-11").await;
    assert_eq!(stored["gv"], "5.0000", "counted again once stored");
}

/// The root's period GV once it reads `expected`, or after a hundred tries 20 ms apart (the
/// projector folds every 20 ms).
async fn root_gv_once_folded(server: &Server, key: &str, expected: &str) -> String {
    let mut gv = String::new();
    for _ in 0..100 {
        let stats = server.stats(key, "root", "2026-11").await;
        gv = stats["gv"].as_str().unwrap().to_owned();
        if gv == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    gv
}
