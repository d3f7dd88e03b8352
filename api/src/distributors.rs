//! Distributors: enroll (one, or a streamed bulk import), read, update the profile, terminate.

use crate::auth::TenantAccess;
use crate::directory::PlacementChoice;
use crate::enrollment::EnrollmentRequest;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::genealogy_index::PlacementShape;
use crate::json::JsonBody;
use crate::orders::check_id;
use crate::state::{now_ms, AppState, TenantRuntime};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{Distributor, DistributorStatus, Profile};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(get_distributor, update_profile))
        .routes(routes!(terminate))
        .routes(routes!(crate::import::import_distributors))
        .routes(routes!(crate::import::import_progress))
}

/// Where to place a new distributor: a rule, or an explicit parent and leg. Omitted: the plan's
/// natural rule (binary: `weak_leg`; matrix: `spillover`).
#[derive(Serialize, Deserialize, ToSchema, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PlacementBody {
    /// `outer_left`, `outer_right`, `weak_leg` (binary) or `spillover` (matrix).
    #[serde(default)]
    pub rule: Option<String>,
    /// With `leg`: place directly under this distributor.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// `L` or `R` (binary), or a slot `1..width` (matrix).
    #[serde(default)]
    pub leg: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewDistributor {
    pub id: String,
    /// The enroller; omitted only for the very first distributor (the company's root).
    #[serde(default)]
    pub sponsor_id: Option<String>,
    #[serde(default)]
    pub placement: Option<PlacementBody>,
    /// `YYYY-MM-DD`; today when omitted.
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub profile: Option<ProfileBody>,
    /// The region the distributor resides in: their personal data is kept in its keyspace.
    /// One of the deployment's regions; this endpoint's region when omitted. It cannot change
    /// later.
    #[serde(default)]
    pub residence_region: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// ISO 3166 alpha-2 country of residence.
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct PlacementView {
    pub parent_id: String,
    pub leg: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct DistributorView {
    pub id: String,
    pub sponsor_id: Option<String>,
    pub placement: Option<PlacementView>,
    pub joined_on: String,
    /// `active` or `terminated`.
    pub status: String,
    pub profile: ProfileView,
    /// Where the distributor's personal data is kept; absent: this endpoint's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_region: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct ProfileView {
    pub name: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
}

/// The leg as the spec writes it: `L`/`R` for binary, the slot number for a matrix.
pub fn leg_text(shape: PlacementShape, slot: u8) -> String {
    match (shape, slot) {
        (PlacementShape::Binary, 1) => "L".into(),
        (PlacementShape::Binary, 2) => "R".into(),
        (_, slot) => slot.to_string(),
    }
}

impl DistributorView {
    pub fn of(distributor: &Distributor, shape: PlacementShape) -> DistributorView {
        DistributorView {
            id: distributor.id.clone(),
            sponsor_id: distributor.sponsor_id.clone(),
            placement: distributor
                .placement
                .as_ref()
                .map(|placement| PlacementView {
                    parent_id: placement.parent_id.clone(),
                    leg: leg_text(shape, placement.slot),
                }),
            joined_on: distributor.joined_on.clone(),
            status: match distributor.status {
                DistributorStatus::Active => "active",
                DistributorStatus::Terminated => "terminated",
            }
            .into(),
            profile: ProfileView {
                name: distributor.profile.name.clone(),
                email: distributor.profile.email.clone(),
                country: distributor.profile.country.clone(),
            },
            residence_region: distributor.residence_region.clone(),
        }
    }
}

/// Reads a placement request against the plan's shape.
pub fn placement_choice(
    shape: PlacementShape,
    body: Option<PlacementBody>,
) -> ApiResult<PlacementChoice> {
    let Some(body) = body else {
        return Ok(PlacementChoice::Default);
    };
    match (body.rule.as_deref(), body.parent_id, body.leg) {
        (Some(rule), None, None) => match (rule, shape) {
            ("outer_left", PlacementShape::Binary) => Ok(PlacementChoice::OuterLeft),
            ("outer_right", PlacementShape::Binary) => Ok(PlacementChoice::OuterRight),
            ("weak_leg", PlacementShape::Binary) => Ok(PlacementChoice::WeakLeg),
            ("spillover", PlacementShape::Matrix { .. }) => Ok(PlacementChoice::Spillover),
            _ => Err(ApiError::invalid(
                "placement.rule",
                match shape {
                    PlacementShape::Binary => {
                        "must be outer_left, outer_right or weak_leg for a binary plan"
                    }
                    PlacementShape::Matrix { .. } => "must be spillover for a matrix plan",
                    PlacementShape::None => {
                        "this plan has no placement tree (no binary or matrix bonus)"
                    }
                },
            )),
        },
        (None, Some(parent_id), Some(leg)) => {
            check_id("placement.parent_id", &parent_id)?;
            let slot = match (shape, leg.as_str()) {
                (PlacementShape::Binary, "L") => 1,
                (PlacementShape::Binary, "R") => 2,
                (PlacementShape::Matrix { width }, slot) => slot
                    .parse::<u8>()
                    .ok()
                    .filter(|slot| (1..=width).contains(slot))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "placement.leg",
                            format!("must be a slot from 1 to {width}"),
                        )
                    })?,
                (PlacementShape::Binary, _) => {
                    return Err(ApiError::invalid("placement.leg", "must be L or R"))
                }
                (PlacementShape::None, _) => {
                    return Err(ApiError::invalid(
                        "placement",
                        "this plan has no placement tree (no binary or matrix bonus)",
                    ))
                }
            };
            Ok(PlacementChoice::At { parent_id, slot })
        }
        _ => Err(ApiError::invalid(
            "placement",
            "give either `rule`, or both `parent_id` and `leg`",
        )),
    }
}

pub fn profile_of(body: Option<ProfileBody>) -> ApiResult<Profile> {
    let body = body.unwrap_or_default();
    for (field, value) in [("profile.name", &body.name), ("profile.email", &body.email)] {
        if value
            .as_ref()
            .is_some_and(|text| text.len() > 256 || text.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(
                field,
                "must be at most 256 characters without control characters",
            ));
        }
    }
    if let Some(country) = &body.country {
        if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(ApiError::invalid(
                "profile.country",
                "must be an ISO 3166 alpha-2 code like \"DE\"",
            ));
        }
    }
    Ok(Profile {
        name: body.name,
        email: body.email,
        country: body.country,
    })
}

/// A residence region as the deployment knows it (`regions`: None when the store has none,
/// and any well-formed name is recorded).
fn residence_of(region: Option<String>, regions: Option<&[String]>) -> ApiResult<Option<String>> {
    let Some(region) = region else {
        return Ok(None);
    };
    check_region_name("residence_region", &region)?;
    if let Some(regions) = regions {
        if !regions.contains(&region) {
            return Err(ApiError::invalid(
                "residence_region",
                format!(
                    "unknown region {region:?}: this deployment has {}",
                    regions.join(", ")
                ),
            ));
        }
    }
    Ok(Some(region))
}

/// A region name: lowercase letters, digits and '-', as regions are named everywhere.
pub fn check_region_name(field: &str, region: &str) -> ApiResult<()> {
    let well_formed = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "must be a region name like \"eu-west\" (lowercase letters, digits and '-')",
        ))
    }
}

/// The enrollment date a request gives, or today.
pub fn joined_on_of(text: Option<&str>) -> ApiResult<engine::calendar::Day> {
    match text {
        Some(text) => engine::calendar::parse_date(text.as_bytes())
            .ok_or_else(|| ApiError::invalid("joined_on", "must be a date YYYY-MM-DD")),
        None => Ok(now_ms().div_euclid(86_400_000) as engine::calendar::Day),
    }
}

/// Checks a request's syntax and turns it into an enrollment for the queue; `regions`: the
/// store's residence regions.
pub fn enrollment_request(
    tenant: &TenantRuntime,
    body: NewDistributor,
    regions: Option<&[String]>,
) -> ApiResult<EnrollmentRequest> {
    check_id("id", &body.id)?;
    if let Some(sponsor_id) = &body.sponsor_id {
        check_id("sponsor_id", sponsor_id)?;
    }
    let joined_on = joined_on_of(body.joined_on.as_deref())?;
    let shape = tenant.directory.read().expect("directory lock").shape();
    Ok(EnrollmentRequest {
        id: body.id,
        sponsor_id: body.sponsor_id,
        placement: placement_choice(shape, body.placement)?,
        joined_on,
        profile: profile_of(body.profile)?,
        residence_region: residence_of(body.residence_region, regions)?,
        placed_at_home: None,
    })
}

/// Enroll a distributor under a sponsor, placed by an explicit position or a §6 rule.
#[utoipa::path(post, path = "/v1/distributors", tag = "distributors", request_body = NewDistributor,
    responses((status = 201, body = DistributorView), (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("api_key" = [])))]
async fn enroll(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewDistributor>,
) -> ApiResult<(StatusCode, Json<DistributorView>)> {
    let outcome = match tenant.tenant.home_region.clone() {
        Some(home) => crate::residence::enroll_through_home(&state, &tenant, &home, body).await,
        None => {
            let regions = state.store().residence_regions();
            let request = enrollment_request(&tenant, body, regions)?;
            tenant.enrollments.enroll(request).await
        }
    };
    let label = if outcome.is_ok() {
        "enrolled"
    } else {
        "refused"
    };
    state
        .metrics()
        .enrollments
        .with_label_values(&[label])
        .inc();
    let distributor = outcome?;
    Ok((
        StatusCode::CREATED,
        Json(crate::residence::view_of(&tenant, &distributor)),
    ))
}

fn view(
    tenant: &TenantRuntime,
    distributor: Option<Distributor>,
    id: &str,
) -> ApiResult<Json<DistributorView>> {
    distributor
        .map(|distributor| Json(crate::residence::view_of(tenant, &distributor)))
        .ok_or_else(|| ApiError::NotFound(format!("distributor {id:?}")))
}

/// Read a distributor.
#[utoipa::path(get, path = "/v1/distributors/{id}", tag = "distributors", params(("id" = String, Path)),
    responses((status = 200, body = DistributorView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn get_distributor(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DistributorView>> {
    let distributor = state.store().distributor(&tenant.tenant.id, &id).await?;
    view(&tenant, distributor, &id)
}

/// Replace a distributor's profile.
#[utoipa::path(patch, path = "/v1/distributors/{id}", tag = "distributors", params(("id" = String, Path)), request_body = ProfileBody,
    responses((status = 200, body = DistributorView), (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem, description = "The JSON body is over 2 MiB"), (status = 422, body = crate::error::Problem)),
    security(("api_key" = [])))]
async fn update_profile(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ProfileBody>,
) -> ApiResult<Json<DistributorView>> {
    let profile = profile_of(Some(body))?;
    let distributor = state
        .store()
        .update_profile(&tenant.tenant.id, &id, profile)
        .await?;
    view(&tenant, distributor, &id)
}

/// Terminate a distributor: they stay in the genealogy (their volume still counts) but are never paid again.
#[utoipa::path(post, path = "/v1/distributors/{id}/terminate", tag = "distributors", params(("id" = String, Path)),
    responses((status = 200, body = DistributorView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
async fn terminate(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DistributorView>> {
    let distributor = state.store().terminate(&tenant.tenant.id, &id).await?;
    view(&tenant, distributor, &id)
}
