//! Tenants at home in another region, seen from a region where some of their distributors
//! reside.
//!
//! The home region keeps the tenant's genealogy and runs its commissions; this region keeps the
//! personal data, orders and wallets of the distributors residing here. So an enrollment here
//! is placed by the home region first — the request carries the id, the sponsor, the placement,
//! the date and this region's name, never the profile (`remote_enrollment`) — and then kept
//! here with the profile, under the sponsor and placement the home region gave. Orders for
//! residents are taken here, and reach the home region's volumes as events. Genealogy reads,
//! runs and imports are the home region's (421 with its name).

use crate::directory::{shape_of_plan, HOME_GENEALOGY};
use crate::distributors::{joined_on_of, profile_of, DistributorView, NewDistributor};
use crate::enrollment::EnrollmentRequest;
use crate::error::{ApiError, ApiResult};
use crate::orders::check_id;
use crate::remote_enrollment::{RemoteEnrollment, RemoteEnrollmentAnswer};
use crate::state::{AppState, TenantRuntime};
use async_trait::async_trait;
use store::{Distributor, Placement};

/// How a process reaches the enrollment service of a tenant's home region.
#[async_trait]
pub trait HomeLink: Send + Sync {
    /// Sends an enrollment request (JSON) to `home_region` and returns its answer (JSON);
    /// `Err` with the reason when no answer came (the link is down, nobody serves there).
    async fn enroll(&self, home_region: &str, request: Vec<u8>) -> Result<Vec<u8>, String>;
}

/// Enrolls a distributor residing in this region for a tenant at home in `home_region`.
pub async fn enroll_through_home(
    state: &AppState,
    tenant: &TenantRuntime,
    home_region: &str,
    body: NewDistributor,
) -> ApiResult<Distributor> {
    let region = state.region().ok_or_else(|| {
        ApiError::Internal(
            "a tenant at home in another region needs --region on this endpoint".into(),
        )
    })?;
    if let Some(asked) = body
        .residence_region
        .as_deref()
        .filter(|asked| *asked != region)
    {
        return Err(ApiError::invalid(
            "residence_region",
            format!("this endpoint keeps the distributors residing in {region}; enroll those residing in {asked} through an endpoint of {asked}"),
        ));
    }
    check_id("id", &body.id)?;
    if let Some(sponsor_id) = &body.sponsor_id {
        check_id("sponsor_id", sponsor_id)?;
    }
    let joined_on = joined_on_of(body.joined_on.as_deref())?;
    let profile = profile_of(body.profile)?;
    let request = RemoteEnrollment {
        tenant_id: tenant.tenant.id.clone(),
        id: body.id.clone(),
        sponsor_id: body.sponsor_id.clone(),
        placement: body.placement,
        joined_on: engine::calendar::format_date(joined_on),
        residence_region: region.to_owned(),
    };
    let placed = ask_home(state, home_region, &request).await?;
    let enrollment = EnrollmentRequest {
        id: body.id.clone(),
        sponsor_id: Some(HOME_GENEALOGY.to_owned()),
        placement: crate::directory::PlacementChoice::Default,
        joined_on,
        profile,
        residence_region: Some(region.to_owned()),
        placed_at_home: Some((placed.sponsor_id.clone(), placement_of(&placed))),
    };
    match tenant.enrollments.enroll(enrollment).await {
        Err(ApiError::Conflict(message)) => {
            // A retry after a lost answer: the home region answered as the first time, and the
            // record is kept here already.
            match state
                .store()
                .distributor(&tenant.tenant.id, &body.id)
                .await?
            {
                Some(stored) if stored.sponsor_id == placed.sponsor_id => Ok(stored),
                _ => Err(ApiError::Conflict(message)),
            }
        }
        outcome => outcome,
    }
}

/// The home region's answer: the distributor as placed there, or its refusal as is.
async fn ask_home(
    state: &AppState,
    home_region: &str,
    request: &RemoteEnrollment,
) -> ApiResult<DistributorView> {
    let link = state.home_link().ok_or_else(|| {
        ApiError::Unavailable(format!(
            "tenant {:?} is at home in {home_region}, and this endpoint has no link to it (start it with --nats)",
            request.tenant_id
        ))
    })?;
    let answer = link
        .enroll(
            home_region,
            serde_json::to_vec(request).expect("requests serialize"),
        )
        .await
        .map_err(|reason| {
            ApiError::Unavailable(format!(
                "the tenant's home region {home_region} does not answer ({reason}); nothing was enrolled, retry later"
            ))
        })?;
    match serde_json::from_slice(&answer) {
        Ok(RemoteEnrollmentAnswer::Enrolled(view)) => Ok(view),
        Ok(RemoteEnrollmentAnswer::Refused(problem)) => Err(ApiError::FromHome(problem)),
        Err(error) => Err(ApiError::Internal(format!(
            "the home region {home_region} answered what is not an enrollment answer: {error}"
        ))),
    }
}

/// The placement the home region gave, as a record keeps it (`L`/`R` or a slot number).
fn placement_of(view: &DistributorView) -> Option<Placement> {
    let placement = view.placement.as_ref()?;
    let slot = match placement.leg.as_str() {
        "L" => 1,
        "R" => 2,
        number => number.parse().ok()?,
    };
    Some(Placement {
        parent_id: placement.parent_id.clone(),
        slot,
    })
}

/// The view of a resident's record: legs named as the tenant's plan names them.
pub fn view_of(tenant: &TenantRuntime, distributor: &Distributor) -> DistributorView {
    DistributorView::of(distributor, shape_of_plan(&tenant.plan))
}
