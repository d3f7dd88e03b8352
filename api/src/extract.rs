//! Path and query extractors whose rejections are problems: axum's own answer a parameter
//! that does not parse with a plain-text 400, and every error of this API is an RFC 7807
//! problem naming the part of the request at fault ([`crate::json::JsonBody`] does the same
//! for bodies).

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Like `axum::extract::Path`; a segment that does not parse answers 422 naming `path`.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::invalid("path", rejection.body_text()))
    }
}

/// Like `axum::extract::Query`; a query string that does not parse (or lacks a required
/// parameter) answers 422 naming `query`.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| ApiError::invalid("query", rejection.body_text()))
    }
}
