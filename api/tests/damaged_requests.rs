//! Random damage to valid requests — bytes of the JSON body replaced, inserted or deleted, and
//! path segments and query strings garbled — is answered as bad input, never as a server
//! error: a 4xx problem document (RFC 7807) that says what is wrong, or, when the damage left a
//! valid request, its normal answer. Seeded, so a failure repeats.

mod common;

use common::*;
use engine::splitmix::SplitMix64;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Damaged variants sent per request.
const VARIANTS: usize = 150;

/// Bytes that mean something to JSON and to the fields' parsers, and some that are not text.
const BYTES: &[u8] = b"0123456789.,-+eE:{}[]\"\\ \tnultrfa/\r\n\0\xff\xc3";

struct Damager(SplitMix64);

impl Damager {
    fn below(&mut self, bound: usize) -> usize {
        self.0.below(bound as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        BYTES[self.below(BYTES.len())]
    }

    /// `bytes` with one to three random edits.
    fn damage(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut damaged = bytes.to_vec();
        for _ in 0..1 + self.below(3) {
            let at = self.below(damaged.len().max(1));
            match self.below(3) {
                0 if !damaged.is_empty() => damaged[at] = self.byte(),
                1 if !damaged.is_empty() => {
                    damaged.remove(at);
                }
                _ => {
                    let byte = self.byte();
                    damaged.insert(at.min(damaged.len()), byte);
                }
            }
        }
        damaged
    }

    /// `text` damaged, then percent-encoded where a URL needs it.
    fn damage_in_url(&mut self, text: &str) -> String {
        let damaged = self.damage(text.as_bytes());
        damaged
            .iter()
            .map(|&byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(byte).to_string()
                }
                // Kept as they are: they structure the query.
                b'=' | b'&' => char::from(byte).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }
}

/// Checks an answer to a damaged request: not a server error, and a problem if an error.
async fn check_answer(response: reqwest::Response, what: &str) -> StatusCode {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap_or("").to_owned());
    let text = response.text().await.unwrap();
    assert!(!status.is_server_error(), "{what}: {status} {text}");
    if status.is_client_error() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{what}: {status} {text}"
        );
        let problem: Value = serde_json::from_str(&text).expect("a JSON problem");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|detail| !detail.is_empty()),
            "{what}: {text}"
        );
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_requests_are_answered_as_bad_input_never_as_server_errors() {
    let server = start().await;
    let key = server.tenant("damaged", unilevel_plan()).await;
    server.enroll(&key, "root", None).await;
    server.enroll(&key, "a", Some("root")).await;
    server.enroll(&key, "b", Some("a")).await;
    server.order(&key, "o-valid", "a", "100", "100").await;
    server.order(&key, "o-b", "b", "100", "100").await;
    // A paid period, so that `a` has a balance to withdraw from.
    server.pay_period(&key, "2026-11").await;
    let admin = server.admin_token;
    let mut damager = Damager(SplitMix64(0x5EED));

    // JSON bodies: (method, path, token, a valid body, whether it takes an Idempotency-Key).
    let bodies: [(Method, &str, &str, Value, bool); 6] = [
        (
            Method::POST,
            "/v1/distributors",
            &key,
            json!({ "id": "n1", "sponsor_id": "a", "joined_on": "2026-10-01", "profile": { "name": "N" } }),
            false,
        ),
        (
            Method::PATCH,
            "/v1/distributors/a",
            &key,
            json!({ "name": "A", "email": "a@example.com", "country": "US" }),
            false,
        ),
        (
            Method::POST,
            "/v1/orders",
            &key,
            json!({ "order_id": "o1", "distributor_id": "a", "date": "2026-11-05", "pv": "100.5", "cv": "90" }),
            true,
        ),
        (
            Method::POST,
            "/v1/wallets/a/withdrawals",
            &key,
            json!({ "withdrawal_id": "w1", "amount": "1.00" }),
            false,
        ),
        (
            Method::POST,
            "/v1/runs",
            &key,
            json!({ "period": "2026-10" }),
            false,
        ),
        (
            Method::POST,
            "/v1/tenants",
            admin,
            json!({ "id": "t1", "name": "T", "plan": unilevel_plan() }),
            false,
        ),
    ];
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for (method, path, token, body, idempotent) in &bodies {
        let valid = serde_json::to_vec(body).unwrap();
        let send = |body: Vec<u8>, idempotency_key: String| {
            let mut request = server
                .client
                .request(method.clone(), format!("{}{path}", server.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body);
            if *idempotent {
                request = request.header("Idempotency-Key", idempotency_key);
            }
            request.send()
        };
        // Undamaged, the request succeeds: the damage starts from something valid.
        let response = send(valid.clone(), "undamaged".into())
            .await
            .expect("the server answers");
        let status = response.status();
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            response.text().await.unwrap()
        );
        for variant in 0..VARIANTS {
            let damaged = damager.damage(&valid);
            let response = send(damaged.clone(), format!("damaged-{variant}"))
                .await
                .expect("the server answers");
            let what = format!("{method} {path} {:?}", String::from_utf8_lossy(&damaged));
            *answered
                .entry(check_answer(response, &what).await.as_u16())
                .or_default() += 1;
        }
    }

    // Path segments and query strings.
    let urls: [(&str, &str); 6] = [
        ("/v1/distributors/", "a"),
        ("/v1/distributors/a/downline?", "depth=2&limit=10"),
        ("/v1/distributors/a/stats?", "period=2026-11"),
        ("/v1/wallets/a/transfers?", "limit=5"),
        ("/v1/orders/", "o-valid"),
        ("/v1/runs/", "run-1"),
    ];
    for (prefix, tail) in urls {
        for _ in 0..VARIANTS {
            let url = format!("{prefix}{}", damager.damage_in_url(tail));
            let response = server.call(Method::GET, &url, &key, None).await;
            *answered
                .entry(check_answer(response, &format!("GET {url}")).await.as_u16())
                .or_default() += 1;
        }
    }
    // The damage is varied enough to reach both kinds of answer.
    assert!(
        answered.keys().any(|&status| status < 300) && answered.contains_key(&422),
        "answers by status: {answered:?}"
    );
}
