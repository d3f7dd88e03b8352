//! `upline load` on both stores: a loaded tenant, served and closed by the API, pays exactly
//! what `upline commissions` computes from the same files; bad files are refused with their
//! line and nothing is created; an existing tenant is never loaded over.

mod common;

use common::cassandra::{node, unique_prefix, DATACENTER};
use common::serve::{start_with, statements_as_files, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

const PERIOD: &str = "2026-11";

fn upline(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(args)
        .output()
        .expect("upline runs")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| arg.to_string()).collect()
}

fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn generate(out: &Path, distributors: u32) {
    let args = format!("generate --distributors {distributors} --seed 11 --plan full --out");
    let mut args: Vec<String> = args.split(' ').map(str::to_owned).collect();
    args.push(out.to_str().unwrap().to_owned());
    succeeded(&upline(&args), "upline generate");
}

fn load(input: &Path, tenant: &str, store: &[String]) -> Output {
    let mut args = strings(&[
        "load",
        "--tenant",
        tenant,
        "--input",
        input.to_str().unwrap(),
    ]);
    args.extend_from_slice(store);
    upline(&args)
}

/// The options of a fresh, migrated ScyllaDB deployment on the test node.
fn scylla_deployment() -> Vec<String> {
    let cluster = strings(&[
        "--scylla-nodes",
        node(),
        "--region",
        "us-east",
        "--datacenter",
        &format!("us-east={DATACENTER}"),
        "--keyspace-prefix",
        &unique_prefix("load"),
    ]);
    let mut migrate = strings(&["migrate", "--replication-factor", "1"]);
    migrate.extend_from_slice(&cluster);
    succeeded(&upline(&migrate), "upline migrate");
    let mut store = strings(&["--store", "scylla"]);
    store.extend(cluster);
    store
}

async fn a_loaded_tenant_closes_like_its_files(store: Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("generated");
    generate(&generated, 2_500);
    let file = |name: &str| generated.join(name);
    let expected = work.path().join("expected");
    // The loaded tenant has no earlier run, so no carried state.
    let output = common::commissions(
        &file("plan.json"),
        &file("distributors.csv"),
        &file("orders.csv"),
        None,
        PERIOD,
        &expected,
    );
    succeeded(&output, "upline commissions");

    let data = work.path().join("data");
    let mut store_and_data = store.clone();
    store_and_data.extend(strings(&["--data", data.to_str().unwrap()]));
    let report = succeeded(&load(&generated, "acme", &store_and_data), "upline load");
    assert!(report.contains("loaded in"), "{report}");
    assert!(report.contains("distributors"), "{report}");

    let server = start_with(&data, &store);
    let key = server
        .expect(
            Method::POST,
            "/v1/tenants/acme/api-keys",
            ADMIN_TOKEN,
            None,
            StatusCode::CREATED,
        )
        .await;
    let key = key["key"].as_str().unwrap().to_owned();
    let run = server
        .expect(
            Method::POST,
            "/v1/runs",
            &key,
            Some(json!({ "period": PERIOD })),
            StatusCode::ACCEPTED,
        )
        .await;
    let run = server.wait_run(&key, run["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "preview", "{run}");
    let csv = std::fs::read_to_string(file("distributors.csv")).unwrap();
    let (lines, summary) =
        statements_as_files(&server, &key, run["run_id"].as_str().unwrap(), &csv).await;
    server.stop();
    let expected_lines = std::fs::read_to_string(expected.join("lines.csv")).unwrap();
    let expected_summary = std::fs::read_to_string(expected.join("summary.csv")).unwrap();
    assert!(
        expected_lines.lines().count() > 1000,
        "a realistic run has many lines"
    );
    assert!(
        lines == expected_lines,
        "the close's lines differ from lines.csv"
    );
    assert!(
        summary == expected_summary,
        "the close's summary differs from summary.csv"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_loaded_into_the_embedded_store_closes_like_its_files() {
    a_loaded_tenant_closes_like_its_files(Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_loaded_into_scylla_closes_like_its_files() {
    a_loaded_tenant_closes_like_its_files(scylla_deployment()).await;
}

#[test]
fn a_bad_line_is_named_and_nothing_is_created() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input");
    generate(&input, 200);
    let orders_csv = input.join("orders.csv");
    let good = std::fs::read_to_string(&orders_csv).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let mut cells: Vec<&str> = lines[2].split(',').collect();
    cells[1] = "nobody";
    lines[2] = cells.join(",");
    std::fs::write(&orders_csv, lines.join("\n") + "\n").unwrap();
    let data_dir = work.path().join("data");
    let data = strings(&["--data", data_dir.to_str().unwrap()]);

    let refused = load(&input, "acme", &data);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("orders.csv:3:") && message.contains("nobody"),
        "{message}"
    );

    // The files are checked before the store opens: not even the data directory was made.
    assert!(
        !data_dir.exists(),
        "the refused load created {}",
        data_dir.display()
    );
    std::fs::write(&orders_csv, good).unwrap();
    succeeded(
        &load(&input, "acme", &data),
        "upline load of the repaired files",
    );
}

#[test]
fn ids_longer_than_the_api_takes_are_refused_at_their_line() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input");
    generate(&input, 50);
    // A commission run takes ids of any length; the API, and so a loaded tenant, 128 bytes.
    let long = "x".repeat(129);
    let distributors_csv = input.join("distributors.csv");
    let text = std::fs::read_to_string(&distributors_csv).unwrap();
    let last_id = text.lines().last().unwrap().split(',').next().unwrap();
    // Renamed wherever it appears (the generator's ids have one width: no id holds another).
    for file in ["distributors.csv", "orders.csv"] {
        let path = input.join(file);
        let content = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, content.replace(last_id, &long)).unwrap();
    }
    let data = strings(&["--data", work.path().join("data").to_str().unwrap()]);
    let refused = load(&input, "acme", &data);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    let line = text.lines().count();
    assert!(
        message.contains(&format!(
            "distributors.csv:{line}: id: must be 1 to 128 bytes"
        )),
        "{message}"
    );
}

#[test]
fn a_plan_saved_with_a_byte_order_mark_loads_as_commissions_reads_it() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input");
    generate(&input, 50);
    let plan_json = input.join("plan.json");
    let plan = std::fs::read_to_string(&plan_json).unwrap();
    std::fs::write(&plan_json, format!("\u{feff}{plan}")).unwrap();
    let data = strings(&["--data", work.path().join("data").to_str().unwrap()]);
    succeeded(&load(&input, "acme", &data), "upline load");
}

#[test]
fn an_existing_tenant_is_not_loaded_over() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input");
    generate(&input, 200);
    let data = strings(&["--data", work.path().join("data").to_str().unwrap()]);
    succeeded(&load(&input, "acme", &data), "the first upline load");
    let again = load(&input, "acme", &data);
    assert_eq!(again.status.code(), Some(1));
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("exists already"), "{message}");
    let invalid = load(&input, "Not A Tenant", &data);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("--tenant"));
}

#[test]
fn help_explains_the_load() {
    let output = upline(&strings(&["load", "--help"]));
    let help = succeeded(&output, "upline load --help");
    for words in [
        "plan.json",
        "complete or not at all",
        "run again",
        "--store",
        "--tenant",
    ] {
        assert!(help.contains(words), "--help lacks {words:?}:\n{help}");
    }
}
