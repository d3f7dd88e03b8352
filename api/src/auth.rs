//! Credentials: the platform admin token and tenant API keys.
//!
//! A key is `upk_<key id>_<secret>`, random, shown once; the store keeps only its SHA-256. Every
//! tenant route resolves the key to its tenant before anything else, so a handler can only ever
//! see its own tenant's data: another tenant's ids are simply not found.

use crate::error::ApiError;
use crate::state::{AppState, TenantRuntime};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A new API key: (key id, the whole secret key to show once).
pub fn new_api_key() -> (String, String) {
    let mut random = [0u8; 28];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let key_id = hex::encode(&random[..4]);
    let secret = hex::encode(&random[4..]);
    (key_id.clone(), format!("upk_{key_id}_{secret}"))
}

/// The bearer credential of a request, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

/// Compares two digests without an early exit (no timing hint about the admin token).
fn digests_equal(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The platform admin: holds the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        if digests_equal(&sha256_hex(token.as_bytes()), state.admin_token_sha256()) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// The tenant whose API key signed the request.
pub struct TenantAccess(pub Arc<TenantRuntime>);

impl FromRequestParts<AppState> for TenantAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let secret_sha256 = sha256_hex(key.as_bytes());
        let tenant_id = match state.api_keys().tenant_of(&secret_sha256) {
            Some(tenant_id) => tenant_id,
            None => {
                let stored = state.store().api_key_by_hash(&secret_sha256).await?;
                let api_key = stored
                    .filter(|api_key| !api_key.revoked)
                    .ok_or(ApiError::Unauthorized)?;
                state
                    .api_keys()
                    .remember(secret_sha256, api_key.tenant_id.clone(), api_key.key_id);
                api_key.tenant_id
            }
        };
        // A tenant another process created since this one started is loaded from the store.
        let tenant = crate::runtime::tenant_runtime(state, &tenant_id)
            .await
            .map_err(ApiError::Internal)?
            .ok_or(ApiError::Unauthorized)?;
        Ok(TenantAccess(tenant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_carry_their_id() {
        let (id_a, key_a) = new_api_key();
        let (_, key_b) = new_api_key();
        assert_ne!(key_a, key_b);
        assert!(key_a.starts_with(&format!("upk_{id_a}_")));
        assert_eq!(key_a.len(), 4 + 8 + 1 + 48);
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(digests_equal(&sha256_hex(b"a"), &sha256_hex(b"a")));
        assert!(!digests_equal(&sha256_hex(b"a"), &sha256_hex(b"b")));
        assert!(!digests_equal("ab", "abc"));
    }
}
