//! The operator provisioning tenants through a real `upline serve` (the region's API) from a
//! real kube-apiserver: a Tenant becomes a tenant record and an API key kept in a Secret;
//! CompensationPlans are validated by the engine and versioned, a version a committed run used
//! stays as it was while a changed spec becomes the next version, which the tenant is given
//! (or, refused by the platform, says why); the finalizer honours the deletion policy (Delete
//! closes the tenant on the platform, Retain leaves it working).

mod common;

use common::kube::{cluster, condition, condition_is, Cluster, OperatorProcess};
use common::serve::{start_with_env, ServeProcess};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN: &str = "operator-test-admin-token";

/// A plan document in USD; `first_level` is written as the decimal text given.
fn plan_manifest(name: &str, first_level: &str) -> String {
    plan_manifest_in(name, first_level, "USD")
}

fn plan_manifest_in(name: &str, first_level: &str, currency: &str) -> String {
    format!(
        r#"{{"apiVersion":"upline.io/v1alpha1","kind":"CompensationPlan","metadata":{{"name":"{name}"}},"spec":{{"name":"{name}","currency":"{currency}","currency_decimals":2,"activity":{{"min_pv":100}},"ranks":[{{"name":"Member"}}],"bonuses":{{"unilevel":{{"levels":[{first_level},0.05],"compression":true}}}}}}}}"#
    )
}

fn tenant_manifest(name: &str, plan: &str, policy: &str) -> String {
    json!({
        "apiVersion": "upline.io/v1alpha1",
        "kind": "Tenant",
        "metadata": { "name": name },
        "spec": { "displayName": format!("{name} Inc."), "homeRegion": "us-east", "plan": plan, "deletionPolicy": policy }
    })
    .to_string()
}

const REGION: &str = r#"apiVersion: upline.io/v1alpha1
kind: Region
metadata:
  name: us-east
spec:
  datacenter: dc-us-east
  nats: { urls: ["nats://nats-us-east:4222"] }
  store: { scyllaNodes: ["scylla-us-east-1:9042"] }
  publicHostname: us-east.upline.example.com
  image: registry.example.com/upline:0.1.0
  api: { minReplicas: 1, maxReplicas: 2 }
  worker: { minReplicas: 1, maxReplicas: 1 }
"#;

/// A namespace with the region's API running as `upline serve` (embedded store), its admin
/// token in the Secret the Region uses (an admin-provided token: the operator keeps it), and
/// the operator reaching that API.
fn region_with_api(
    cluster: &Cluster,
    test: &str,
    data: &std::path::Path,
) -> (String, ServeProcess, OperatorProcess) {
    let namespace = cluster.namespace(test);
    let server = start_with_env(data, &[], &[("UPLINE_ADMIN_TOKEN", ADMIN)]);
    cluster.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "us-east-admin-token",
        "-n",
        &namespace,
        &format!("--from-literal=admin-token={ADMIN}"),
    ]);
    let operator = OperatorProcess::start(
        &cluster.kubeconfig,
        &namespace,
        &["--region-api".into(), format!("us-east={}", server.base)],
    );
    cluster.apply_ok(&namespace, REGION);
    (namespace, server, operator)
}

/// A Secret's value, decoded by kubectl.
fn secret_text(cluster: &Cluster, namespace: &str, name: &str, key: &str) -> String {
    let template = format!("{{{{index .data \"{key}\" | base64decode}}}}");
    cluster.kubectl_ok(&[
        "get",
        "secret",
        name,
        "-n",
        namespace,
        "-o",
        &format!("go-template={template}"),
    ])
}

/// The unilevel levels of a version's document, as numbers to compare.
fn levels(document: &Value) -> Vec<f64> {
    document["bonuses"]["unilevel"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|level| level.as_f64().unwrap())
        .collect()
}

fn versions(plan: &Value) -> Vec<(u64, String, bool)> {
    plan["status"]["versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .map(|version| {
                    (
                        version["version"].as_u64().unwrap(),
                        version["hash"].as_str().unwrap().to_owned(),
                        version["locked"] == true,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn document(cluster: &Cluster, namespace: &str, config_map: &str) -> Value {
    let config = cluster
        .get(namespace, "configmap", config_map)
        .unwrap_or_else(|| panic!("no ConfigMap {config_map}"));
    assert_eq!(config["immutable"], true, "{config_map} is immutable");
    serde_json::from_str(config["data"]["plan.json"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_is_provisioned_with_its_key_and_a_used_plan_version_never_changes() {
    let cluster = cluster();
    let data = tempfile::tempdir().unwrap();
    let (namespace, server, _operator) = region_with_api(cluster, "op-tenant", data.path());
    cluster.apply_ok(&namespace, &plan_manifest("starter", "0.10"));
    let plan = cluster.wait_for(&namespace, "compensationplan", "starter", "Ready", |plan| {
        condition_is(plan, "Ready", "True")
    });
    assert_eq!(plan["status"]["currentVersion"], 1);
    let first = versions(&plan);
    assert_eq!(first.len(), 1);
    assert_eq!(
        levels(&document(cluster, &namespace, "starter-v1")),
        vec![0.10, 0.05]
    );

    // While no tenant is paid by it, an edit changes version 1 in place.
    cluster.apply_ok(&namespace, &plan_manifest("starter", "0.12"));
    let plan = cluster.wait_for(
        &namespace,
        "compensationplan",
        "starter",
        "re-versioned",
        |plan| {
            versions(plan)
                .first()
                .is_some_and(|(_, hash, _)| *hash != first[0].1)
        },
    );
    assert_eq!(versions(&plan).len(), 1, "{:#}", plan["status"]);
    assert_eq!(plan["status"]["currentVersion"], 1);
    assert_eq!(
        levels(&document(cluster, &namespace, "starter-v1")),
        vec![0.12, 0.05]
    );

    cluster.apply_ok(&namespace, &tenant_manifest("acme", "starter", "Delete"));
    let tenant = cluster.wait_for(&namespace, "tenant", "acme", "Ready", |tenant| {
        condition_is(tenant, "Ready", "True")
    });
    assert_eq!(tenant["status"]["apiKeySecret"], "acme-api-key");
    assert_eq!(
        tenant["status"]["endpoint"],
        "https://us-east.upline.example.com"
    );
    assert_eq!(tenant["status"]["planVersion"], 1);
    assert_eq!(
        tenant["status"]["appliedPlanHash"],
        plan["status"]["currentHash"]
    );
    assert!(condition_is(&tenant, "PlanCurrent", "True"));
    assert_eq!(tenant["status"]["provisionedRegions"], json!(["us-east"]));
    assert_eq!(
        tenant["metadata"]["finalizers"],
        json!(["upline.io/tenant"])
    );
    let secret = cluster
        .get(&namespace, "secret", "acme-api-key")
        .expect("the API key Secret");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "Tenant");
    let key = secret_text(cluster, &namespace, "acme-api-key", "api_key");
    assert_eq!(
        secret_text(cluster, &namespace, "acme-api-key", "endpoint"),
        server.base
    );
    // The platform has the tenant, with the plan and the name the Tenant gave.
    let tenants = server
        .expect(Method::GET, "/v1/tenants", ADMIN, None, StatusCode::OK)
        .await;
    let record = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|tenant| tenant["id"] == "acme")
        .expect("acme on the platform")
        .clone();
    assert_eq!(record["name"], "acme Inc.");
    assert_eq!(record["currency"], "USD");
    // And the key in the Secret works.
    server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;

    // A run of the tenant is committed (and posted): version 1 is now in use.
    server.enroll_tree(&key, 4, 2, "2026-11-02").await;
    server.order_for_each(&key, 4, "2026-11-10").await;
    server.pay_period(&key, "2026-11").await;

    // The next edit becomes version 2; version 1 stays, locked, readable as it was.
    cluster.apply_ok(&namespace, &plan_manifest("starter", "0.15"));
    let plan = cluster.wait_for(
        &namespace,
        "compensationplan",
        "starter",
        "at version 2",
        |plan| plan["status"]["currentVersion"] == 2,
    );
    let versions = versions(&plan);
    assert_eq!(
        versions
            .iter()
            .map(|(number, _, locked)| (*number, *locked))
            .collect::<Vec<_>>(),
        vec![(1, true), (2, false)]
    );
    assert_eq!(
        levels(&document(cluster, &namespace, "starter-v1")),
        vec![0.12, 0.05]
    );
    assert_eq!(
        levels(&document(cluster, &namespace, "starter-v2")),
        vec![0.15, 0.05]
    );
    assert_eq!(plan["status"]["currentHash"], versions[1].1);
    // The tenant is given version 2: the platform pays its next periods by it, as its plan
    // version 2, and keeps version 1 for the runs it paid.
    let tenant = cluster.wait_for(
        &namespace,
        "tenant",
        "acme",
        "paid by version 2",
        |tenant| tenant["status"]["appliedPlanVersion"] == 2,
    );
    assert!(condition_is(&tenant, "PlanCurrent", "True"), "{tenant:#}");
    assert_eq!(tenant["status"]["planVersion"], 2);
    assert_eq!(tenant["status"]["appliedPlanHash"], versions[1].1);
    for (version, expected) in [(1, vec![0.12, 0.05]), (2, vec![0.15, 0.05])] {
        let document = server
            .expect(
                Method::GET,
                &format!("/v1/tenants/acme/plans/{version}"),
                ADMIN,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            levels(&document),
            expected,
            "platform plan version {version}"
        );
    }
    let december = server.run_period(&key, "2026-12").await;
    assert_eq!(december["plan_version"], 2, "{december}");

    // A version the platform refuses for this tenant (another currency than its wallets
    // hold) is said on the Tenant; it stays paid by version 2.
    cluster.apply_ok(&namespace, &plan_manifest_in("starter", "0.15", "EUR"));
    let tenant = cluster.wait_for(
        &namespace,
        "tenant",
        "acme",
        "refused version 3",
        |tenant| condition_is(tenant, "PlanCurrent", "False"),
    );
    let (_, reason, message) = condition(&tenant, "PlanCurrent").unwrap();
    assert_eq!(reason, "PlanRefused");
    assert!(message.contains("plan.currency"), "{message}");
    assert_eq!(tenant["status"]["appliedPlanVersion"], 2);
    assert_eq!(tenant["status"]["planVersion"], 2);

    // Deleting the Tenant (policy Delete) closes it on the platform — its key revoked, its
    // distributors' personal data erased — then lets it go.
    server
        .expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(
                json!({ "id": "vip", "sponsor_id": "d0", "joined_on": "2026-11-03",
                         "profile": { "name": "Vera Important", "email": "vera@example.com" } }),
            ),
            StatusCode::CREATED,
        )
        .await;
    cluster.kubectl_ok(&["delete", "tenant", "acme", "-n", &namespace, "--wait=false"]);
    cluster.wait_gone(&namespace, "tenant", "acme");
    server
        .expect(
            Method::GET,
            "/v1/runs",
            &key,
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    let tenants = server
        .expect(Method::GET, "/v1/tenants", ADMIN, None, StatusCode::OK)
        .await;
    assert_eq!(tenants, json!([]), "acme is closed");
    let events = cluster.kubectl_ok(&["get", "events", "-n", &namespace, "-o", "json"]);
    let events: Value = serde_json::from_str(&events).unwrap();
    let closed: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["reason"] == "Closed")
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert_eq!(
        closed,
        vec!["deletion policy Delete: tenant closed in us-east (1 profiles erased); its API keys revoked"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_the_engine_refuses_tenants_without_a_plan_and_a_retained_tenant() {
    let cluster = cluster();
    let data = tempfile::tempdir().unwrap();
    let (namespace, server, _operator) = region_with_api(cluster, "op-plan", data.path());

    // The API server refuses a plan breaking a CEL rule, naming the field.
    let twins = plan_manifest("twins", "0.1").replace(
        r#"[{"name":"Member"}]"#,
        r#"[{"name":"Member"},{"name":"Member"}]"#,
    );
    let output = cluster.apply(&namespace, &twins);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("spec.ranks: every rank has a name of its own"));

    // The engine refuses what only it knows: the condition names the field path.
    let broken = plan_manifest("broken", "0.1").replace(
        r#"[{"name":"Member"}]"#,
        r#"[{"name":"Member"},{"name":"Gold","max_leg_share":0.5}]"#,
    );
    cluster.apply_ok(&namespace, &broken);
    let plan = cluster.wait_for(
        &namespace,
        "compensationplan",
        "broken",
        "refused",
        |plan| condition_is(plan, "Ready", "False"),
    );
    let (_, reason, message) = condition(&plan, "Ready").unwrap();
    assert_eq!(reason, "InvalidPlan");
    assert_eq!(message, "ranks[1].max_leg_share: requires min_gv");
    assert!(condition_is(&plan, "Degraded", "True"));
    assert!(
        plan["status"]["versions"].is_null(),
        "a refused plan has no version"
    );

    // A tenant of a missing plan, and of a refused one, waits and says why.
    cluster.apply_ok(&namespace, &tenant_manifest("orphan", "nowhere", "Retain"));
    cluster.apply_ok(&namespace, &tenant_manifest("hopeful", "broken", "Retain"));
    let orphan = cluster.wait_for(&namespace, "tenant", "orphan", "waiting", |tenant| {
        condition_is(tenant, "Ready", "False")
    });
    assert_eq!(condition(&orphan, "Ready").unwrap().1, "PlanMissing");
    let hopeful = cluster.wait_for(&namespace, "tenant", "hopeful", "waiting", |tenant| {
        condition_is(tenant, "Ready", "False")
    });
    assert_eq!(condition(&hopeful, "Ready").unwrap().1, "PlanNotReady");

    // Fixing the plan lets the tenant through.
    cluster.apply_ok(&namespace, &plan_manifest("broken", "0.1"));
    let hopeful = cluster.wait_for(&namespace, "tenant", "hopeful", "provisioned", |tenant| {
        condition_is(tenant, "Ready", "True")
    });
    let key = secret_text(cluster, &namespace, "hopeful-api-key", "api_key");
    assert_eq!(hopeful["status"]["planVersion"], 1);

    // Policy Retain: deleting the Tenant leaves the key working on the platform.
    cluster.kubectl_ok(&[
        "delete",
        "tenant",
        "hopeful",
        "-n",
        &namespace,
        "--wait=false",
    ]);
    cluster.wait_gone(&namespace, "tenant", "hopeful");
    server
        .expect(Method::GET, "/v1/runs", &key, None, StatusCode::OK)
        .await;
}
