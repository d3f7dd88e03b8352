//! Residence regions over HTTP on the ScyllaDB backend (the real Cassandra node), in a
//! deployment of two regions served from `home`: a distributor residing `abroad` is enrolled
//! here with their profile kept abroad, and their orders are refused here (421, naming the
//! region) because orders are kept in the keyspace of the residence region; a restarted
//! server still knows where everyone resides.

mod common;

use api::server::StoreChoice;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use store::scylla::testing;

async fn two_region_server() -> Server {
    let mut config = testing::config(&testing::unique_prefix("api_residence"), "home");
    config
        .datacenters
        .insert("abroad".into(), testing::DATACENTER.into());
    testing::migrated(&config).await;
    let store = StoreChoice::Scylla(config);
    Server {
        api: ApiClient::new(start_on(&store).await, ADMIN_TOKEN),
        data: tempfile::tempdir().expect("a temporary directory"),
        store,
    }
}

async fn order_status(
    server: &Server,
    key: &str,
    id: &str,
    distributor: &str,
) -> (StatusCode, serde_json::Value) {
    let response = server
        .client
        .post(format!("{}/v1/orders", server.base))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("key-{id}"))
        .json(&json!({ "order_id": id, "distributor_id": distributor, "date": "2026-11-05", "pv": "50", "cv": "40" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_taken_only_in_the_region_where_the_distributor_resides() {
    let server = two_region_server().await;
    let key = server.tenant("regions", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let profile = json!({ "name": "Jun Abe", "email": "jun@example.test", "country": "JP" });
    for (id, region) in [("jun", "abroad"), ("kim", "home")] {
        server
            .expect(
                Method::POST,
                "/v1/distributors",
                &key,
                Some(json!({ "id": id, "sponsor_id": "root", "profile": profile, "residence_region": region })),
                StatusCode::CREATED,
            )
            .await;
    }
    let unknown = server
        .expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(json!({ "id": "lee", "sponsor_id": "root", "residence_region": "elsewhere" })),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(unknown["field"], "residence_region");
    assert!(
        unknown["detail"].as_str().unwrap().contains("abroad, home"),
        "{unknown}"
    );

    let (status, problem) = order_status(&server, &key, "o-jun", "jun").await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{problem}");
    assert_eq!(problem["field"], "distributor_id");
    assert!(
        problem["detail"].as_str().unwrap().contains("\"abroad\""),
        "{problem}"
    );
    let (status, problem) = order_status(&server, &key, "o-kim", "kim").await;
    assert_eq!(status, StatusCode::CREATED, "{problem}");
    let (status, problem) = order_status(&server, &key, "o-root", "root").await;
    assert_eq!(status, StatusCode::CREATED, "{problem}");
    // Nothing of the refused order was kept.
    server
        .expect(
            Method::GET,
            "/v1/orders/o-jun",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;

    // A server started afresh on the same store rebuilds the residences from the genealogy.
    let restarted = Server {
        api: ApiClient::new(start_on(&server.store).await, ADMIN_TOKEN),
        data: tempfile::tempdir().unwrap(),
        store: server.store.clone(),
    };
    let (status, problem) = order_status(&restarted, &key, "o-jun-2", "jun").await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{problem}");
    let jun = restarted
        .expect(
            Method::GET,
            "/v1/distributors/jun",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(jun["profile"], profile);
    assert_eq!(jun["residence_region"], "abroad");
}
