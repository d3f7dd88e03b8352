//! JSON request bodies whose errors name the field at fault.

use crate::error::ApiError;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but a body that does not fit answers 422 naming the field path
/// (`placement.slot: invalid type ...`), as problem+json.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(refused_body)?;
        parse(&bytes).map(JsonBody)
    }
}

/// The most a JSON body may hold (the router sets it for every buffered body; the bulk
/// import streams its body and is not held to it).
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// A body that could not be read: too long is 413 (the client must send less, not fix a
/// field); anything else (a broken stream) is 422 naming `body`.
fn refused_body(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::BodyTooLarge {
            limit_bytes: BODY_LIMIT_BYTES,
        }
    } else {
        ApiError::invalid("body", rejection.body_text())
    }
}

/// Parses a JSON document, naming the path of the first problem.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::invalid(field, error.into_inner().to_string())
    })
}
