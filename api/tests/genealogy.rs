//! Distributors and the genealogy over HTTP: enrollment with placement rules, explicit
//! positions and their errors, bulk import with a per-row report, upline, downline pages,
//! statistics.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn binary_plan() -> Value {
    serde_json::from_str(r#"{ "name": "bin", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": { "binary": { "pct": 0.1 } } }"#)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_enrollment_places_by_rule_or_position() {
    let server = start().await;
    let key = server.tenant("binary", binary_plan()).await;
    server.enroll(&key, "root", None).await;
    let enroll = |body: Value| {
        server.expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(body),
            StatusCode::CREATED,
        )
    };
    let a =
        enroll(json!({ "id": "a", "sponsor_id": "root", "placement": { "rule": "outer_left" } }))
            .await;
    assert_eq!(a["placement"], json!({ "parent_id": "root", "leg": "L" }));
    let b =
        enroll(json!({ "id": "b", "sponsor_id": "root", "placement": { "rule": "outer_left" } }))
            .await;
    assert_eq!(b["placement"], json!({ "parent_id": "a", "leg": "L" }));
    let c = enroll(json!({ "id": "c", "sponsor_id": "root", "placement": { "parent_id": "root", "leg": "R" } })).await;
    assert_eq!(c["placement"], json!({ "parent_id": "root", "leg": "R" }));
    // Weak leg: both legs have no PV, ties go left: the end of the left edge.
    let d = enroll(json!({ "id": "d", "sponsor_id": "root" })).await;
    assert_eq!(d["placement"], json!({ "parent_id": "b", "leg": "L" }));
    let cases = [
        (
            json!({ "id": "e", "sponsor_id": "root", "placement": { "parent_id": "root", "leg": "R" } }),
            "placement",
        ),
        (
            json!({ "id": "e", "sponsor_id": "root", "placement": { "parent_id": "root", "leg": "X" } }),
            "placement.leg",
        ),
        (
            json!({ "id": "e", "sponsor_id": "root", "placement": { "rule": "spillover" } }),
            "placement.rule",
        ),
        (json!({ "id": "e", "sponsor_id": "nobody" }), "sponsor_id"),
        (json!({ "id": "e" }), "sponsor_id"),
        (json!({ "id": "bad id", "sponsor_id": "root" }), "id"),
        (
            json!({ "id": "e", "sponsor_id": "root", "colour": "red" }),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let problem = server
            .expect(
                Method::POST,
                "/v1/distributors",
                &key,
                Some(body.clone()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    server
        .expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(json!({ "id": "a", "sponsor_id": "root" })),
            StatusCode::CONFLICT,
        )
        .await;
    server
        .expect(
            Method::GET,
            "/v1/distributors/e",
            &key,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upline_downline_and_stats_follow_the_tree() {
    let server = start().await;
    let key = server.tenant("tree", unilevel_plan()).await;
    // root ─ a ─ a1 ─ a11
    //      │    └ a2
    //      └ b
    server.enroll(&key, "root", None).await;
    for (id, sponsor) in [
        ("a", "root"),
        ("b", "root"),
        ("a1", "a"),
        ("a2", "a"),
        ("a11", "a1"),
    ] {
        server.enroll(&key, id, Some(sponsor)).await;
    }
    let upline = server
        .expect(
            Method::GET,
            "/v1/distributors/a11/upline",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        upline["items"],
        json!([{ "id": "a1", "level": 1 }, { "id": "a", "level": 2 }, { "id": "root", "level": 3 }])
    );
    let two = server
        .expect(
            Method::GET,
            "/v1/distributors/a11/upline?levels=2",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(two["items"].as_array().unwrap().len(), 2);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/distributors/root/downline?limit=2&cursor={cursor}"),
            None => "/v1/distributors/root/downline?limit=2".to_owned(),
        };
        let page = server
            .expect(Method::GET, &path, &key, None, StatusCode::OK)
            .await;
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["id"].as_str().unwrap().to_owned(),
                item["level"].as_u64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<(String, u64)> = [("a", 1), ("a1", 2), ("a11", 3), ("a2", 2), ("b", 1)]
        .iter()
        .map(|(id, level)| (id.to_string(), *level))
        .collect();
    assert_eq!(seen, expected, "depth-first, recruits in enrollment order");
    let shallow = server
        .expect(
            Method::GET,
            "/v1/distributors/root/downline?depth=1",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        shallow["items"],
        json!([{ "id": "a", "level": 1 }, { "id": "b", "level": 1 }])
    );
    server
        .expect(
            Method::GET,
            "/v1/distributors/root/downline?cursor=nobody",
            &key,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    server
        .expect(
            Method::GET,
            "/v1/distributors/a/downline?cursor=b",
            &key,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

    server.order(&key, "o1", "a11", "40", "40").await;
    server.order(&key, "o2", "b", "5", "5").await;
    server.run_period(&key, "2026-11").await; // waits for the volumes
    let stats = server.stats(&key, "root", "2026-11").await;
    assert_eq!(stats["size"], 6);
    assert_eq!(stats["gv"], "45.0000");
    assert_eq!(
        stats["legs"],
        json!([{ "id": "a", "gv": "40.0000" }, { "id": "b", "gv": "5.0000" }])
    );
    server
        .expect(
            Method::GET,
            "/v1/distributors/root/stats?period=2026-13",
            &key,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let progress = server
        .expect(
            Method::GET,
            "/v1/distributors/a11/rank-progress?period=2026-11",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(progress["active"], true);
    assert_eq!(progress["paid_as_rank"], "Member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_enrolls_the_good_rows_and_reports_the_bad() {
    let server = start().await;
    let key = server.tenant("import", unilevel_plan()).await;
    let csv = "id,sponsor_id,placement_id,leg,joined_on,status\n\
        root,,,,2026-01-01,active\n\
        a,root,,,2026-01-02,active\n\
        b,nobody,,,2026-01-02,active\n\
        c,a,,,2026-13-01,active\n\
        d,a,,,2026-01-03,terminated\n\
        e,b,,,2026-01-03,active\n";
    let response = server.post_import(&key, "text/csv", csv).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["rows"], 6);
    assert_eq!(report["enrolled"], 3);
    assert_eq!(report["refused"], 3);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 5, 7], "{report}");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sponsor_id"),
        "{report}"
    );
    let d = server
        .expect(
            Method::GET,
            "/v1/distributors/d",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(d["status"], "terminated");
    // NDJSON too.
    let ndjson = "{\"id\":\"f\",\"sponsor_id\":\"a\"}\n{\"id\":\"g\",\"sponsor_id\":\"f\",\"joined_on\":\"bad\"}\n";
    let response = server
        .post_import(&key, "application/x-ndjson", ndjson)
        .await;
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["enrolled"].as_u64(), report["refused"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let bad_header = server
        .post_import(&key, "text/csv", "id,sponsor\nx,y\n")
        .await;
    assert_eq!(bad_header.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A header behind a byte-order mark (as Excel's "CSV UTF-8" writes) is refused saying so.
    let with_bom =
        "\u{feff}id,sponsor_id,placement_id,leg,joined_on,status\nj,a,,,2026-01-03,active\n";
    let refused = server.post_import(&key, "text/csv", with_bom).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("byte-order mark"),
        "{problem}"
    );
    // A row that is not UTF-8 (a Latin-1 `é`) is refused at its line, never enrolled under
    // an id with a replacement character.
    let mut latin1 = b"id,sponsor_id,placement_id,leg,joined_on,status\r\n".to_vec();
    latin1.extend_from_slice(b"h\xe9,a,,,2026-01-03,active\r\ni,a,,,2026-01-03,active\r\n");
    let response = server.post_import(&key, "text/csv", latin1).await;
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["enrolled"].as_u64(), report["refused"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["line"], 2, "{report}");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{report}"
    );
}

/// A named import shows its progress while the stream is still being sent, then its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_import_shows_progress_while_it_streams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start().await;
    let key = server.tenant("import-progress", unilevel_plan()).await;
    let first_part: String = std::iter::once(
        "id,sponsor_id,placement_id,leg,joined_on,status\nroot,,,,2026-01-01,active\n".to_owned(),
    )
    .chain((1..3000).map(|n| format!("m{n},root,,,2026-01-02,active\n")))
    .collect();
    let second_part: String = (3000..3500)
        .map(|n| format!("m{n},root,,,2026-01-02,active\n"))
        .collect();
    // A chunked upload over a raw connection: the test decides when the rest is sent.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut upload = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/distributors/import?import_id=big-1 HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {key}\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    let chunk = |part: &str| format!("{:x}\r\n{part}\r\n", part.len());
    upload
        .write_all(chunk(&first_part).as_bytes())
        .await
        .unwrap();
    let progress_path = "/v1/distributors/imports/big-1";
    let mut seen = Value::Null;
    for _ in 0..400 {
        // Not found until the server has started reading the upload (the request races it).
        let response = server.call(Method::GET, progress_path, &key, None).await;
        let status = response.status();
        assert!(
            [StatusCode::OK, StatusCode::NOT_FOUND].contains(&status),
            "{status}"
        );
        if status == StatusCode::OK {
            seen = response.json().await.unwrap();
            if seen["rows"].as_u64().unwrap_or(0) >= 2048 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen["rows"].as_u64().unwrap() >= 2048, "{seen}");
    assert!(seen["rows"].as_u64().unwrap() <= 3000, "{seen}");
    assert_eq!(seen["done"], false, "{seen}");
    upload
        .write_all(format!("{}0\r\n\r\n", chunk(&second_part)).as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"errors\"") {
        let read = upload.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed before answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let done = server
        .expect(Method::GET, progress_path, &key, None, StatusCode::OK)
        .await;
    assert_eq!(done["rows"], 3500, "{done}");
    assert_eq!(done["enrolled"], 3500, "{done}");
    assert_eq!(done["done"], true, "{done}");
    // Another tenant does not see it.
    let other = server
        .tenant("import-progress-other", unilevel_plan())
        .await;
    server
        .expect(
            Method::GET,
            progress_path,
            &other,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributor_resides_in_a_region_of_the_deployment() {
    let server = start().await;
    let key = server.tenant("residents", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    // The ScyllaDB test deployment has the one region "test"; the embedded store has no
    // regions and records any well-formed name.
    let on_scylla = std::env::var("UPLINE_TEST_STORE").as_deref() == Ok("scylla");
    let region = if on_scylla { "test" } else { "eu-west" };
    let profile = json!({ "name": "Ana Lima", "email": "ana@example.test", "country": "PT" });
    let enrolled = server
        .expect(
            Method::POST,
            "/v1/distributors",
            &key,
            Some(json!({ "id": "ana", "sponsor_id": "root", "profile": profile, "residence_region": region })),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(enrolled["residence_region"], region);
    assert_eq!(enrolled["profile"], profile);
    let read = server
        .expect(
            Method::GET,
            "/v1/distributors/ana",
            &key,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(read, enrolled);
    // A profile change keeps the residence.
    let changed = server
        .expect(
            Method::PATCH,
            "/v1/distributors/ana",
            &key,
            Some(json!({ "name": "Ana L.", "country": "PT" })),
            StatusCode::OK,
        )
        .await;
    assert_eq!(changed["residence_region"], region);
    assert_eq!(changed["profile"]["name"], "Ana L.");
    assert_eq!(changed["profile"]["email"], Value::Null);
    // This endpoint's region (or a store without regions) takes their orders.
    server.order(&key, "o-ana", "ana", "50", "40").await;

    let mut refused = vec!["Eu West", ""];
    if on_scylla {
        refused.push("eu-west");
    }
    for (at, residence) in refused.into_iter().enumerate() {
        let id = format!("refused{at}");
        let problem = server
            .expect(
                Method::POST,
                "/v1/distributors",
                &key,
                Some(json!({ "id": id, "sponsor_id": "root", "residence_region": residence })),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(
            problem["field"], "residence_region",
            "{residence:?}: {problem}"
        );
        // A bulk import checks a residence as the endpoint does, and reports its line.
        let row = json!({ "id": format!("imported{at}"), "sponsor_id": "root", "residence_region": residence });
        let report: Value = server
            .post_import(&key, "application/x-ndjson", format!("{row}\n"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["refused"], 1, "{residence:?}: {report}");
        assert!(
            report["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("residence_region"),
            "{residence:?}: {report}"
        );
        server
            .expect(
                Method::GET,
                &format!("/v1/distributors/{id}"),
                &key,
                None,
                StatusCode::NOT_FOUND,
            )
            .await;
    }
}

/// A line longer than an import takes is refused at its line and not held: the rows around
/// it are enrolled. A header that long refuses the import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_too_long_is_refused_at_its_line() {
    let server = start().await;
    let key = server.tenant("import-long-line", unilevel_plan()).await;
    let too_long = "x".repeat(api::import_lines::LINE_BYTES_MAX + 1);
    let csv = format!(
        "id,sponsor_id,placement_id,leg,joined_on,status\n\
         root,,,,2026-01-01,active\n\
         {too_long},root,,,2026-01-02,active\n\
         a,root,,,2026-01-02,active\n"
    );
    let response = server.post_import(&key, "text/csv", csv).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["rows"].as_u64(), report["enrolled"].as_u64()),
        (Some(3), Some(2)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["line"], 3, "{report}");
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("longer than 65536 bytes"), "{report}");
    server
        .expect(
            Method::GET,
            "/v1/distributors/a",
            &key,
            None,
            StatusCode::OK,
        )
        .await;

    let long_header = server.post_import(&key, "text/csv", too_long).await;
    assert_eq!(long_header.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
