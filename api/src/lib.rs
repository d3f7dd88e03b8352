//! # Upline's HTTP API
//!
//! The service companies integrate with: tenants and API keys (platform admin), distributors
//! and their genealogy, orders, commission runs (preview → commit → post, restatements) and
//! wallets, as JSON under `/v1`, with `/openapi.json`, `/healthz`, `/readyz` and `/metrics`.
//!
//! Handlers validate at the edge into typed values and call the storage traits (`store`);
//! every tenant route resolves its API key to one tenant first ([`auth`]), so no handler can
//! reach another tenant's data. The genealogy is answered from an in-memory index per tenant
//! ([`directory`]), orders feed period volumes through the outbox ([`projector`]), and a
//! period close runs the engine on those volumes ([`runs`]).
//!
//! [`app`] builds the router (tests call it directly); [`server::serve`] runs it.

pub mod auth;
pub mod directory;
pub mod distributors;
pub mod enrollment;
pub mod error;
pub mod extract;
pub mod failpoint;
pub mod genealogy;
pub mod genealogy_follower;
pub mod genealogy_index;
pub mod import;
pub mod import_lines;
pub mod import_progress;
pub mod json;
pub mod key_cache;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod orders;
/// The periods an order counts in (kept in the store, which the workers share).
pub use store::periods;
pub mod projector;
pub mod rank_progress;
pub mod remote_enrollment;
pub mod residence;
pub mod runs;
pub mod runtime;
pub mod server;
pub mod state;
pub mod tenants;
pub mod wallets;

use axum::routing::get;
use axum::Router;
pub use state::AppState;

/// The whole service over `state`.
pub fn app(state: AppState) -> Router {
    let (api, document) = openapi::router().split_for_parts();
    let document = std::sync::Arc::new(document);
    let metrics = state.metrics().clone();
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || openapi::serve_document(document.clone())),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
        .route("/metrics", get(metrics::metrics_page))
        // Problems for what the router answers itself, too (after every route: axum applies
        // the 405 fallback to the routes registered before it).
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
        // Set here, not left to axum's default, so the limit the 413 problem names is the one
        // in force. The streaming bulk import is not held to it.
        .layer(axum::extract::DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::observe,
        ))
}
