//! The platform admin's routes: tenants and their API keys.

use crate::auth::{new_api_key, sha256_hex, Admin};
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::json::JsonBody;
use crate::runtime::{runtime_for_new_tenant, take_up_plan, tenant_runtime};
use crate::state::{now_ms, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{ApiKey, CloseSchedule, PeriodKind, Store, Tenant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(close_tenant))
        .routes(routes!(replace_plan))
        .routes(routes!(plan_version))
        .routes(routes!(create_api_key))
        .routes(routes!(revoke_api_key))
}

/// A new tenant: its id and name, its compensation plan and, optionally, its home region and
/// scheduled closes.
// The example: a plan with two ranks, a compressed unilevel paid deeper to the higher rank and
// a fast-start bonus. A test creates a tenant from the copy in
// `/openapi.json`, so the example cannot drift from what the API accepts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "acme-wellness",
    "name": "Acme Wellness",
    "plan": {
        "name": "acme-2027",
        "currency": "USD",
        "currency_decimals": 2,
        "activity": { "min_pv": 100 },
        "ranks": [
            { "name": "Member", "unilevel_levels": 2 },
            { "name": "Bronze", "min_pv": 100, "min_gv": 1000, "max_leg_share": 0.6, "unilevel_levels": 4 }
        ],
        "bonuses": {
            "unilevel": { "levels": [0.1, 0.05, 0.03, 0.02], "compression": true },
            "fast_start": { "pct": 0.2, "window_days": 30 }
        }
    },
    "closes": { "every": "month", "after_hours": 72 }
}))]
pub struct NewTenant {
    /// `[a-z0-9-]{1,40}`, starting with a letter or digit.
    pub id: String,
    pub name: String,
    /// The compensation plan (COMP_PLAN_SPEC.md §2) as a JSON object. Its numbers are JSON
    /// numbers (a string is refused, naming the field), read exactly from their digits, never
    /// through binary floating point: `0.1` is one tenth.
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
    /// The region that keeps the tenant's genealogy and runs its commissions, when it is not
    /// this endpoint's: this region then keeps only the distributors residing here (their
    /// personal data, orders and wallets) and enrolls them through the home region. Omitted:
    /// the tenant is at home here.
    #[serde(default)]
    pub home_region: Option<String>,
    /// When the workers close the tenant's periods on their own (closed, committed and posted).
    /// Omitted: periods are closed through `POST /v1/runs` only.
    #[serde(default)]
    pub closes: Option<CloseScheduleView>,
}

/// A tenant's scheduled closes.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CloseScheduleView {
    /// `month` (calendar months) or `week` (ISO weeks).
    pub every: PeriodKindView,
    /// Hours after the period's last day ends (midnight UTC) before it is closed, so that late
    /// orders and refunds dated in it count; at most 2160 (90 days). Default 0.
    #[serde(default)]
    pub after_hours: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKindView {
    Month,
    Week,
}

/// The longest wait after a period's end a schedule may ask for.
const AFTER_HOURS_MAX: u32 = 2160;

impl From<CloseScheduleView> for CloseSchedule {
    fn from(view: CloseScheduleView) -> CloseSchedule {
        CloseSchedule {
            every: match view.every {
                PeriodKindView::Month => PeriodKind::Month,
                PeriodKindView::Week => PeriodKind::Week,
            },
            after_hours: view.after_hours,
        }
    }
}

impl From<CloseSchedule> for CloseScheduleView {
    fn from(schedule: CloseSchedule) -> CloseScheduleView {
        CloseScheduleView {
            every: match schedule.every {
                PeriodKind::Month => PeriodKindView::Month,
                PeriodKind::Week => PeriodKindView::Week,
            },
            after_hours: schedule.after_hours,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub plan_version: u32,
    /// Present when the tenant is at home in another region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    /// Present when the workers close the tenant's periods on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes: Option<CloseScheduleView>,
}

impl TenantView {
    fn of(tenant: &Tenant, currency: &str) -> TenantView {
        TenantView {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            currency: currency.to_owned(),
            plan_version: tenant.plan_version,
            home_region: tenant.home_region.clone(),
            closes: tenant.closes.map(CloseScheduleView::from),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NewApiKeyView {
    pub key_id: String,
    /// The key itself: shown this once, stored only as a hash.
    pub key: String,
}

/// Checks a tenant id: it becomes part of every key of the tenant's data.
pub fn check_tenant_id(id: &str) -> ApiResult<()> {
    let valid = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !id.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "id",
            "must be 1 to 40 of a-z, 0-9 and '-', not starting with '-'",
        ))
    }
}

/// Create a tenant with its compensation plan.
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", request_body = NewTenant,
    responses((status = 201, body = TenantView), (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn create_tenant(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(new): JsonBody<NewTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    check_tenant_id(&new.id)?;
    if new.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    if let Some(home) = &new.home_region {
        crate::distributors::check_region_name("home_region", home)?;
    }
    // The record names its home whenever this process has a region: in a deployment spanning
    // several regions, every region reads it.
    let home_region = new.home_region.or(state.region().map(str::to_owned));
    let at_home_here = home_region.as_deref() == state.region() || home_region.is_none();
    if let Some(closes) = &new.closes {
        if closes.after_hours > AFTER_HOURS_MAX {
            return Err(ApiError::invalid(
                "closes.after_hours",
                format!("at most {AFTER_HOURS_MAX} (90 days)"),
            ));
        }
        if let (false, Some(home)) = (at_home_here, &home_region) {
            return Err(ApiError::invalid(
                "closes",
                format!("the periods of a tenant at home in {home} are closed there: omit closes"),
            ));
        }
    }
    let tenant = Tenant {
        id: new.id,
        name: new.name,
        plan: new.plan,
        plan_version: 1,
        created_at_ms: now_ms(),
        home_region,
        closes: new.closes.map(CloseSchedule::from),
    };
    let runtime = runtime_for_new_tenant(
        state.store().clone(),
        tenant.clone().seen_from(state.region()),
    )?;
    state.store().create_tenant(tenant.clone()).await?;
    let view = TenantView::of(&runtime.tenant, &runtime.plan.currency);
    state.add_tenant(runtime);
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the tenants.
#[utoipa::path(get, path = "/v1/tenants", tag = "admin", responses((status = 200, body = Vec<TenantView>)), security(("admin" = [])))]
async fn list_tenants(_: Admin, State(state): State<AppState>) -> ApiResult<Json<Vec<TenantView>>> {
    let tenants = state.store().tenants().await?;
    let views = tenants
        .iter()
        .filter_map(|tenant| {
            state
                .tenant(&tenant.id)
                .map(|runtime| TenantView::of(&runtime.tenant, &runtime.plan.currency))
        })
        .collect();
    Ok(Json(views))
}

/// What closing a tenant did in this region.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClosedTenantView {
    pub id: String,
    /// Distributors whose personal data (name, email, country) was erased now; 0 when a
    /// close is asked again.
    pub profiles_erased: u64,
}

/// Close a tenant for good. It is served no more (its API keys are revoked, its id is not
/// given again) and the personal data of its distributors kept in this region is erased. Its
/// pseudonymous genealogy, orders, runs, statements and ledger stay stored: they are the
/// records of the commissions it paid. Asking again finishes a close that was interrupted.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}", tag = "admin",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = ClosedTenantView), (status = 404, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn close_tenant(
    _: Admin,
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<ClosedTenantView>> {
    // Closed in the store first: from then on no process loads it again, whatever a crash
    // interrupts; a request still holding the runtime finishes.
    if !state.store().close_tenant(&tenant_id, now_ms()).await? {
        return Err(ApiError::NotFound(format!("tenant {tenant_id:?}")));
    }
    state.remove_tenant(&tenant_id);
    state.api_keys().forget_tenant(&tenant_id);
    // On a task of its own: a client that stops waiting (a timeout) does not cut the erasure
    // short; asking again finds what is left.
    let erasure = tokio::spawn(erase_profiles(state.store().clone(), tenant_id.clone()));
    let profiles_erased = erasure
        .await
        .map_err(|error| ApiError::Internal(format!("erasing the profiles: {error}")))??;
    Ok(Json(ClosedTenantView {
        id: tenant_id,
        profiles_erased,
    }))
}

/// Distributors looked at per erasure page: one transaction of the embedded store; a few
/// dozen buckets of ScyllaDB's profiles tables.
const ERASURE_PAGE: usize = 2_000;

/// Erases the personal data of every distributor of the tenant, a page at a time; returns
/// how many profiles held any.
async fn erase_profiles(store: Arc<dyn Store>, tenant_id: String) -> ApiResult<u64> {
    let mut erased = 0;
    let mut from: Option<String> = None;
    loop {
        let page = store
            .erase_profiles(&tenant_id, from.as_deref(), ERASURE_PAGE)
            .await?;
        erased += page.erased;
        match page.next {
            Some(next) => from = Some(next),
            None => return Ok(erased),
        }
    }
}

/// A new version of a tenant's plan.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// The version this plan replaces: the tenant's `plan_version` as last read. A change
    /// based on an older version is refused (409), so that two writers never undo each other.
    pub replaces_version: u32,
    /// The compensation plan (COMP_PLAN_SPEC.md §2). It keeps the tenant's currency, its
    /// decimals and its genealogy's placement (binary, matrix of one width, or none).
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
}

/// Give a tenant a new version of its plan. Periods closed from now on are paid by it; runs
/// already made keep the version they name (a restatement pays by it too), and every version
/// stays readable. Sending the current plan again changes nothing.
#[utoipa::path(put, path = "/v1/tenants/{tenant_id}/plan", tag = "admin", request_body = PlanChange,
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = TenantView), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn replace_plan(
    _: Admin,
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    JsonBody(change): JsonBody<PlanChange>,
) -> ApiResult<Json<TenantView>> {
    let runtime = tenant_runtime(&state, &tenant_id)
        .await
        .map_err(ApiError::Internal)?
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id:?}")))?;
    let record = state
        .store()
        .tenant(&tenant_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id:?}")))?;
    let runtime = take_up_plan(&state, runtime, record.clone())?;
    if change.plan == record.plan {
        // A retry of a change that was made, or no change at all.
        return Ok(Json(TenantView::of(
            &runtime.tenant,
            &runtime.plan.currency,
        )));
    }
    if change.replaces_version != record.plan_version {
        return Err(stale_version(&tenant_id, record.plan_version));
    }
    // Compiled and checked before anything is stored: a plan the engine refuses, or one that
    // changes what a version must keep, changes nothing. Installed once the store took it.
    let replaced = Tenant {
        plan: change.plan,
        plan_version: record.plan_version + 1,
        ..record
    };
    let successor =
        crate::runtime::with_new_plan(&runtime, replaced.clone().seen_from(state.region()))?;
    if !state
        .store()
        .replace_plan(&tenant_id, record.plan_version, replaced.plan)
        .await?
    {
        return Err(stale_version(&tenant_id, record.plan_version + 1));
    }
    let runtime = state.add_tenant_if_newer(successor);
    Ok(Json(TenantView::of(
        &runtime.tenant,
        &runtime.plan.currency,
    )))
}

fn stale_version(tenant_id: &str, version: u32) -> ApiError {
    ApiError::Conflict(format!(
        "tenant {tenant_id:?} has plan version {version} (or later) now: read it and base the change on it (replaces_version)"
    ))
}

/// Read one version of a tenant's plan: the current one, or one a newer version replaced
/// (the runs it paid name it).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/plans/{version}", tag = "admin",
    params(("tenant_id" = String, Path), ("version" = u32, Path)),
    responses((status = 200, body = Object), (status = 404, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn plan_version(
    _: Admin,
    State(state): State<AppState>,
    Path((tenant_id, version)): Path<(String, u32)>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .store()
        .tenant_plan(&tenant_id, version)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!("plan version {version} of tenant {tenant_id:?}"))
        })
}

/// Create an API key for a tenant; the answer is the only time the key is shown.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/api-keys", tag = "admin",
    params(("tenant_id" = String, Path)),
    responses((status = 201, body = NewApiKeyView), (status = 404, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn create_api_key(
    _: Admin,
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
) -> ApiResult<(StatusCode, Json<NewApiKeyView>)> {
    if state.tenant(&tenant_id).is_none() {
        return Err(ApiError::NotFound(format!("tenant {tenant_id:?}")));
    }
    let (key_id, key) = new_api_key();
    let api_key = ApiKey {
        key_id: key_id.clone(),
        tenant_id,
        secret_sha256: sha256_hex(key.as_bytes()),
        created_at_ms: now_ms(),
        revoked: false,
    };
    state.store().create_api_key(api_key).await?;
    Ok((StatusCode::CREATED, Json(NewApiKeyView { key_id, key })))
}

/// Revoke a tenant's API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/api-keys/{key_id}", tag = "admin",
    params(("tenant_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)),
    security(("admin" = [])))]
async fn revoke_api_key(
    _: Admin,
    State(state): State<AppState>,
    Path((tenant_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if state.store().revoke_api_key(&tenant_id, &key_id).await? {
        state.api_keys().forget(&tenant_id, &key_id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("api key {key_id:?}")))
    }
}
