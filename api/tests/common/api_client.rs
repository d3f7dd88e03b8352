//! A test client of the platform API: calls with a bearer token, answers checked against the
//! status expected, and the flows made of several calls (a tenant with its key, a run waited
//! for, committed and posted, a restatement awaited).
//!
//! Shared by the api crate's tests (a server in the test process) and the root crate's (`upline
//! serve` as a child process), which includes this file through `#[path]`.
#![allow(dead_code)]

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

pub struct ApiClient {
    /// `http://ADDRESS`, without a trailing slash.
    pub base: String,
    pub client: Client,
    /// The platform admin's token the server was started with.
    pub admin_token: &'static str,
}

impl ApiClient {
    pub fn new(base: String, admin_token: &'static str) -> ApiClient {
        ApiClient {
            base,
            client: Client::new(),
            admin_token,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// Calls and expects `status`; returns the JSON body (Null when empty).
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.call(method.clone(), path, token, body).await;
        let got = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Posts a bulk import of `body` (`POST /v1/distributors/import`), sent as `content_type`.
    pub async fn post_import(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(format!("{}/v1/distributors/import", self.base))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// A tenant with `plan`; returns its API key.
    pub async fn tenant(&self, id: &str, plan: Value) -> String {
        self.tenant_with(json!({ "id": id, "name": id, "plan": plan }))
            .await
    }

    /// A tenant created with `body` (its `id`, `plan` and any other field); returns its API key.
    pub async fn tenant_with(&self, body: Value) -> String {
        let id = body["id"].as_str().unwrap().to_owned();
        let admin = self.admin_token;
        self.expect(
            Method::POST,
            "/v1/tenants",
            admin,
            Some(body),
            StatusCode::CREATED,
        )
        .await;
        let path = format!("/v1/tenants/{id}/api-keys");
        let key = self
            .expect(Method::POST, &path, admin, None, StatusCode::CREATED)
            .await;
        key["key"].as_str().unwrap().to_owned()
    }

    /// Starts a run of `period` and waits for it; returns the run as it ended (`preview`, or
    /// `failed`).
    pub async fn run_period(&self, key: &str, period: &str) -> Value {
        let run = self
            .expect(
                Method::POST,
                "/v1/runs",
                key,
                Some(json!({ "period": period })),
                StatusCode::ACCEPTED,
            )
            .await;
        self.wait_run(key, run["run_id"].as_str().unwrap()).await
    }

    /// The run once it is no longer `running`.
    pub async fn wait_run(&self, key: &str, run_id: &str) -> Value {
        let path = format!("/v1/runs/{run_id}");
        loop {
            let run = self
                .expect(Method::GET, &path, key, None, StatusCode::OK)
                .await;
            if run["status"] != "running" {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Computes `period`, commits and posts it; returns the run as it ended (posted).
    pub async fn pay_period(&self, key: &str, period: &str) -> Value {
        let run = self.run_period(key, period).await;
        assert_eq!(run["status"], "preview", "{run}");
        self.commit_and_post(key, run["run_id"].as_str().unwrap())
            .await
    }

    /// Commits and posts a computed run; returns it as it ended.
    pub async fn commit_and_post(&self, key: &str, run_id: &str) -> Value {
        for step in ["commit", "post"] {
            let path = format!("/v1/runs/{run_id}/{step}");
            self.expect(Method::POST, &path, key, None, StatusCode::OK)
                .await;
        }
        self.wait_run(key, run_id).await
    }

    /// The posted run that restates `run_id`, once there is one (the refund that makes it is
    /// restated in the background). Gives up after a minute.
    pub async fn wait_for_restatement(&self, key: &str, run_id: &str) -> Value {
        for _ in 0..1200 {
            let runs = self
                .expect(Method::GET, "/v1/runs", key, None, StatusCode::OK)
                .await;
            if let Some(run) = runs
                .as_array()
                .unwrap()
                .iter()
                .find(|run| run["restates"] == run_id && run["status"] == "posted")
            {
                return run.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no restatement of {run_id} was posted");
    }
}
