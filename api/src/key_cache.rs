//! API keys already resolved, remembered briefly so that a request does not read the store to
//! learn who signed it.
//!
//! Only keys found valid are remembered, each for [`KEY_CACHE_TTL`]. A revocation through this
//! process forgets the key at once ([`KeyCache::forget`]), so "revoked" means "refused from the
//! next request" here; another process serving the same store refuses it within the TTL. The
//! cache is bounded: when full, it starts over (a stranger sending random keys cannot grow it,
//! since unknown keys are never remembered).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a resolved key is trusted without asking the store again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// The most keys remembered at once.
const KEY_CACHE_ENTRIES_MAX: usize = 10_000;

struct Resolved {
    tenant_id: String,
    key_id: String,
    resolved_at: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    by_secret_sha256: RwLock<HashMap<String, Resolved>>,
}

impl KeyCache {
    /// The tenant of the key with this digest, if it was resolved less than the TTL ago.
    pub fn tenant_of(&self, secret_sha256: &str) -> Option<String> {
        let entries = self.by_secret_sha256.read().expect("key cache lock");
        let resolved = entries.get(secret_sha256)?;
        (resolved.resolved_at.elapsed() < KEY_CACHE_TTL).then(|| resolved.tenant_id.clone())
    }

    /// Remembers a key the store has just confirmed valid.
    pub fn remember(&self, secret_sha256: String, tenant_id: String, key_id: String) {
        let mut entries = self.by_secret_sha256.write().expect("key cache lock");
        if entries.len() >= KEY_CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(
            secret_sha256,
            Resolved {
                tenant_id,
                key_id,
                resolved_at: Instant::now(),
            },
        );
    }

    /// Forgets a tenant's key (it was revoked).
    /// Forgets every key of a tenant (closed).
    pub fn forget_tenant(&self, tenant_id: &str) {
        self.by_secret_sha256
            .write()
            .expect("key cache lock")
            .retain(|_, resolved| resolved.tenant_id != tenant_id);
    }

    pub fn forget(&self, tenant_id: &str, key_id: &str) {
        self.by_secret_sha256
            .write()
            .expect("key cache lock")
            .retain(|_, resolved| !(resolved.tenant_id == tenant_id && resolved.key_id == key_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_valid_keys_and_forgets_revoked_ones() {
        let cache = KeyCache::default();
        assert_eq!(cache.tenant_of("digest-a"), None);
        cache.remember("digest-a".into(), "acme".into(), "k1".into());
        cache.remember("digest-b".into(), "acme".into(), "k2".into());
        assert_eq!(cache.tenant_of("digest-a").as_deref(), Some("acme"));
        cache.forget("acme", "k1");
        assert_eq!(cache.tenant_of("digest-a"), None);
        assert_eq!(cache.tenant_of("digest-b").as_deref(), Some("acme"));
    }

    #[test]
    fn stays_bounded() {
        let cache = KeyCache::default();
        for index in 0..KEY_CACHE_ENTRIES_MAX + 10 {
            cache.remember(
                format!("digest-{index}"),
                "acme".into(),
                format!("k{index}"),
            );
        }
        let held = cache.by_secret_sha256.read().unwrap().len();
        assert!(held <= KEY_CACHE_ENTRIES_MAX, "{held} keys held");
    }
}
