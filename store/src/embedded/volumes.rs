//! Period volumes, applied from order events.

use super::codec::{key, prefix_range};
use super::tables::{VOLUMES, VOLUMES_APPLIED};
use super::writer::WriteContext;
use super::{backend, get_in, put_in, EmbeddedStore};
use crate::error::StoreResult;
use crate::model::{PeriodVolume, VolumeDelta, VolumeEventKind};
use crate::traits::VolumeStore;
use async_trait::async_trait;
use redb::ReadableDatabase as _;
use redb::ReadableTable;

#[async_trait]
impl VolumeStore for EmbeddedStore {
    async fn apply_volumes(&self, tenant_id: &str, deltas: Vec<VolumeDelta>) -> StoreResult<u64> {
        let tenant_id = tenant_id.to_owned();
        self.writer
            .write(move |context| apply_deltas(context, &tenant_id, &deltas))
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

/// Applies each delta not applied before to each of its periods; returns the (delta, period)
/// pairs changed. One marker per order event: its periods are applied together, so a
/// redelivered event is skipped in all of them (the embedded image of the per-period markers a
/// partitioned backend keeps).
pub(super) fn apply_deltas(
    context: &mut WriteContext<'_>,
    tenant_id: &str,
    deltas: &[VolumeDelta],
) -> StoreResult<u64> {
    let mut changed = 0;
    for delta in deltas {
        let kind = match delta.kind {
            VolumeEventKind::Paid => "paid",
            VolumeEventKind::Refunded => "refunded",
        };
        let applied_key = key(&[tenant_id, &delta.order_id, kind]);
        let applied = context.table(VOLUMES_APPLIED)?;
        if applied
            .get(applied_key.as_slice())
            .map_err(backend)?
            .is_some()
        {
            continue;
        }
        applied
            .insert(applied_key.as_slice(), [].as_slice())
            .map_err(backend)?;
        for period in &delta.periods {
            let volume_key = key(&[tenant_id, period, &delta.distributor_id]);
            let mut volume: PeriodVolume =
                get_in(context, VOLUMES, &volume_key)?.unwrap_or_default();
            add(&mut volume, delta);
            put_in(context, VOLUMES, &volume_key, &volume)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Adds a (signed) delta to a period volume, keeping `cv_by_day` sorted and free of zero days.
fn add(volume: &mut PeriodVolume, delta: &VolumeDelta) {
    volume.pv += delta.pv;
    volume.cv += delta.cv;
    match volume
        .cv_by_day
        .binary_search_by_key(&delta.day, |&(day, _)| day)
    {
        Ok(at) => {
            volume.cv_by_day[at].1 += delta.cv;
            if volume.cv_by_day[at].1 == 0 {
                volume.cv_by_day.remove(at);
            }
        }
        Err(at) if delta.cv != 0 => volume.cv_by_day.insert(at, (delta.day, delta.cv)),
        Err(_) => {}
    }
}
