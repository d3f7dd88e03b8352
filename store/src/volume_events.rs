//! The volume change an order event makes: shared by the in-process volume projector and the
//! workers that apply events from the bus, so both read an event the same way.

use crate::error::{StoreError, StoreResult};
use crate::model::{Order, OutboxEvent, VolumeDelta, VolumeEventKind};
use crate::periods::periods_of;

/// The event kinds that change period volumes.
pub fn changes_volumes(kind: &str) -> bool {
    matches!(kind, "order.created" | "order.refunded")
}

/// The volume change an event makes, if it is an order event; `Corrupt` names the event when
/// its payload is not an order.
pub fn volume_delta(event: &OutboxEvent) -> StoreResult<Option<VolumeDelta>> {
    let (kind, sign) = match event.kind.as_str() {
        "order.created" => (VolumeEventKind::Paid, 1),
        "order.refunded" => (VolumeEventKind::Refunded, -1),
        _ => return Ok(None),
    };
    let order: Order = serde_json::from_value(event.payload.clone()).map_err(|error| {
        StoreError::Corrupt(format!(
            "event {}: the payload is not an order: {error}",
            event.event_id()
        ))
    })?;
    let day = engine::calendar::parse_date(order.date.as_bytes()).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "event {}: bad order date {:?}",
            event.event_id(),
            order.date
        ))
    })?;
    Ok(Some(VolumeDelta {
        sequence: event.sequence,
        order_id: order.order_id,
        kind,
        distributor_id: order.distributor_id,
        periods: periods_of(day),
        day,
        pv: sign * order.pv,
        cv: sign * order.cv,
    }))
}
