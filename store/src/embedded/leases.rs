//! Job leases, expiring by this process's clock (the embedded store has one process).

use super::codec::key;
use super::tables::LEASES;
use super::{get_in, put_in, EmbeddedStore};
use crate::error::StoreResult;
use crate::traits::{lease_seconds, LeaseStore};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
struct Lease {
    holder: String,
    /// Milliseconds since the Unix epoch.
    expires_at_ms: i64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

#[async_trait]
impl LeaseStore for EmbeddedStore {
    async fn hold_lease(&self, job: &str, holder: &str, valid_for: Duration) -> StoreResult<bool> {
        let (lease_key, holder) = (key(&[job]), holder.to_owned());
        let valid_for_ms = i64::from(lease_seconds(valid_for)) * 1000;
        self.writer
            .write(move |context| {
                let now = now_ms();
                if let Some(lease) = get_in::<Lease>(context, LEASES, &lease_key)? {
                    if lease.holder != holder && lease.expires_at_ms > now {
                        return Ok(false);
                    }
                }
                let lease = Lease {
                    holder,
                    expires_at_ms: now + valid_for_ms,
                };
                put_in(context, LEASES, &lease_key, &lease)?;
                Ok(true)
            })
            .await
    }

    async fn release_lease(&self, job: &str, holder: &str) -> StoreResult<()> {
        let (lease_key, holder) = (key(&[job]), holder.to_owned());
        self.writer
            .write(move |context| {
                if let Some(lease) = get_in::<Lease>(context, LEASES, &lease_key)? {
                    if lease.holder == holder {
                        context
                            .table(LEASES)?
                            .remove(lease_key.as_slice())
                            .map_err(super::writer::backend)?;
                    }
                }
                Ok(())
            })
            .await
    }
}
