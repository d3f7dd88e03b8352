//! Job leases (`job_leases`): one row per job, its holder written with a TTL that each
//! renewal restarts, changed only by lightweight transactions. The row lapses by the
//! cluster's clock, never a reader's: a holder that dies leaves a row that disappears, and the
//! next taker's `INSERT … IF NOT EXISTS` applies. A holder counts on its lease only for the
//! TTL from when it sent the renewal, which is before the node wrote it (see `LeaseStore`).

use super::cql::{self, prepare};
use super::ScyllaStore;
use crate::error::StoreResult;
use crate::traits::{lease_seconds, LeaseStore};
use async_trait::async_trait;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use std::time::Duration;

pub(super) struct JobLeaseStatements {
    take: PreparedStatement,
    renew: PreparedStatement,
    release: PreparedStatement,
}

impl JobLeaseStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        Ok(JobLeaseStatements {
            take: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.job_leases (job, holder) VALUES (?, ?) \
                     IF NOT EXISTS USING TTL ?"
                ),
                false,
            )
            .await?,
            renew: prepare(
                session,
                format!(
                    "UPDATE {regional}.job_leases USING TTL ? SET holder = ? WHERE job = ? \
                     IF holder = ?"
                ),
                false,
            )
            .await?,
            release: prepare(
                session,
                format!("DELETE FROM {regional}.job_leases WHERE job = ? IF holder = ?"),
                false,
            )
            .await?,
        })
    }
}

#[async_trait]
impl LeaseStore for ScyllaStore {
    async fn hold_lease(&self, job: &str, holder: &str, valid_for: Duration) -> StoreResult<bool> {
        let ttl = lease_seconds(valid_for) as i32;
        let statements = &self.job_leases;
        if cql::conditional(&self.session, &statements.renew, (ttl, holder, job, holder)).await? {
            return Ok(true);
        }
        cql::conditional(&self.session, &statements.take, (job, holder, ttl)).await
    }

    async fn release_lease(&self, job: &str, holder: &str) -> StoreResult<()> {
        cql::conditional(&self.session, &self.job_leases.release, (job, holder))
            .await
            .map(|_| ())
    }
}
