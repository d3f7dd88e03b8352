//! A tenant's plan versions over HTTP: a new version pays the periods closed after it, a
//! restatement pays its period again by the version that paid it, every version stays
//! readable, and a change that is stale, invalid or would break what the tenant holds is
//! refused without changing anything.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `unilevel_plan()` paying `first_level` on the first level instead of 10%.
fn unilevel_paying(first_level: &str) -> Value {
    let mut plan = unilevel_plan();
    // From text, as the plan's own numbers: exact decimals.
    plan["bonuses"]["unilevel"]["levels"][0] = serde_json::from_str(first_level).unwrap();
    plan
}

async fn replace_plan(
    server: &Server,
    tenant: &str,
    replaces_version: u32,
    plan: Value,
    status: StatusCode,
) -> Value {
    server
        .expect(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/plan"),
            ADMIN_TOKEN,
            Some(json!({ "replaces_version": replaces_version, "plan": plan })),
            status,
        )
        .await
}

/// An order of 20 PV (active) for `distributor`.
async fn order_on(
    server: &Server,
    key: &str,
    order_id: &str,
    distributor: &str,
    date: &str,
    cv: &str,
) {
    let response = server
        .client
        .post(format!("{}/v1/orders", server.base))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("key-{order_id}"))
        .json(&json!({ "order_id": order_id, "distributor_id": distributor, "date": date, "pv": "20", "cv": cv }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn plan_version_listed(server: &Server, tenant: &str) -> Value {
    server
        .listed_tenants()
        .await
        .into_iter()
        .find(|listed| listed["id"] == tenant)
        .map(|listed| listed["plan_version"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_pays_later_periods_and_restatements_keep_theirs() {
    let server = start().await;
    let key = server.tenant("versions", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    server.enroll(&key, "a", Some("root")).await;
    order_on(&server, &key, "nov-root", "root", "2026-11-05", "0").await;
    order_on(&server, &key, "nov-1", "a", "2026-11-05", "100").await;
    order_on(&server, &key, "nov-2", "a", "2026-11-06", "50").await;
    let november = server.pay_period(&key, "2026-11").await;
    assert_eq!(november["plan_version"], 1);
    assert_eq!(november["totals"]["unilevel"], "15.00", "10% of 150");

    let changed = replace_plan(
        &server,
        "versions",
        1,
        unilevel_paying("0.20"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["plan_version"], 2);
    assert_eq!(plan_version_listed(&server, "versions").await, 2);

    // A refund in November restates it by version 1, the rules November was paid by.
    let refund = server
        .client
        .post(format!("{}/v1/orders/nov-2/refund", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    let november_id = november["run_id"].as_str().unwrap();
    let restatement = server.wait_for_restatement(&key, november_id).await;
    assert_eq!(restatement["plan_version"], 1, "{restatement}");
    assert_eq!(restatement["totals"]["unilevel"], "10.00", "10% of 100");

    // December is paid by version 2.
    order_on(&server, &key, "dec-root", "root", "2026-12-05", "0").await;
    order_on(&server, &key, "dec-1", "a", "2026-12-05", "100").await;
    let december = server.pay_period(&key, "2026-12").await;
    assert_eq!(december["plan_version"], 2);
    assert_eq!(december["totals"]["unilevel"], "20.00", "20% of 100");

    for (version, plan) in [(1, unilevel_plan()), (2, unilevel_paying("0.20"))] {
        let read = server
            .expect(
                Method::GET,
                &format!("/v1/tenants/versions/plans/{version}"),
                ADMIN_TOKEN,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(read, plan, "version {version}");
    }
    server
        .expect(
            Method::GET,
            "/v1/tenants/versions/plans/3",
            ADMIN_TOKEN,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_changes_are_checked_and_never_undo_each_other() {
    let server = start().await;
    server.tenant("checked", unilevel_plan()).await;
    let second = unilevel_paying("0.15");
    replace_plan(&server, "checked", 1, second.clone(), StatusCode::OK).await;
    // The same change again (a retry whose answer was lost) changes nothing.
    let again = replace_plan(&server, "checked", 1, second.clone(), StatusCode::OK).await;
    assert_eq!(again["plan_version"], 2);
    // Another change based on version 1 would undo the one made: refused.
    let stale = replace_plan(
        &server,
        "checked",
        1,
        unilevel_paying("0.30"),
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        stale["detail"].as_str().unwrap().contains("plan version 2"),
        "{stale}"
    );

    let mut invalid = second.clone();
    invalid["bonuses"]["unilevel"]["levels"] = json!([]);
    let refused = replace_plan(
        &server,
        "checked",
        2,
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        refused["field"], "plan.bonuses.unilevel.levels",
        "{refused}"
    );

    let mut in_euros = second.clone();
    in_euros["currency"] = json!("EUR");
    let refused = replace_plan(
        &server,
        "checked",
        2,
        in_euros,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "plan.currency", "{refused}");

    let mut binary = second.clone();
    binary["bonuses"]["binary"] = json!({ "pct": 0.10 });
    let refused = replace_plan(
        &server,
        "checked",
        2,
        binary,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["field"], "plan.bonuses", "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("binary"),
        "{refused}"
    );

    // Nothing refused changed anything.
    assert_eq!(plan_version_listed(&server, "checked").await, 2);
    let current = server
        .expect(
            Method::GET,
            "/v1/tenants/checked/plans/2",
            ADMIN_TOKEN,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(current, second);
    replace_plan(&server, "nobody", 1, second, StatusCode::NOT_FOUND).await;
}
