//! `upline serve` as a child process on a loopback port, and a small HTTP client for it.
#![allow(dead_code)]

use super::process::keep_stderr;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

#[path = "../../api/tests/common/api_client.rs"]
mod api_client;
pub use api_client::ApiClient;

pub const ADMIN_TOKEN: &str = "cli-test-admin-token";

pub struct ServeProcess {
    pub child: Child,
    /// Calls to it (`server.expect(…)`, `server.base`, through `Deref`).
    pub api: ApiClient,
    /// Everything it wrote to standard error so far.
    stderr: Arc<Mutex<String>>,
}

impl std::ops::Deref for ServeProcess {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// Starts `upline serve --data DATA` on a free port and waits until it listens.
pub fn start(data: &Path) -> ServeProcess {
    start_with(data, &[])
}

/// [`start`] with more arguments (e.g. `--store scylla …`).
pub fn start_with(data: &Path, arguments: &[String]) -> ServeProcess {
    start_with_env(data, arguments, &[])
}

/// [`start_with`] with more environment variables (e.g. `UPLINE_FAILPOINT`).
pub fn start_with_env(data: &Path, arguments: &[String], env: &[(&str, &str)]) -> ServeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(arguments)
        .env("UPLINE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("UPLINE_LOG", "warn")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("upline serve starts");
    let (sender, receiver) = std::sync::mpsc::channel();
    let stderr = keep_stderr(child.stderr.take().unwrap(), "serve", move |line| {
        if let Some(address) = line.split("listening on ").nth(1) {
            let _ = sender.send(address.split_whitespace().next().unwrap().to_owned());
        }
    });
    let base = receiver
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("upline serve printed its address");
    ServeProcess {
        child,
        api: ApiClient::new(base, ADMIN_TOKEN),
        stderr,
    }
}

/// A test that fails leaves no server behind.
impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ServeProcess {
    /// SIGKILL: no shutdown of any kind.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        self.child.wait().unwrap();
    }

    /// Waits for the process to end on its own (a failpoint); its exit code, or None when it
    /// still runs after `patience`.
    pub fn ended_within(&mut self, patience: std::time::Duration) -> Option<i32> {
        let started = std::time::Instant::now();
        while started.elapsed() < patience {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// What it wrote to standard error so far.
    pub fn said(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap();
    }

    /// Enrolls `d0` .. `d{count - 1}`, each sponsored by `d{(n - 1) / branching}`.
    pub async fn enroll_tree(&self, key: &str, count: usize, branching: usize, joined_on: &str) {
        self.enroll_tree_from(key, 0..count, branching, joined_on)
            .await
    }

    /// [`enroll_tree`]'s distributors `numbers` only (the tree grown further).
    pub async fn enroll_tree_from(
        &self,
        key: &str,
        numbers: std::ops::Range<usize>,
        branching: usize,
        joined_on: &str,
    ) {
        for n in numbers {
            let sponsor = (n > 0).then(|| format!("d{}", (n - 1) / branching));
            let body =
                json!({ "id": format!("d{n}"), "sponsor_id": sponsor, "joined_on": joined_on });
            self.expect(
                Method::POST,
                "/v1/distributors",
                key,
                Some(body),
                StatusCode::CREATED,
            )
            .await;
        }
    }

    /// Posts an order; `Ok(status)` for an answer, `Err` when the connection failed.
    pub async fn post_order(
        &self,
        key: &str,
        order_id: &str,
        distributor: &str,
        date: &str,
        pv: &str,
        cv: &str,
    ) -> Result<StatusCode, reqwest::Error> {
        let body = json!({ "order_id": order_id, "distributor_id": distributor, "date": date, "pv": pv, "cv": cv });
        let response = self
            .client
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(key)
            .header("Idempotency-Key", format!("idem-{order_id}"))
            .json(&body)
            .send()
            .await?;
        Ok(response.status())
    }

    /// Every distributor of [`ServeProcess::enroll_tree`] (`d0` ..) holds in their wallet
    /// exactly their total in the run; some total is not zero.
    pub async fn assert_wallets_pay(&self, key: &str, distributors: usize, run_id: &str) {
        let mut paid_someone = false;
        for n in 0..distributors {
            let id = format!("d{n}");
            let statement = self
                .expect(
                    Method::GET,
                    &format!("/v1/runs/{run_id}/statements/{id}"),
                    key,
                    None,
                    StatusCode::OK,
                )
                .await;
            let wallet = self
                .expect(
                    Method::GET,
                    &format!("/v1/wallets/{id}"),
                    key,
                    None,
                    StatusCode::OK,
                )
                .await;
            let total = statement["summary"]["total"].as_str().unwrap();
            assert_eq!(wallet["balance"].as_str().unwrap(), total, "{id}'s wallet");
            paid_someone |= total != "0.00";
        }
        assert!(paid_someone, "the run pays nobody: nothing was checked");
    }

    /// One order `o<n>` dated `date` for each distributor `d<n>` of [`ServeProcess::enroll_tree`]
    /// (PV 100, CV 50 + 7n).
    pub async fn order_for_each(&self, key: &str, distributors: usize, date: &str) {
        for n in 0..distributors {
            let status = self
                .post_order(
                    key,
                    &format!("o{n}"),
                    &format!("d{n}"),
                    date,
                    "100",
                    &format!("{}", 50 + n * 7),
                )
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CREATED);
        }
    }
}

/// lines.csv and summary.csv rebuilt from the API's statement of every distributor.
pub async fn statements_as_files(
    server: &ServeProcess,
    key: &str,
    run_id: &str,
    distributors_csv: &str,
) -> (String, String) {
    let mut ids: Vec<&str> = distributors_csv
        .lines()
        .skip(1)
        .map(|row| row.split(',').next().unwrap())
        .collect();
    ids.sort_unstable();
    let statements: Vec<Value> = futures_util::stream::iter(&ids)
        .map(|id| async move {
            let path = format!("/v1/runs/{run_id}/statements/{id}");
            server
                .expect(Method::GET, &path, key, None, StatusCode::OK)
                .await
        })
        .buffered(32)
        .collect()
        .await;
    let mut lines = String::from("recipient,bonus,source,level,base,rate,amount\n");
    let columns = [
        "active",
        "rank",
        "pv",
        "gv",
        "left",
        "right",
        "unilevel",
        "matrix",
        "binary",
        "matching",
        "fast_start",
        "rank_advancement",
        "pool",
        "total",
    ];
    let mut summary = format!("id,{}\n", columns.join(","));
    for statement in &statements {
        let id = statement["distributor_id"].as_str().unwrap();
        for line in statement["lines"].as_array().unwrap() {
            lines.push_str(&format!(
                "{id},{},{},{},{},{},{}\n",
                line["bonus"].as_str().unwrap(),
                line["source"].as_str().unwrap(),
                line["level"],
                line["base"].as_str().unwrap(),
                line["rate"].as_str().unwrap(),
                line["amount"].as_str().unwrap()
            ));
        }
        let cells: Vec<&str> = columns
            .iter()
            .map(|column| statement["summary"][column].as_str().unwrap())
            .collect();
        summary.push_str(&format!("{id},{}\n", cells.join(",")));
    }
    (lines, summary)
}
