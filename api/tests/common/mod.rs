//! A real `upline serve` (the library's server) on a loopback port, and a small client for it.
//!
//! The backend is the embedded store in a temporary directory, or — with
//! `UPLINE_TEST_STORE=scylla` (scripts/test-all.sh runs the suite both ways) — the ScyllaDB
//! backend on the test run's real Cassandra node, in keyspaces of its own per server.
#![allow(dead_code)]

mod api_client;

use api::server::StoreChoice;
pub use api_client::ApiClient;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use store::scylla::testing;

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Server {
    /// Calls to it (`server.expect(…)`, `server.base`, through `Deref`).
    pub api: ApiClient,
    pub data: tempfile::TempDir,
    pub store: StoreChoice,
}

impl std::ops::Deref for Server {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// Starts a server on a fresh store of the backend under test.
pub async fn start() -> Server {
    let data = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(data.path()).await;
    let base = start_on(&store).await;
    Server {
        api: ApiClient::new(base, ADMIN_TOKEN),
        data,
        store,
    }
}

/// A store nobody else uses: the directory, or new keyspaces, migrated.
async fn fresh_store(data: &std::path::Path) -> StoreChoice {
    match std::env::var("UPLINE_TEST_STORE").as_deref() {
        Err(_) | Ok("") | Ok("embedded") => StoreChoice::Embedded(data.to_path_buf()),
        Ok("scylla") => {
            let config = testing::config(&testing::unique_prefix("api"), "test");
            testing::migrated(&config).await;
            StoreChoice::Scylla(config)
        }
        Ok(other) => panic!("UPLINE_TEST_STORE={other:?}: expected embedded or scylla"),
    }
}

/// Starts a server on `store`; returns its base URL.
pub async fn start_on(store: &StoreChoice) -> String {
    let hash = api::auth::sha256_hex(ADMIN_TOKEN.as_bytes());
    let state = api::server::recover(store, hash)
        .await
        .expect("the server recovers");
    let (bound, address) = tokio::sync::oneshot::channel::<SocketAddr>();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    tokio::spawn(async move {
        api::server::serve(state, listen, move |address| {
            let _ = bound.send(address);
        })
        .await
        .expect("the server runs");
    });
    format!("http://{}", address.await.expect("the server binds"))
}

impl Server {
    pub async fn enroll(&self, key: &str, id: &str, sponsor: Option<&str>) -> Value {
        let mut body = json!({ "id": id, "joined_on": "2026-10-01" });
        if let Some(sponsor) = sponsor {
            body["sponsor_id"] = json!(sponsor);
        }
        self.expect(
            Method::POST,
            "/v1/distributors",
            key,
            Some(body),
            StatusCode::CREATED,
        )
        .await
    }

    pub async fn order(
        &self,
        key: &str,
        order_id: &str,
        distributor: &str,
        pv: &str,
        cv: &str,
    ) -> Value {
        let body = json!({ "order_id": order_id, "distributor_id": distributor, "date": "2026-11-05", "pv": pv, "cv": cv });
        let response = self
            .client
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("key-{order_id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// A distributor's subtree statistics for `period`.
    pub async fn stats(&self, key: &str, id: &str, period: &str) -> Value {
        let path = format!("/v1/distributors/{id}/stats?period={period}");
        self.expect(Method::GET, &path, key, None, StatusCode::OK)
            .await
    }

    /// The tenants the platform lists, by id.
    pub async fn listed_tenants(&self) -> Vec<Value> {
        let tenants = self
            .expect(
                Method::GET,
                "/v1/tenants",
                ADMIN_TOKEN,
                None,
                StatusCode::OK,
            )
            .await;
        tenants.as_array().unwrap().clone()
    }

    pub async fn balance(&self, key: &str, distributor: &str) -> String {
        let wallet = self
            .expect(
                Method::GET,
                &format!("/v1/wallets/{distributor}"),
                key,
                None,
                StatusCode::OK,
            )
            .await;
        wallet["balance"].as_str().unwrap().to_owned()
    }

    pub async fn ledger_sum(&self, key: &str) -> String {
        let ledger = self
            .expect(Method::GET, "/v1/ledger/balance", key, None, StatusCode::OK)
            .await;
        ledger["sum"].as_str().unwrap().to_owned()
    }
}

/// A unilevel plan: everyone active at 10 PV, two levels at 10% and 5%.
pub fn unilevel_plan() -> Value {
    // From text: plan numbers are exact decimals, never binary floats.
    serde_json::from_str(
        r#"{ "name": "test", "currency": "USD", "activity": { "min_pv": 10 },
             "ranks": [{ "name": "Member" }], "bonuses": { "unilevel": { "levels": [0.10, 0.05] } } }"#,
    )
    .unwrap()
}
