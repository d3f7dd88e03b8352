//! The API's one error type and its RFC 7807 `application/problem+json` answer.
//!
//! A problem names the rule that was broken (`type`), says what happened in words a client can
//! act on (`detail`) and, for bad input, which field. Backend failures are logged and answered
//! with a bare 500: clients never see internals.

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: `field` names the offending part.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    /// No credential, or one that is unknown or revoked.
    #[error("a valid API key is required")]
    Unauthorized,
    /// The thing does not exist — or belongs to another tenant, which is the same to the caller.
    #[error("{0} not found")]
    NotFound(String),
    /// The route exists, but not with this method (the `Allow` header lists the methods).
    #[error("{method} is not allowed on {path}; the Allow header lists the methods it takes")]
    MethodNotAllowed { method: String, path: String },
    /// The body is longer than a request of this kind may be ([`crate::json::BODY_LIMIT_BYTES`]).
    #[error("the request body is larger than {limit_bytes} bytes; send less per request (many distributors at once go to the streaming POST /v1/distributors/import)")]
    BodyTooLarge { limit_bytes: usize },
    /// The request conflicts with the current state (an id in use, a run not in the right status).
    #[error("{0}")]
    Conflict(String),
    /// The same `Idempotency-Key` came with a different body.
    #[error("the Idempotency-Key was used before with a different request body")]
    IdempotencyKeyReused,
    /// An order for a distributor who resides in another region: their orders are kept in
    /// that region's keyspace, so an endpoint of that region takes them.
    #[error("distributor {distributor_id:?} resides in region {region:?}: their orders are kept there; place them through an endpoint of {region}")]
    ResidesElsewhere {
        distributor_id: String,
        region: String,
    },
    /// A tenant whose genealogy and runs are kept in another region (its home): this endpoint
    /// keeps only the distributors residing in its own region.
    #[error("tenant {tenant_id:?} is at home in region {region:?}: its genealogy and commission runs are served there")]
    HomeElsewhere { tenant_id: String, region: String },
    /// The tenant's home region refused a request this endpoint passed on: its problem as is.
    #[error("{}", .0.detail)]
    FromHome(Problem),
    /// A withdrawal larger than the balance.
    #[error("insufficient funds: the balance is {balance}")]
    InsufficientFunds { balance: String },
    /// The database could not answer now; nothing was acknowledged, and a retry with the same
    /// `Idempotency-Key` is safe. The details go to the log.
    #[error("the service is temporarily unavailable; retry in {RETRY_AFTER_SECONDS} s with the same Idempotency-Key")]
    Unavailable(String),
    /// The backend failed; the details go to the log, never to the client.
    #[error("internal error")]
    Internal(String),
}

/// What a 503 tells clients to wait before retrying (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u64 = 5;

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ResidesElsewhere { .. } => StatusCode::MISDIRECTED_REQUEST,
            ApiError::HomeElsewhere { .. } => StatusCode::MISDIRECTED_REQUEST,
            ApiError::FromHome(problem) => {
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::InsufficientFunds { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as an RFC 7807 document (what an HTTP answer carries, and a NATS reply).
    pub fn problem(&self) -> Problem {
        if let ApiError::FromHome(problem) = self {
            return problem.clone();
        }
        let status = self.status();
        let field = match self {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            ApiError::ResidesElsewhere { .. } => Some("distributor_id".to_owned()),
            ApiError::BodyTooLarge { .. } => Some("body".to_owned()),
            _ => None,
        };
        Problem {
            kind: format!("urn:upline:problem:{}", self.rule()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        }
    }

    fn rule(&self) -> &'static str {
        match self {
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::ResidesElsewhere { .. } => "resides_elsewhere",
            ApiError::HomeElsewhere { .. } => "home_elsewhere",
            ApiError::FromHome(_) => "from_home",
            ApiError::InsufficientFunds { .. } => "insufficient_funds",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { what } => ApiError::Conflict(format!("{what} already exists")),
            StoreError::Unavailable(details) => ApiError::Unavailable(details),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// An RFC 7807 problem document.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the broken rule: `urn:upline:problem:<rule>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, for invalid input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(details) => {
                tracing::error!(%details, "request failed in the backend")
            }
            ApiError::Unavailable(details) => {
                tracing::warn!(%details, "request refused: the database is unavailable")
            }
            _ => {}
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).expect("problems serialize");
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The router's answer to a path no route takes.
pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("route {method} {}", uri.path()))
}

/// The router's answer to a method a route does not take (axum adds the `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
