//! The API and the files agree: a generated network imported over HTTP, its orders posted
//! one by one (some refunded), the period closed by the API; then `upline export` and
//! `upline commissions` on the exported files give exactly the API's statements, byte for byte,
//! and the run's three files downloaded from the API are the command's three files.

mod common;

use common::serve::{start, ServeProcess};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::process::Command;

fn upline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(args)
        .output()
        .expect("upline runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_commissions_reproduces_the_api_statements() {
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("generated");
    let data = work.path().join("data");
    let generate = upline(&[
        "generate",
        "--distributors",
        "3000",
        "--seed",
        "11",
        "--plan",
        "full",
        "--out",
        generated.to_str().unwrap(),
    ]);
    assert!(
        generate.status.success(),
        "{}",
        String::from_utf8_lossy(&generate.stderr)
    );
    let server = start(&data);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(generated.join("plan.json")).unwrap())
            .unwrap();
    let key = server.tenant("export", plan).await;

    // The generated file lists recruits before their sponsors; import in a valid order.
    let csv = std::fs::read_to_string(generated.join("distributors.csv")).unwrap();
    let report: Value = server
        .post_import(&key, "text/csv", sponsors_first(&csv))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["refused"], 0, "{report}");

    let orders = std::fs::read_to_string(generated.join("orders.csv")).unwrap();
    let rows: Vec<Vec<String>> = orders
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect();
    post_orders(&server, &key, &rows).await;

    let run = server.run_period(&key, "2026-11").await;
    assert_eq!(run["status"], "preview", "{run}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let (api_lines, api_summary) =
        common::serve::statements_as_files(&server, &key, &run_id, &csv).await;
    let mut downloaded = Vec::new();
    for file in ["lines.csv", "summary.csv", "state.csv"] {
        let response = server
            .client
            .get(format!("{}/v1/runs/{run_id}/files/{file}", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{file}");
        downloaded.push((file, response.text().await.unwrap()));
    }
    server.stop();

    let exported = work.path().join("exported");
    let out = work.path().join("out");
    let export = upline(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--tenant",
        "export",
        "--period",
        "2026-11",
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let file = |name: &str| exported.join(name);
    let output = common::commissions(
        &file("plan.json"),
        &file("distributors.csv"),
        &file("orders.csv"),
        Some(&file("state.csv")),
        "2026-11",
        &out,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = std::fs::read_to_string(out.join("lines.csv")).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(
        lines.lines().count() > 1000,
        "a realistic run has many lines"
    );
    assert!(
        lines == api_lines,
        "lines.csv differs from the API's statements"
    );
    assert!(
        summary == api_summary,
        "summary.csv differs from the API's statements"
    );
    for (file, text) in downloaded {
        let written = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text == written,
            "{file} downloaded from the run differs from the command's"
        );
    }
}

/// The CSV with every row after its sponsor and placement parent.
fn sponsors_first(csv: &str) -> String {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let ids: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(at, row)| (row.split(',').next().unwrap(), at))
        .collect();
    let mut placed = vec![false; rows.len()];
    let mut ordered = vec![header.to_owned()];
    while ordered.len() <= rows.len() {
        let before = ordered.len();
        for (at, row) in rows.iter().enumerate() {
            if placed[at] {
                continue;
            }
            let cells: Vec<&str> = row.split(',').collect();
            let ready = [cells[1], cells[2]]
                .iter()
                .all(|parent| parent.is_empty() || ids.get(parent).is_some_and(|&p| placed[p]));
            if ready {
                placed[at] = true;
                ordered.push(row.to_string());
            }
        }
        assert!(
            ordered.len() > before,
            "the generated genealogy has a cycle"
        );
    }
    ordered.join("\n") + "\n"
}

async fn post_orders(server: &ServeProcess, key: &str, rows: &[Vec<String>]) {
    let mut posted = futures_util::stream::iter(rows)
        .map(|row| async move {
            let status = server
                .post_order(key, &row[0], &row[1], &row[2], &row[3], &row[4])
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CREATED, "order {}", row[0]);
            if row[5] == "refunded" {
                server
                    .expect(
                        Method::POST,
                        &format!("/v1/orders/{}/refund", row[0]),
                        key,
                        None,
                        StatusCode::OK,
                    )
                    .await;
            }
        })
        .buffer_unordered(32);
    while posted.next().await.is_some() {}
}

#[test]
fn a_data_folder_without_a_store_is_refused_and_nothing_is_created() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("mistyped-data");
    let out = work.path().join("out");
    let output = upline(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--tenant",
        "acme",
        "--period",
        "2026-11",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "upline export: --data: {} holds no store (upline.redb is missing); give the --data of `upline serve`",
            data.display()
        )
    );
    assert!(!data.exists(), "export created {}", data.display());
    assert!(!out.exists(), "export created {}", out.display());
}
