//! Enrollments sent by the endpoints of other regions.
//!
//! A tenant's genealogy has one authority: its home region. A distributor residing in another
//! region enrolls through that region's endpoint, which keeps their profile and sends the home
//! region only what the genealogy needs — the pseudonymous id, the sponsor, the placement, the
//! date and the residence region — as a request (`upline serve --nats` answers them on the
//! region's enroll subject). The home region places the distributor through the tenant's
//! enrollment queue like any other enrollment and answers with the placed record, or with the
//! problem that refused it.
//!
//! The request type has no profile field and refuses unknown fields, so personal data sent by
//! mistake is refused rather than stored in the home region. A retried request (its answer was
//! lost) finds the distributor enrolled with the same sponsor, date and residence and gets the
//! same answer: retrying is safe.

use crate::distributors::{enrollment_request, DistributorView, NewDistributor, PlacementBody};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RemoteEnrollment {
    pub tenant_id: String,
    pub id: String,
    #[serde(default)]
    pub sponsor_id: Option<String>,
    #[serde(default)]
    pub placement: Option<PlacementBody>,
    /// `YYYY-MM-DD`, fixed by the residence endpoint so that a retry is the same request.
    pub joined_on: String,
    /// The region that keeps the distributor's personal data and orders.
    pub residence_region: String,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub enum RemoteEnrollmentAnswer {
    Enrolled(DistributorView),
    Refused(Problem),
}

/// Answers one request (JSON in, JSON out).
pub async fn answer(state: &AppState, request: &[u8]) -> Vec<u8> {
    let outcome = match serde_json::from_slice::<RemoteEnrollment>(request) {
        Ok(request) => enroll(state, request).await,
        Err(error) => Err(ApiError::invalid("request", error.to_string())),
    };
    let answer = match outcome {
        Ok(view) => RemoteEnrollmentAnswer::Enrolled(view),
        Err(error) => RemoteEnrollmentAnswer::Refused(error.problem()),
    };
    serde_json::to_vec(&answer).expect("answers serialize")
}

async fn enroll(state: &AppState, request: RemoteEnrollment) -> ApiResult<DistributorView> {
    let tenant = state
        .tenant(&request.tenant_id)
        .ok_or_else(|| ApiError::NotFound(format!("tenant {:?}", request.tenant_id)))?;
    let body = NewDistributor {
        id: request.id.clone(),
        sponsor_id: request.sponsor_id.clone(),
        placement: request.placement,
        joined_on: Some(request.joined_on.clone()),
        profile: None,
        residence_region: Some(request.residence_region.clone()),
    };
    // The residence is the asking region's, which need not be one of this store's: the store
    // keeps no profile for them (it refuses one it would have to keep).
    let enrollment = enrollment_request(&tenant, body, None)?;
    let shape = tenant.directory.read().expect("directory lock").shape();
    let outcome = tenant.enrollments.enroll(enrollment).await;
    state
        .metrics()
        .enrollments
        .with_label_values(&[if outcome.is_ok() {
            "enrolled"
        } else {
            "refused"
        }])
        .inc();
    match outcome {
        Ok(distributor) => Ok(DistributorView::of(&distributor, shape)),
        Err(ApiError::Conflict(message)) => {
            let stored = state
                .store()
                .distributor(&request.tenant_id, &request.id)
                .await?;
            match stored {
                Some(stored)
                    if stored.sponsor_id == request.sponsor_id
                        && stored.joined_on == request.joined_on
                        && stored.residence_region.as_deref()
                            == Some(request.residence_region.as_str()) =>
                {
                    Ok(DistributorView::of(&stored, shape))
                }
                _ => Err(ApiError::Conflict(message)),
            }
        }
        Err(error) => Err(error),
    }
}
