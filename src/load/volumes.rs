//! The period volumes a tenant's orders make, as the projector would have folded them: each
//! paid order counts in its calendar month and its ISO week; a refunded one counts nowhere.

use std::collections::BTreeMap;
use store::{Order, OrderStatus, PeriodVolume, VolumeDelta, VolumeEventKind};

/// Period → the volume of every distributor with paid orders in it, sorted by id.
pub fn period_volumes(
    orders: &[Order],
) -> Result<BTreeMap<String, Vec<(String, PeriodVolume)>>, String> {
    let mut by_period: BTreeMap<String, BTreeMap<&str, PeriodVolume>> = BTreeMap::new();
    for order in orders
        .iter()
        .filter(|order| order.status == OrderStatus::Paid)
    {
        let delta = paid(order)?;
        for period in &delta.periods {
            by_period
                .entry(period.clone())
                .or_default()
                .entry(order.distributor_id.as_str())
                .or_default()
                .add(&delta);
        }
    }
    Ok(by_period
        .into_iter()
        .map(|(period, volumes)| {
            let volumes = volumes
                .into_iter()
                .map(|(id, volume)| (id.to_owned(), volume))
                .collect();
            (period, volumes)
        })
        .collect())
}

/// The volume delta of a paid order (the shape the embedded store's import also takes).
pub fn paid(order: &Order) -> Result<VolumeDelta, String> {
    let day = engine::calendar::parse_date(order.date.as_bytes()).ok_or_else(|| {
        format!(
            "order {:?}: date {:?} is not YYYY-MM-DD",
            order.order_id, order.date
        )
    })?;
    Ok(VolumeDelta {
        sequence: 0,
        order_id: order.order_id.clone(),
        kind: VolumeEventKind::Paid,
        distributor_id: order.distributor_id.clone(),
        periods: api::periods::periods_of(day),
        day,
        pv: order.pv,
        cv: order.cv,
    })
}
