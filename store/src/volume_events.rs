//! The volume change an order event makes: shared by the in-process volume projector and the
//! workers that apply events from the bus, so both read an event the same way.

use crate::error::{StoreError, StoreResult};
use crate::model::{Order, OutboxEvent, VolumeDelta, VolumeEventKind};
use crate::periods::periods_of;
use serde::Deserialize as _;

/// The event kinds that change period volumes.
pub fn changes_volumes(kind: &str) -> bool {
    matches!(kind, "order.created" | "order.refunded")
}

/// The volume change an event makes, if it is an order event; `Corrupt` names the event when
/// its payload is not an order.
pub fn volume_delta(event: &OutboxEvent) -> StoreResult<Option<VolumeDelta>> {
    volume_delta_of(&event.kind, event.sequence, &event.event_id(), || {
        Order::deserialize(&event.payload)
    })
}

/// [`volume_delta`] for an event held in pieces (a worker reads it off the bus): the kind, the
/// outbox sequence, the event id for messages, and how to read the order from the payload
/// (called only for order events).
pub fn volume_delta_of(
    kind: &str,
    sequence: u64,
    event_id: &str,
    read_order: impl FnOnce() -> serde_json::Result<Order>,
) -> StoreResult<Option<VolumeDelta>> {
    let (kind, sign) = match kind {
        "order.created" => (VolumeEventKind::Paid, 1),
        "order.refunded" => (VolumeEventKind::Refunded, -1),
        _ => return Ok(None),
    };
    let order = read_order().map_err(|error| {
        StoreError::Corrupt(format!(
            "event {event_id}: the payload is not an order: {error}"
        ))
    })?;
    let day = engine::calendar::parse_date(order.date.as_bytes()).ok_or_else(|| {
        StoreError::Corrupt(format!("event {event_id}: bad order date {:?}", order.date))
    })?;
    Ok(Some(VolumeDelta {
        sequence,
        order_id: order.order_id,
        kind,
        distributor_id: order.distributor_id,
        periods: periods_of(day),
        day,
        pv: sign * order.pv,
        cv: sign * order.cv,
    }))
}
