//! A run's three files over HTTP (`GET /v1/runs/{run_id}/files/{file}`): the bytes of
//! `upline commissions` (the comparison with the command itself, on an exported period, is in
//! the root crate's `tests/api_export.rs`), in preview and once committed, and the refusals.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

async fn download(server: &Server, key: &str, run_id: &str, file: &str) -> (String, String) {
    let response = server
        .call(
            Method::GET,
            &format!("/v1/runs/{run_id}/files/{file}"),
            key,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{file}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("{file}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    let disposition = header("content-disposition");
    (disposition, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_files_are_the_commands_files() {
    let server = start().await;
    let key = server.tenant("files", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    server.enroll(&key, "d1", Some("root")).await;
    server.enroll(&key, "d2", Some("d1")).await;
    server.order(&key, "o1", "d2", "100", "100").await;
    server.order(&key, "o2", "d2", "100", "200").await;
    server.order(&key, "o3", "d1", "10", "0").await;
    let run = server.run_period(&key, "2026-11").await;
    assert_eq!(run["status"], "preview", "{run}");
    let run_id = run["run_id"].as_str().unwrap().to_owned();

    // Levels of 10% and 5% on d2's 300 CV; root has no PV, so it is inactive, and the plan
    // does not compress: its 5% is not paid.
    let lines = "recipient,bonus,source,level,base,rate,amount\n\
                 d1,unilevel,d2,1,300.0000,0.1,30.00\n";
    let summary = "id,active,rank,pv,gv,left,right,unilevel,matrix,binary,matching,fast_start,rank_advancement,pool,total\n\
                   d1,true,Member,10.0000,210.0000,0.0000,0.0000,30.00,0.00,0.00,0.00,0.00,0.00,0.00,30.00\n\
                   d2,true,Member,200.0000,200.0000,0.0000,0.0000,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n\
                   root,false,Member,0.0000,210.0000,0.0000,0.0000,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00\n";
    let state = "id,carry_left,carry_right,highest_rank\n\
                 d1,0.0000,0.0000,Member\n\
                 d2,0.0000,0.0000,Member\n\
                 root,0.0000,0.0000,Member\n";
    let expected = [
        ("lines.csv", lines),
        ("summary.csv", summary),
        ("state.csv", state),
    ];
    for (file, text) in expected {
        let (disposition, body) = download(&server, &key, &run_id, file).await;
        assert_eq!(body, text, "{file}");
        assert_eq!(
            disposition,
            format!("attachment; filename=\"{run_id}-{file}\"")
        );
    }
    // The files agree with the statements they are made of.
    let statement = server
        .expect(
            Method::GET,
            &format!("/v1/runs/{run_id}/statements/d1"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(statement["summary"]["total"], "30.00");

    // Committed, the run keeps the same files.
    server
        .expect(
            Method::POST,
            &format!("/v1/runs/{run_id}/commit"),
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    for (file, text) in expected {
        assert_eq!(
            download(&server, &key, &run_id, file).await.1,
            text,
            "{file}"
        );
    }

    // An unknown run is a 404, an unknown file name a 422 naming the path and the three names.
    let missing = server
        .expect(
            Method::GET,
            "/v1/runs/2026-11.99/files/lines.csv",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(missing["type"], "urn:upline:problem:not_found", "{missing}");
    let unknown = server
        .expect(
            Method::GET,
            &format!("/v1/runs/{run_id}/files/payroll.xlsx"),
            &key,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(unknown["field"], "path", "{unknown}");
    let detail = unknown["detail"].as_str().unwrap();
    for name in ["lines.csv", "summary.csv", "state.csv"] {
        assert!(detail.contains(name), "{detail}");
    }
}
