//! The platform's admin API, as the operator uses it to provision tenants: `POST /v1/tenants`,
//! API keys, the tenant's plan and its runs. Each region answers at its in-cluster Service
//! unless an override names another address (an operator running outside the cluster).

use crate::crd::Region;
use crate::error::{Error, Result};
use crate::region::objects::api_endpoint;
use kube::ResourceExt;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct PlatformAccess {
    http: reqwest::Client,
    overrides: BTreeMap<String, String>,
}

/// One region's API with the admin token.
pub struct RegionApi<'a> {
    http: &'a reqwest::Client,
    region: String,
    pub base: String,
    token: String,
}

/// What creating something found.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Now,
    AlreadyThere,
}

#[derive(Deserialize)]
pub struct NewApiKey {
    pub key_id: String,
    pub key: String,
}

#[derive(Deserialize)]
pub struct RunSummary {
    pub status: String,
    pub plan_version: u32,
}

/// What giving a tenant a new plan version came to.
#[derive(Debug, PartialEq, Eq)]
pub enum PlanGiven {
    /// The record is paid by the plan now, as this platform version (the same one when the
    /// record had the plan already).
    Paid(u32),
    /// The platform refuses the plan for this tenant (it would change the currency, say): why.
    Refused(String),
}

#[derive(Deserialize)]
pub struct TenantRecord {
    pub id: String,
    pub plan_version: u32,
}

impl PlatformAccess {
    /// `overrides`: region name → base URL (`http://127.0.0.1:8080`).
    pub fn new(overrides: BTreeMap<String, String>) -> PlatformAccess {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client without TLS settings builds");
        PlatformAccess { http, overrides }
    }

    pub fn region<'a>(&'a self, region: &Region, token: String) -> RegionApi<'a> {
        let name = region.name_any();
        let base = self
            .overrides
            .get(&name)
            .cloned()
            .unwrap_or_else(|| api_endpoint(region));
        RegionApi {
            http: &self.http,
            region: name,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }
}

impl RegionApi<'_> {
    fn failure(&self, message: String) -> Error {
        Error::Platform {
            region: self.region.clone(),
            message,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(StatusCode, Value)> {
        let response = request
            .send()
            .await
            .map_err(|error| self.failure(format!("{what}: {error}")))?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    fn problem(&self, what: &str, status: StatusCode, body: &Value) -> Error {
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string());
        self.failure(format!("{what}: {status}: {detail}"))
    }

    /// `POST /v1/tenants`; an existing tenant of that id is `AlreadyThere`.
    pub async fn create_tenant(&self, body: &Value) -> Result<Created> {
        let request = self
            .http
            .post(format!("{}/v1/tenants", self.base))
            .bearer_auth(&self.token)
            .json(body);
        match self.send(request, "creating the tenant").await? {
            (status, _) if status == StatusCode::CREATED => Ok(Created::Now),
            (status, _) if status == StatusCode::CONFLICT => Ok(Created::AlreadyThere),
            (status, body) => Err(self.problem("creating the tenant", status, &body)),
        }
    }

    pub async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>> {
        let request = self
            .http
            .get(format!("{}/v1/tenants", self.base))
            .bearer_auth(&self.token);
        match self.send(request, "listing tenants").await? {
            (status, body) if status.is_success() => {
                let tenants: Vec<TenantRecord> = serde_json::from_value(body)
                    .map_err(|error| self.failure(format!("listing tenants: {error}")))?;
                Ok(tenants.into_iter().find(|tenant| tenant.id == tenant_id))
            }
            (status, body) => Err(self.problem("listing tenants", status, &body)),
        }
    }

    /// `PUT /v1/tenants/{id}/plan`: `plan` replaces version `replaces_version` of the record.
    /// A version made meanwhile by someone else is an error (the next pass reads it again).
    pub async fn give_plan(
        &self,
        tenant_id: &str,
        replaces_version: u32,
        plan: &Value,
    ) -> Result<PlanGiven> {
        let what = "giving the tenant its plan";
        let request = self
            .http
            .put(format!("{}/v1/tenants/{tenant_id}/plan", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "replaces_version": replaces_version, "plan": plan }));
        match self.send(request, what).await? {
            (status, body) if status.is_success() => body
                .get("plan_version")
                .and_then(Value::as_u64)
                .map(|version| PlanGiven::Paid(version as u32))
                .ok_or_else(|| self.failure(format!("{what}: no plan_version in {body}"))),
            (status, body) if status == StatusCode::UNPROCESSABLE_ENTITY => {
                let refusal = self.problem(what, status, &body);
                Ok(PlanGiven::Refused(refusal.to_string()))
            }
            (status, body) => Err(self.problem(what, status, &body)),
        }
    }

    pub async fn create_api_key(&self, tenant_id: &str) -> Result<NewApiKey> {
        let request = self
            .http
            .post(format!("{}/v1/tenants/{tenant_id}/api-keys", self.base))
            .bearer_auth(&self.token);
        match self.send(request, "creating an API key").await? {
            (status, body) if status.is_success() => serde_json::from_value(body)
                .map_err(|error| self.failure(format!("creating an API key: {error}"))),
            (status, body) => Err(self.problem("creating an API key", status, &body)),
        }
    }

    /// Revokes a key; a key already gone is fine.
    pub async fn revoke_api_key(&self, tenant_id: &str, key_id: &str) -> Result<()> {
        let request = self
            .http
            .delete(format!(
                "{}/v1/tenants/{tenant_id}/api-keys/{key_id}",
                self.base
            ))
            .bearer_auth(&self.token);
        match self.send(request, "revoking the API key").await? {
            (status, _) if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            (status, body) => Err(self.problem("revoking the API key", status, &body)),
        }
    }

    /// `DELETE /v1/tenants/{id}`: closes the tenant for good and erases its distributors'
    /// personal data in this region. Returns how many profiles were erased; a tenant the
    /// region does not have is nothing to do (0).
    pub async fn close_tenant(&self, tenant_id: &str) -> Result<u64> {
        let what = "closing the tenant";
        let request = self
            .http
            .delete(format!("{}/v1/tenants/{tenant_id}", self.base))
            .bearer_auth(&self.token);
        match self.send(request, what).await? {
            (status, body) if status.is_success() => Ok(body
                .get("profiles_erased")
                .and_then(Value::as_u64)
                .unwrap_or_default()),
            (status, _) if status == StatusCode::NOT_FOUND => Ok(0),
            (status, body) => Err(self.problem(what, status, &body)),
        }
    }

    /// The tenant's runs, read with the tenant's own API key.
    pub async fn runs(&self, api_key: &str) -> Result<Vec<RunSummary>> {
        let request = self
            .http
            .get(format!("{}/v1/runs", self.base))
            .bearer_auth(api_key);
        match self.send(request, "listing runs").await? {
            (status, body) if status.is_success() => {
                let runs = body.get("runs").cloned().unwrap_or(body);
                serde_json::from_value(runs)
                    .map_err(|error| self.failure(format!("listing runs: {error}")))
            }
            (status, body) => Err(self.problem("listing runs", status, &body)),
        }
    }
}
