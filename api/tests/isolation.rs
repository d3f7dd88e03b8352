//! Tenant isolation, route by route: a key of tenant A never reads or changes anything of
//! tenant B — every attempt is a 404, exactly as for something that does not exist — and B's
//! data is unchanged afterwards.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_one_tenant_never_reaches_another() {
    let server = start().await;
    let key_a = server.tenant("tenant-a", unilevel_plan()).await;
    let key_b = server.tenant("tenant-b", unilevel_plan()).await;
    server.enroll(&key_a, "a-root", None).await;
    server.enroll(&key_b, "b-root", None).await;
    server.enroll(&key_b, "b-1", Some("b-root")).await;
    server.order(&key_b, "b-order", "b-1", "100", "100").await;
    let run = server.run_period(&key_b, "2026-11").await;
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    server
        .expect(
            Method::POST,
            &format!("/v1/runs/{run_id}/commit"),
            &key_b,
            None,
            StatusCode::OK,
        )
        .await;

    let b_distributor_before = server
        .expect(
            Method::GET,
            "/v1/distributors/b-1",
            &key_b,
            None,
            StatusCode::OK,
        )
        .await;
    let b_order_before = server
        .expect(
            Method::GET,
            "/v1/orders/b-order",
            &key_b,
            None,
            StatusCode::OK,
        )
        .await;

    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/distributors/b-1".into(), None),
        (
            Method::PATCH,
            "/v1/distributors/b-1".into(),
            Some(json!({ "name": "Mallory" })),
        ),
        (Method::POST, "/v1/distributors/b-1/terminate".into(), None),
        (Method::GET, "/v1/distributors/b-1/upline".into(), None),
        (Method::GET, "/v1/distributors/b-root/downline".into(), None),
        (
            Method::GET,
            "/v1/distributors/b-1/stats?period=2026-11".into(),
            None,
        ),
        (
            Method::GET,
            "/v1/distributors/b-1/rank-progress?period=2026-11".into(),
            None,
        ),
        (Method::GET, "/v1/orders/b-order".into(), None),
        (Method::POST, "/v1/orders/b-order/refund".into(), None),
        (Method::GET, format!("/v1/runs/{run_id}"), None),
        (Method::POST, format!("/v1/runs/{run_id}/commit"), None),
        (Method::POST, format!("/v1/runs/{run_id}/post"), None),
        (
            Method::GET,
            format!("/v1/runs/{run_id}/statements/b-root"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/runs/{run_id}/files/lines.csv"),
            None,
        ),
        (Method::GET, "/v1/wallets/b-root".into(), None),
        (Method::GET, "/v1/wallets/b-root/transfers".into(), None),
        (
            Method::POST,
            "/v1/wallets/b-root/withdrawals".into(),
            Some(json!({ "withdrawal_id": "w1", "amount": "1.00" })),
        ),
    ];
    for (method, path, body) in &routes {
        let problem = server
            .expect(
                method.clone(),
                path,
                &key_a,
                body.clone(),
                StatusCode::NOT_FOUND,
            )
            .await;
        assert_eq!(problem["status"], 404, "{method} {path}: {problem}");
        assert_eq!(
            problem["type"], "urn:upline:problem:not_found",
            "{method} {path}"
        );
    }
    // Enrolling under B's distributor and ordering for one are refused as unknown ids.
    let enroll = json!({ "id": "a-1", "sponsor_id": "b-root" });
    server
        .expect(
            Method::POST,
            "/v1/distributors",
            &key_a,
            Some(enroll),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let order = server
        .client
        .post(format!("{}/v1/orders", server.base))
        .bearer_auth(&key_a)
        .header("Idempotency-Key", "x")
        .json(&json!({ "order_id": "o", "distributor_id": "b-1", "date": "2026-11-05", "pv": "1", "cv": "1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A's run list holds none of B's runs.
    let runs_a = server
        .expect(Method::GET, "/v1/runs", &key_a, None, StatusCode::OK)
        .await;
    assert_eq!(runs_a, json!([]));

    // B is untouched.
    assert_eq!(
        server
            .expect(
                Method::GET,
                "/v1/distributors/b-1",
                &key_b,
                None,
                StatusCode::OK
            )
            .await,
        b_distributor_before
    );
    assert_eq!(
        server
            .expect(
                Method::GET,
                "/v1/orders/b-order",
                &key_b,
                None,
                StatusCode::OK
            )
            .await,
        b_order_before
    );
    let run_b = server
        .expect(
            Method::GET,
            &format!("/v1/runs/{run_id}"),
            &key_b,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        run_b["status"], "committed",
        "A's attempts must not have posted B's run"
    );
    assert_eq!(server.balance(&key_b, "b-root").await, "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_before_anything_else() {
    let server = start().await;
    let key = server.tenant("creds", unilevel_plan()).await;
    // No key, a wrong key, the admin token on tenant routes, a tenant key on admin routes.
    for token in ["", "upk_nope_nope", ADMIN_TOKEN] {
        server
            .expect(
                Method::GET,
                "/v1/runs",
                token,
                None,
                StatusCode::UNAUTHORIZED,
            )
            .await;
    }
    let tenant = json!({ "id": "evil", "name": "Evil", "plan": unilevel_plan() });
    server
        .expect(
            Method::POST,
            "/v1/tenants",
            &key,
            Some(tenant),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    server
        .expect(
            Method::POST,
            "/v1/tenants/creds/api-keys",
            &key,
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    // A revoked key stops working at once.
    let second = server
        .expect(
            Method::POST,
            "/v1/tenants/creds/api-keys",
            ADMIN_TOKEN,
            None,
            StatusCode::CREATED,
        )
        .await;
    let (second_id, second_key) = (
        second["key_id"].as_str().unwrap(),
        second["key"].as_str().unwrap(),
    );
    server
        .expect(Method::GET, "/v1/runs", second_key, None, StatusCode::OK)
        .await;
    server
        .expect(
            Method::DELETE,
            &format!("/v1/tenants/creds/api-keys/{second_id}"),
            ADMIN_TOKEN,
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
    server
        .expect(
            Method::GET,
            "/v1/runs",
            second_key,
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;
    // Another tenant's key id cannot be revoked through this tenant.
    server
        .expect(
            Method::DELETE,
            "/v1/tenants/other/api-keys/whatever",
            ADMIN_TOKEN,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
}
