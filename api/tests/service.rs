//! The service around the API: the OpenAPI document (snapshot), health, metrics, problems.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const SNAPSHOT: &str = "tests/snapshots/openapi.json";

async fn openapi_document(server: &Server) -> Value {
    server
        .client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The document is generated from the routes; a change to the API shows up as a diff here.
/// Run with UPDATE_SNAPSHOTS=1 to accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_its_snapshot() {
    let server = start().await;
    let document = openapi_document(&server).await;
    let text = serde_json::to_string_pretty(&document).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let snapshot =
        std::fs::read_to_string(&path).expect("the snapshot exists (UPDATE_SNAPSHOTS=1 writes it)");
    assert!(
        snapshot == text,
        "/openapi.json changed; review and run with UPDATE_SNAPSHOTS=1"
    );
    for route in [
        "/v1/orders",
        "/v1/distributors/{id}/downline",
        "/v1/runs/{run_id}/post",
        "/v1/wallets/{distributor_id}/withdrawals",
    ] {
        assert!(
            document["paths"][route].is_object(),
            "{route} is not documented"
        );
    }
}

/// Every `$ref` in the document points at a schema it defines: a client generator stops at
/// a dangling one (utoipa leaves one when a path parameter's type is a schema of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_in_the_openapi_document_resolves() {
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => references(field, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, found)),
            _ => {}
        }
    }
    let server = start().await;
    let document = openapi_document(&server).await;
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.len() > 50, "only {} references", found.len());
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} points outside the document"));
        assert!(
            document.pointer(pointer).is_some(),
            "{target} points at nothing"
        );
    }
}

/// The example tenant the document shows is one the API takes, plan and closes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_example_tenant_is_accepted() {
    let server = start().await;
    let document = openapi_document(&server).await;
    let example = document["components"]["schemas"]["NewTenant"]["example"].clone();
    assert!(example["plan"].is_object(), "no example plan: {example:#}");
    let created = server
        .expect(
            Method::POST,
            "/v1/tenants",
            ADMIN_TOKEN,
            Some(example.clone()),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(created["id"], example["id"]);
    let id = example["id"].as_str().unwrap();
    let listed = server.listed_tenants().await;
    let tenant = listed
        .iter()
        .find(|tenant| tenant["id"] == id)
        .expect("the example tenant is listed");
    assert_eq!(
        tenant["currency"], example["plan"]["currency"],
        "{tenant:#}"
    );
    assert_eq!(tenant["closes"], example["closes"], "{tenant:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_problems() {
    let server = start().await;
    for path in ["/healthz", "/readyz"] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let key = server.tenant("metrics", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    server.order(&key, "o1", "root", "1", "1").await;
    server
        .expect(
            Method::GET,
            "/v1/distributors/nobody-123",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    let metrics = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("upline_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/orders\",status=\"201\""), "{metrics}");
    assert!(
        metrics.contains("route=\"/v1/distributors/{id}\",status=\"404\""),
        "{metrics}"
    );
    assert!(!metrics.contains("nobody-123"), "an id became a label");
    assert!(
        metrics.contains("upline_orders_total{outcome=\"created\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("upline_enrollments_total{outcome=\"enrolled\"} 1"),
        "{metrics}"
    );
    // A problem document: the right media type, no internals.
    let response = server
        .call(
            Method::POST,
            "/v1/runs",
            &key,
            Some(serde_json::json!({ "period": "2025-W53" })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "period");
    assert!(
        problem["detail"].as_str().unwrap().contains("52 ISO weeks"),
        "{problem}"
    );
}

/// Every error is an RFC 7807 problem, including the ones the router and the extractors
/// answer: a query or path parameter that does not parse, a route that does not exist, a
/// method the route does not take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_problem_document() {
    let server = start().await;
    let key = server.tenant("problems", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let admin = server.admin_token;
    let cases = [
        (
            Method::GET,
            "/v1/distributors/root/downline?limit=many",
            key.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("query"),
        ),
        (
            Method::GET,
            "/v1/distributors/root/stats",
            key.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("query"),
        ),
        (
            Method::GET,
            "/v1/wallets/root/transfers?limit=-1",
            key.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("query"),
        ),
        (
            Method::GET,
            "/v1/tenants/problems/plans/latest",
            admin,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("path"),
        ),
        (
            Method::GET,
            "/v1/no-such-route",
            key.as_str(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            Method::DELETE,
            "/v1/orders",
            key.as_str(),
            StatusCode::METHOD_NOT_ALLOWED,
            None,
        ),
    ];
    for (method, path, token, status, field) in cases {
        let response = server.call(method.clone(), path, token, None).await;
        let what = format!("{method} {path}");
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap()),
            Some("application/problem+json"),
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status.as_u16(), "{what}: {problem}");
        assert!(
            !problem["detail"].as_str().unwrap_or("").is_empty(),
            "{what}: {problem}"
        );
        assert_eq!(problem["field"].as_str(), field, "{what}: {problem}");
    }
    let wrong_method = server.call(Method::DELETE, "/v1/orders", &key, None).await;
    assert_eq!(
        wrong_method.headers()["allow"],
        "POST",
        "the methods the route takes"
    );
}

/// A JSON body over the limit is refused as too large (413, a problem naming `body`), not as a
/// malformed field; one byte less is read and judged on its fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_too_large() {
    let server = start().await;
    let key = server.tenant("big-bodies", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    let limit = api::json::BODY_LIMIT_BYTES;
    let order_of_length = |length: usize| {
        let frame = |order_id: &str| {
            serde_json::to_vec(&serde_json::json!({
                "order_id": order_id, "distributor_id": "root", "date": "2026-11-05",
                "pv": "1", "cv": "1"
            }))
            .unwrap()
        };
        let padding = length - frame("").len();
        let body = frame(&"o".repeat(padding));
        assert_eq!(body.len(), length);
        body
    };
    let post = |body: Vec<u8>| {
        server
            .client
            .post(format!("{}/v1/orders", server.base))
            .bearer_auth(&key)
            .header("Idempotency-Key", "big-body")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let over = post(order_of_length(limit + 1)).await.unwrap();
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(over.headers()["content-type"], "application/problem+json");
    let problem: Value = over.json().await.unwrap();
    assert_eq!(
        problem["type"], "urn:upline:problem:body_too_large",
        "{problem}"
    );
    assert_eq!(problem["field"], "body", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "the detail names the limit: {problem}"
    );

    let at_limit = post(order_of_length(limit)).await.unwrap();
    assert_eq!(at_limit.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = at_limit.json().await.unwrap();
    assert_eq!(
        problem["field"], "order_id",
        "judged on its fields: {problem}"
    );
}
