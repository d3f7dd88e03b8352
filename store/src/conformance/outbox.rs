//! The outbox.

use super::{distributor, order, unique_tenant};
use crate::model::*;
use crate::traits::Store;

pub async fn events_come_with_their_changes_and_leave_when_acknowledged(store: &dyn Store) {
    let t = unique_tenant("outbox");
    store
        .enroll(&t, vec![distributor("root", 0, None)])
        .await
        .unwrap();
    let new_order = NewOrder {
        idempotency_key: "k".into(),
        request_sha256: "b".into(),
        order: order("o1", "root", 1, 1),
    };
    store.create_order(&t, new_order.clone()).await.unwrap();
    store.create_order(&t, new_order).await.unwrap(); // a replay makes no event
    store.refund_order(&t, "o1").await.unwrap();
    let mine = |events: Vec<OutboxEvent>| -> Vec<OutboxEvent> {
        events
            .into_iter()
            .filter(|event| event.tenant_id == t)
            .collect()
    };
    let events = mine(store.pending_events(0, usize::MAX).await.unwrap());
    let kinds: Vec<_> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["distributor.enrolled", "order.created", "order.refunded"]
    );
    assert!(events
        .windows(2)
        .all(|pair| pair[0].sequence < pair[1].sequence));
    assert_eq!(events[1].payload["order_id"], "o1");
    let after_first = mine(
        store
            .pending_events(events[0].sequence, usize::MAX)
            .await
            .unwrap(),
    );
    assert_eq!(after_first, events[1..]);
    store
        .acknowledge_events(events.iter().map(|event| event.sequence).collect())
        .await
        .unwrap();
    assert!(mine(store.pending_events(0, usize::MAX).await.unwrap()).is_empty());
}
