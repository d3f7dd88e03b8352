//! Bulk loading of a new tenant (`upline load`): plain upserts, no lightweight transactions
//! and no events, grouped by partition into unlogged batches with a bounded number in flight.
//!
//! Only for a tenant that is not served yet: nothing else writes its rows while it loads, so
//! the conditions the serving paths need (one claim per id, compare-and-set on versions) have
//! nothing to guard against. Every row is a deterministic function of the input, so a load
//! that was interrupted is simply run again: the rows already there are written with the
//! same values. The rows are written as the serving paths would have left them (version
//! columns included), so the tenant is served from them like any other.

use super::cql::{bucket, execution_error, prepare, to_cql_date, unset_if_none};
use super::profiles::{profile_values, ProfileWrite};
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{Distributor, Order, PeriodVolume};
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use std::collections::BTreeMap;
use std::time::Duration;

/// Rows per batch: all of one partition, so the batch is one mutation on one replica set;
/// about 15 KB at the widest rows, well inside the servers' batch size limits (Cassandra
/// fails batches above 50 KB by default).
const ROWS_PER_BATCH: usize = 100;
/// Batches in flight: enough to keep every core of the cluster busy, few enough that the
/// servers' queues stay short (timeouts would only make the load retry).
const BATCHES_IN_FLIGHT: usize = 48;
/// Attempts of one batch before the load gives up (it can then be run again).
const ATTEMPTS: u32 = 6;

pub(super) struct BulkStatements {
    distributor: PreparedStatement,
    order: PreparedStatement,
    volume: PreparedStatement,
}

impl BulkStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        Ok(BulkStatements {
            // `event_sequence` 0: the row's version, as the compare-and-set of a later change
            // expects it (a null would never compare equal).
            distributor: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.distributors (tenant_id, bucket, distributor_id, node, \
                     sponsor_id, placement_parent_id, placement_slot, joined_on, status, \
                     residence_region, event_sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
                ),
                true,
            )
            .await?,
            // An imported order: no event, no idempotency key row (its key is the loader's). Its
            // own statement, not the claim's without `IF NOT EXISTS`: the claim writes the event
            // sequences as nulls, and a null is a tombstone per cell, 6 million in a 3M load.
            order: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.orders (tenant_id, bucket, order_id, distributor_id, \
                     order_date, pv, cv, status, created_at_ms, idempotency_key, imported) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true)"
                ),
                true,
            )
            .await?,
            // Revision 1, as the first compare-and-set would have left it.
            volume: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.period_volumes (tenant_id, period, bucket, distributor_id, \
                     pv, cv, cv_by_day, applied_through, revision) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1)"
                ),
                true,
            )
            .await?,
        })
    }
}

/// Called with the number of rows each batch wrote, once it is written.
pub type RowsWritten<'p> = &'p (dyn Fn(u64) + Sync);

impl ScyllaStore {
    /// Writes a new tenant's distributors as enrollments would have: the genealogy rows here,
    /// each profile in its residence region (at write timestamp 0, the version of a loaded row,
    /// so any later change wins).
    pub async fn load_distributors(
        &self,
        tenant_id: &str,
        distributors: &[Distributor],
        progress: RowsWritten<'_>,
    ) -> StoreResult<()> {
        let mut rows = Vec::with_capacity(distributors.len());
        for distributor in distributors {
            let placement = distributor.placement.as_ref();
            let partition = bucket(&distributor.id);
            rows.push((
                partition,
                (
                    tenant_id,
                    partition,
                    &distributor.id,
                    distributor.node as i32,
                    unset_if_none(distributor.sponsor_id.as_ref()),
                    unset_if_none(placement.map(|placement| &placement.parent_id)),
                    unset_if_none(placement.map(|placement| placement.slot as i8)),
                    to_cql_date("joined_on", &distributor.joined_on)?,
                    distributor.status.as_str(),
                    unset_if_none(distributor.residence_region.as_ref()),
                ),
            ));
        }
        self.write_batched(&self.bulk.distributor, rows, progress)
            .await?;
        let mut by_region: BTreeMap<&str, (&PreparedStatement, Vec<_>)> = BTreeMap::new();
        for distributor in distributors {
            let Some((region, upsert)) = self.profiles.upsert_for(distributor)? else {
                continue; // kept outside this deployment, where they reside
            };
            by_region
                .entry(region)
                .or_insert_with(|| (upsert, Vec::new()))
                .1
                .push((
                    bucket(&distributor.id),
                    profile_values(tenant_id, distributor, 0, ProfileWrite::First),
                ));
        }
        for (upsert, rows) in by_region.into_values() {
            // Profiles are not counted: progress is in distributors.
            self.write_batched(upsert, rows, &|_| {}).await?;
        }
        Ok(())
    }

    /// Writes a new tenant's orders as an import would have; `idempotency_key(order)` is the
    /// key each is recorded under.
    pub async fn load_orders(
        &self,
        tenant_id: &str,
        orders: &[Order],
        idempotency_key: impl Fn(&Order) -> String,
        progress: RowsWritten<'_>,
    ) -> StoreResult<()> {
        let mut rows = Vec::with_capacity(orders.len());
        for order in orders {
            let partition = bucket(&order.order_id);
            rows.push((
                partition,
                (
                    tenant_id,
                    partition,
                    &order.order_id,
                    &order.distributor_id,
                    to_cql_date("date", &order.date)?,
                    order.pv,
                    order.cv,
                    order.status.as_str(),
                    order.created_at_ms,
                    idempotency_key(order),
                ),
            ));
        }
        self.write_batched(&self.bulk.order, rows, progress).await
    }

    /// Writes a new tenant's volumes of one period (and lists the period).
    pub async fn load_volumes(
        &self,
        tenant_id: &str,
        period: &str,
        volumes: &[(String, PeriodVolume)],
        progress: RowsWritten<'_>,
    ) -> StoreResult<()> {
        super::cql::execute(
            &self.session,
            &self.volumes.insert_period,
            (tenant_id, period),
        )
        .await?;
        let rows = volumes
            .iter()
            .map(|(distributor_id, volume)| {
                let partition = bucket(distributor_id);
                (
                    partition,
                    (
                        tenant_id,
                        period,
                        partition,
                        distributor_id,
                        volume.pv,
                        volume.cv,
                        &volume.cv_by_day,
                    ),
                )
            })
            .collect();
        self.write_batched(&self.bulk.volume, rows, progress).await
    }

    /// Writes `rows` (each with its partition's bucket) in batches of one partition each.
    async fn write_batched<V: SerializeRow + Sync>(
        &self,
        statement: &PreparedStatement,
        mut rows: Vec<(i16, V)>,
        progress: RowsWritten<'_>,
    ) -> StoreResult<()> {
        rows.sort_by_key(|(partition, _)| *partition);
        let mut batches: Vec<&[(i16, V)]> = Vec::new();
        for partition in rows.chunk_by(|a, b| a.0 == b.0) {
            batches.extend(partition.chunks(ROWS_PER_BATCH));
        }
        let full = batch_of(statement, ROWS_PER_BATCH);
        // Futures made up front (see `import_orders`).
        let writes: Vec<_> = batches
            .into_iter()
            .map(|chunk| {
                let full = &full;
                async move {
                    let values: Vec<&V> = chunk.iter().map(|(_, values)| values).collect();
                    let partial;
                    let batch = if chunk.len() == ROWS_PER_BATCH {
                        full
                    } else {
                        partial = batch_of(statement, chunk.len());
                        &partial
                    };
                    self.write_batch(statement, batch, &values).await?;
                    progress(chunk.len() as u64);
                    StoreResult::Ok(())
                }
            })
            .collect();
        futures_util::stream::iter(writes)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One batch, tried again on a failure the cluster may recover from (it is idempotent).
    async fn write_batch<V: SerializeRow>(
        &self,
        statement: &PreparedStatement,
        batch: &Batch,
        values: &[&V],
    ) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.session.batch(batch, values).await {
                Ok(_) => return Ok(()),
                Err(error) => execution_error(statement, error),
            };
            if attempt == ATTEMPTS || !matches!(error, StoreError::Unavailable(_)) {
                return Err(error);
            }
            tracing::debug!(%error, attempt, "a bulk batch failed; trying it again");
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
}

fn batch_of(statement: &PreparedStatement, rows: usize) -> Batch {
    let mut batch = Batch::new(BatchType::Unlogged);
    for _ in 0..rows {
        batch.append_statement(statement.clone());
    }
    batch.set_is_idempotent(true);
    // Routed as the statement is (another region's rows through its datacenter).
    batch.set_execution_profile_handle(statement.get_execution_profile_handle().cloned());
    batch
}
