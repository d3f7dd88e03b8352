//! The OpenAPI document, generated from the same declarations that route the requests.

use crate::state::AppState;
use axum::response::IntoResponse;
use axum::Json;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "Upline API", description = "Network-marketing platform: tenants, genealogy, orders, commission runs, wallets."),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerSchemes),
    tags(
        (name = "admin", description = "Platform admin: tenants and API keys"),
        (name = "distributors", description = "Enrollment, profiles, bulk import"),
        (name = "genealogy", description = "Upline, downline, statistics, rank progress"),
        (name = "orders", description = "Orders under Idempotency-Key, refunds"),
        (name = "runs", description = "Commission runs and statements"),
        (name = "wallets", description = "Wallets, withdrawals, the ledger"),
    )
)]
struct ApiDoc;

/// `admin`: the platform admin token; `api_key`: a tenant API key. Both as `Authorization: Bearer`.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["admin", "api_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Every `/v1` route with its documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::tenants::router())
        .merge(crate::distributors::router())
        .merge(crate::genealogy::router())
        .merge(crate::orders::router())
        .merge(crate::runs::router())
        .merge(crate::wallets::router())
}

/// The document, for snapshot tests and tools.
pub fn document() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}

pub async fn serve_document(document: Arc<utoipa::openapi::OpenApi>) -> impl IntoResponse {
    Json(serde_json::to_value(&*document).expect("the document serializes"))
}
