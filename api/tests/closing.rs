//! Closing a tenant for good: it is served no more, its keys stop working, its id is not
//! given again, and its distributors' personal data is erased — read back by a second close,
//! which finds nothing left to erase. Other tenants are untouched.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn close(server: &Server, tenant: &str, status: StatusCode) -> serde_json::Value {
    server
        .expect(
            Method::DELETE,
            &format!("/v1/tenants/{tenant}"),
            ADMIN_TOKEN,
            None,
            status,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_tenant_is_served_no_more_and_its_personal_data_is_erased() {
    let server = start().await;
    let leaving = server.tenant("leaving", unilevel_plan()).await;
    let staying = server.tenant("staying", unilevel_plan()).await;
    for (id, sponsor, profile) in [
        (
            "root",
            None,
            Some(json!({ "name": "Ada Root", "email": "ada@example.com" })),
        ),
        ("a", Some("root"), Some(json!({ "country": "DE" }))),
        ("b", Some("root"), None),
    ] {
        let mut body = json!({ "id": id, "joined_on": "2026-10-01" });
        if let Some(sponsor) = sponsor {
            body["sponsor_id"] = json!(sponsor);
        }
        if let Some(profile) = profile {
            body["profile"] = profile;
        }
        server
            .expect(
                Method::POST,
                "/v1/distributors",
                &leaving,
                Some(body),
                StatusCode::CREATED,
            )
            .await;
    }
    server.enroll(&staying, "root", None).await;

    let closed = close(&server, "leaving", StatusCode::OK).await;
    assert_eq!(closed, json!({ "id": "leaving", "profiles_erased": 2 }));

    server
        .expect(
            Method::GET,
            "/v1/runs",
            &leaving,
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    let listed = server.listed_tenants().await;
    let ids: Vec<&str> = listed
        .iter()
        .map(|tenant| tenant["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["staying"]);
    for (method, path, body) in [
        (Method::POST, "/v1/tenants/leaving/api-keys", None),
        (
            Method::PUT,
            "/v1/tenants/leaving/plan",
            Some(json!({ "replaces_version": 1, "plan": unilevel_plan() })),
        ),
        (Method::GET, "/v1/tenants/leaving/plans/1", None),
    ] {
        server
            .expect(method, path, ADMIN_TOKEN, body, StatusCode::NOT_FOUND)
            .await;
    }
    // The id stays taken: its stored records are not a new tenant's.
    server
        .expect(
            Method::POST,
            "/v1/tenants",
            ADMIN_TOKEN,
            Some(json!({ "id": "leaving", "name": "again", "plan": unilevel_plan() })),
            StatusCode::CONFLICT,
        )
        .await;
    // Closing again reads every profile back and finds nothing left to erase.
    let again = close(&server, "leaving", StatusCode::OK).await;
    assert_eq!(again["profiles_erased"], 0);
    close(&server, "nobody", StatusCode::NOT_FOUND).await;

    let root = server
        .expect(
            Method::GET,
            "/v1/distributors/root",
            &staying,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(root["id"], "root", "the other tenant is served");
}
