//! Period volumes: one row per (tenant, period, distributor), bucketed by distributor, each
//! changed by a compare-and-set on its `revision`.

use super::cql::{self, bucket, prepare, to_bigint};
use super::ScyllaStore;
use crate::error::StoreResult;
use crate::model::{PeriodVolume, VolumeDelta};
use crate::traits::VolumeStore;
use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct VolumeStatements {
    select: PreparedStatement,
    select_bucket: PreparedStatement,
    insert: PreparedStatement,
    update: PreparedStatement,
    pub(super) insert_period: PreparedStatement,
    select_periods: PreparedStatement,
}

/// Records changed at once.
const RECORDS_IN_FLIGHT: usize = 64;

type VolumeRow = (
    Option<i64>,
    Option<i64>,
    Option<Vec<(i32, i64)>>,
    Option<i64>,
    Option<BTreeSet<String>>,
    Option<i64>,
);

impl VolumeStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        Ok(VolumeStatements {
            select: prepare(
                session,
                format!(
                    "SELECT pv, cv, cv_by_day, applied_through, imported, revision FROM {regional}.period_volumes \
                     WHERE tenant_id = ? AND period = ? AND bucket = ? AND distributor_id = ?"
                ),
                true,
            )
            .await?,
            select_bucket: prepare(
                session,
                format!(
                    "SELECT distributor_id, pv, cv, cv_by_day, applied_through FROM {regional}.period_volumes \
                     WHERE tenant_id = ? AND period = ? AND bucket = ?"
                ),
                true,
            )
            .await?,
            insert: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.period_volumes \
                     (pv, cv, cv_by_day, applied_through, imported, revision, tenant_id, period, bucket, distributor_id) \
                     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            update: prepare(
                session,
                format!(
                    "UPDATE {regional}.period_volumes SET pv = ?, cv = ?, cv_by_day = ?, applied_through = ?, \
                     imported = ?, revision = ? \
                     WHERE tenant_id = ? AND period = ? AND bucket = ? AND distributor_id = ? IF revision = ?"
                ),
                false,
            )
            .await?,
            insert_period: prepare(
                session,
                format!("INSERT INTO {regional}.volume_periods (tenant_id, period) VALUES (?, ?)"),
                true,
            )
            .await?,
            select_periods: prepare(
                session,
                format!("SELECT period FROM {regional}.volume_periods WHERE tenant_id = ?"),
                true,
            )
            .await?,
        })
    }
}

/// Where deltas come from, which decides how a repeat is recognised.
#[derive(Clone, Copy)]
enum DeltaSource {
    /// Order events: skip what the record has applied (`applied_through`), then raise it.
    Events,
    /// A bulk import: skip orders the record has imported (`imported`), then add them.
    Import,
}

/// One record's stored state.
struct Record {
    volume: PeriodVolume,
    imported: BTreeSet<String>,
    revision: Option<i64>,
}

impl ScyllaStore {
    pub(super) async fn apply_imported_volumes(
        &self,
        tenant_id: &str,
        deltas: Vec<VolumeDelta>,
    ) -> StoreResult<u64> {
        self.apply(tenant_id, deltas, DeltaSource::Import).await
    }

    async fn apply(
        &self,
        tenant_id: &str,
        deltas: Vec<VolumeDelta>,
        source: DeltaSource,
    ) -> StoreResult<u64> {
        let mut by_record: BTreeMap<(&str, &str), Vec<&VolumeDelta>> = BTreeMap::new();
        for delta in &deltas {
            for period in &delta.periods {
                by_record
                    .entry((period.as_str(), delta.distributor_id.as_str()))
                    .or_default()
                    .push(delta);
            }
        }
        let periods: BTreeSet<&str> = by_record.keys().map(|(period, _)| *period).collect();
        for period in periods {
            cql::execute(
                &self.session,
                &self.volumes.insert_period,
                (tenant_id, period),
            )
            .await?;
        }
        // Futures made up front (see `import_orders`).
        let changes: Vec<_> = by_record
            .into_iter()
            .map(|((period, distributor_id), mut record_deltas)| async move {
                record_deltas.sort_by_key(|delta| delta.sequence);
                self.apply_to_record(tenant_id, period, distributor_id, &record_deltas, source)
                    .await
            })
            .collect();
        let changed: Vec<u64> = futures_util::stream::iter(changes)
            .buffer_unordered(RECORDS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(changed.into_iter().sum())
    }

    /// Read, add, compare-and-set; again from the read if another writer came first.
    async fn apply_to_record(
        &self,
        tenant_id: &str,
        period: &str,
        distributor_id: &str,
        deltas: &[&VolumeDelta],
        source: DeltaSource,
    ) -> StoreResult<u64> {
        let bucket = bucket(distributor_id);
        loop {
            let mut record = self
                .read_record(tenant_id, period, bucket, distributor_id)
                .await?;
            let mut changed = 0;
            for delta in deltas {
                match source {
                    DeltaSource::Events => {
                        if delta.sequence <= record.volume.applied_through {
                            continue;
                        }
                        record.volume.applied_through = delta.sequence;
                    }
                    DeltaSource::Import => {
                        if !record.imported.insert(delta.order_id.clone()) {
                            continue;
                        }
                    }
                }
                record.volume.add(delta);
                changed += 1;
            }
            if changed == 0 {
                return Ok(0);
            }
            let volume = &record.volume;
            let values = (
                volume.pv,
                volume.cv,
                &volume.cv_by_day,
                to_bigint(volume.applied_through),
                &record.imported,
            );
            let key = (tenant_id, period, bucket, distributor_id);
            let applied = match record.revision {
                None => {
                    cql::conditional(
                        &self.session,
                        &self.volumes.insert,
                        (
                            values.0, values.1, values.2, values.3, values.4, key.0, key.1, key.2,
                            key.3,
                        ),
                    )
                    .await?
                }
                Some(revision) => {
                    cql::conditional(
                        &self.session,
                        &self.volumes.update,
                        (
                            values.0,
                            values.1,
                            values.2,
                            values.3,
                            values.4,
                            revision + 1,
                            key.0,
                            key.1,
                            key.2,
                            key.3,
                            revision,
                        ),
                    )
                    .await?
                }
            };
            if applied {
                return Ok(changed);
            }
        }
    }

    async fn read_record(
        &self,
        tenant_id: &str,
        period: &str,
        bucket: i16,
        distributor_id: &str,
    ) -> StoreResult<Record> {
        let row: Option<VolumeRow> = cql::maybe_row(
            &self.session,
            &self.volumes.select,
            (tenant_id, period, bucket, distributor_id),
        )
        .await?;
        Ok(match row {
            None => Record {
                volume: PeriodVolume::default(),
                imported: BTreeSet::new(),
                revision: None,
            },
            Some((pv, cv, cv_by_day, applied_through, imported, revision)) => Record {
                volume: PeriodVolume {
                    pv: pv.unwrap_or(0),
                    cv: cv.unwrap_or(0),
                    cv_by_day: cv_by_day.unwrap_or_default(),
                    applied_through: applied_through.unwrap_or(0) as u64,
                },
                imported: imported.unwrap_or_default(),
                revision: Some(revision.unwrap_or(0)),
            },
        })
    }
}

#[async_trait]
impl VolumeStore for ScyllaStore {
    async fn apply_volumes(&self, tenant_id: &str, deltas: Vec<VolumeDelta>) -> StoreResult<u64> {
        self.apply(tenant_id, deltas, DeltaSource::Events).await
    }

    async fn period_volumes(
        &self,
        tenant_id: &str,
        period: &str,
    ) -> StoreResult<Vec<(String, PeriodVolume)>> {
        type Row = (
            String,
            Option<i64>,
            Option<i64>,
            Option<Vec<(i32, i64)>>,
            Option<i64>,
        );
        let rows: Vec<Row> =
            cql::all_buckets(&self.session, &self.volumes.select_bucket, |bucket| {
                (tenant_id, period, bucket)
            })
            .await?;
        let mut volumes: Vec<(String, PeriodVolume)> = rows
            .into_iter()
            .map(|(id, pv, cv, cv_by_day, applied_through)| {
                let volume = PeriodVolume {
                    pv: pv.unwrap_or(0),
                    cv: cv.unwrap_or(0),
                    cv_by_day: cv_by_day.unwrap_or_default(),
                    applied_through: applied_through.unwrap_or(0) as u64,
                };
                (id, volume)
            })
            .collect();
        volumes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(volumes)
    }

    async fn volume_periods(&self, tenant_id: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> =
            cql::all_rows(&self.session, &self.volumes.select_periods, (tenant_id,)).await?;
        Ok(rows.into_iter().map(|(period,)| period).collect())
    }
}
