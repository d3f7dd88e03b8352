//! Two `upline serve --nats` replicas of one region on one store (the test Cassandra): a
//! tenant created through one is served by the other, and the other's genealogy index follows
//! the enrollments made through the first, from the region's `distributor.enrolled` events —
//! upline, downline and the distributor's record, without a restart; and a new plan version
//! made through one pays the other's runs.

mod common;

use common::cassandra::{migrated_prefix, store_arguments};
use common::nats::{nats_url, unique};
use common::serve::{start_with, ServeProcess, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const DISTRIBUTORS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_the_enrollments_another_makes() {
    let prefix = migrated_prefix("replicas", "us-east");
    let streams = unique("R");
    let mut arguments = store_arguments(&prefix, "us-east");
    arguments.extend([
        "--nats".to_owned(),
        nats_url(),
        "--stream-prefix".to_owned(),
        streams,
    ]);
    let work = tempfile::tempdir().unwrap();
    let first = start_with(&work.path().join("first"), &arguments);
    let second = start_with(&work.path().join("second"), &arguments);

    let key = first
        .tenant(
            "acme",
            json!({ "name": "p", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": {} }),
        )
        .await;
    // The second replica knows the tenant (from the store) before any enrollment.
    second
        .expect(
            Method::GET,
            "/v1/distributors/d0",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    first.enroll_tree(&key, DISTRIBUTORS, 2, "2026-11-02").await;

    let last = format!("d{}", DISTRIBUTORS - 1);
    let expected_upline = upline(&first, &key, &last).await.expect("the first has it");
    assert_eq!(expected_upline.last().map(String::as_str), Some("d0"));
    let mut followed = None;
    for _ in 0..600 {
        if let Some(found) = upline(&second, &key, &last).await {
            followed = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        followed.as_ref(),
        Some(&expected_upline),
        "the second replica's upline of {last}"
    );
    let ids = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let on_second = ids(downline(&second, &key).await);
    assert_eq!(on_second.len(), DISTRIBUTORS - 1);
    assert_eq!(on_second, ids(downline(&first, &key).await));
    let record = second
        .expect(
            Method::GET,
            &format!("/v1/distributors/{last}"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        record["sponsor_id"],
        format!("d{}", (DISTRIBUTORS - 2) / 2).as_str()
    );

    // A new plan version made through the first reaches the second's reads within the follow
    // interval.
    let paying: Value = serde_json::from_str(
        r#"{ "name": "p", "currency": "USD", "ranks": [{ "name": "Member" }],
             "bonuses": { "unilevel": { "levels": [0.10] } } }"#,
    )
    .unwrap();
    let changed = first
        .expect(
            Method::PUT,
            "/v1/tenants/acme/plan",
            ADMIN_TOKEN,
            Some(json!({ "replaces_version": 1, "plan": paying })),
            StatusCode::OK,
        )
        .await;
    assert_eq!(changed["plan_version"], 2);
    let mut listed = Value::Null;
    for _ in 0..300 {
        let tenants = second
            .expect(
                Method::GET,
                "/v1/tenants",
                ADMIN_TOKEN,
                None,
                StatusCode::OK,
            )
            .await;
        listed = tenants[0]["plan_version"].clone();
        if listed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed, 2, "the second replica's plan version of acme");
    // Version 3 through the first; the second's next run, started at once, is paid by it.
    let mut paying_more = paying.clone();
    paying_more["bonuses"]["unilevel"]["levels"] = serde_json::from_str("[0.10, 0.05]").unwrap();
    first
        .expect(
            Method::PUT,
            "/v1/tenants/acme/plan",
            ADMIN_TOKEN,
            Some(json!({ "replaces_version": 2, "plan": paying_more })),
            StatusCode::OK,
        )
        .await;
    let run = second.run_period(&key, "2026-11").await;
    assert_eq!(run["plan_version"], 3, "{run}");
    first.stop();
    second.stop();
}

/// The distributor's upline (nearest first), or None while the server does not know them.
async fn upline(server: &ServeProcess, key: &str, id: &str) -> Option<Vec<String>> {
    let response = server
        .client
        .get(format!("{}/v1/distributors/{id}/upline", server.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    Some(
        view["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect(),
    )
}

async fn downline(server: &ServeProcess, key: &str) -> Value {
    server
        .expect(
            Method::GET,
            "/v1/distributors/d0/downline?limit=1000",
            key,
            None,
            StatusCode::OK,
        )
        .await
}
