//! Period volumes, applied from order events.

use super::codec::{key, prefix_range};
use super::tables::VOLUMES;
use super::writer::WriteContext;
use super::{backend, get_in, put_in, EmbeddedStore};
use crate::error::StoreResult;
use crate::model::{PeriodVolume, VolumeDelta};
use crate::traits::VolumeStore;
use async_trait::async_trait;
use redb::ReadableDatabase as _;
use std::collections::BTreeMap;

#[async_trait]
impl VolumeStore for EmbeddedStore {
    async fn apply_volumes(&self, tenant_id: &str, deltas: Vec<VolumeDelta>) -> StoreResult<u64> {
        let tenant_id = tenant_id.to_owned();
        self.writer
            .write(move |context| apply_deltas(context, &tenant_id, &deltas, DeltaSource::Events))
            .await
    }

    async fn period_volumes(
        &self,
        tenant_id: &str,
        period: &str,
    ) -> StoreResult<Vec<(String, PeriodVolume)>> {
        self.scan(VOLUMES, &[tenant_id, period]).await
    }

    async fn volume_periods(&self, tenant_id: &str) -> StoreResult<Vec<String>> {
        // Jump from period to period: after each one found, seek past its last possible key.
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(VOLUMES).map_err(backend)?;
        let (mut from, end) = prefix_range(&[tenant_id]);
        let mut periods = Vec::new();
        loop {
            let next = table
                .range(from.as_slice()..end.as_slice())
                .map_err(backend)?
                .next();
            let Some(entry) = next else { break };
            let (found, _) = entry.map_err(backend)?;
            let rest = &found.value()[tenant_id.len() + 1..];
            let period_end = rest
                .iter()
                .position(|&byte| byte == 0)
                .unwrap_or(rest.len());
            let period = String::from_utf8_lossy(&rest[..period_end]).into_owned();
            from = prefix_range(&[tenant_id, &period]).1;
            periods.push(period);
        }
        Ok(periods)
    }
}

/// Where deltas come from, which decides how replays are recognised.
pub(super) enum DeltaSource {
    /// Order events: skip what a record has applied already (its `applied_through`), then
    /// raise it.
    Events,
    /// A bulk import, outside the event stream (it recognises its own retries by order id):
    /// apply every delta and leave the watermark alone.
    Import,
}

/// Applies the deltas to each of their periods, reading and writing each record once (in key
/// order: a B-tree copies the pages a transaction touches, so neighbours share the copies);
/// returns the (delta, period) pairs changed.
pub(super) fn apply_deltas(
    context: &mut WriteContext<'_>,
    tenant_id: &str,
    deltas: &[VolumeDelta],
    source: DeltaSource,
) -> StoreResult<u64> {
    let mut by_record: BTreeMap<Vec<u8>, Vec<&VolumeDelta>> = BTreeMap::new();
    for delta in deltas {
        for period in &delta.periods {
            by_record
                .entry(key(&[tenant_id, period, &delta.distributor_id]))
                .or_default()
                .push(delta);
        }
    }
    let mut changed = 0;
    for (volume_key, mut record_deltas) in by_record {
        record_deltas.sort_by_key(|delta| delta.sequence);
        let mut volume: PeriodVolume = get_in(context, VOLUMES, &volume_key)?.unwrap_or_default();
        let mut changed_here = 0;
        for delta in record_deltas {
            if let DeltaSource::Events = source {
                if delta.sequence <= volume.applied_through {
                    continue;
                }
                volume.applied_through = delta.sequence;
            }
            volume.add(delta);
            changed_here += 1;
        }
        if changed_here > 0 {
            put_in(context, VOLUMES, &volume_key, &volume)?;
            changed += changed_here;
        }
    }
    Ok(changed)
}
