//! Orders and idempotency keys.

use super::{order, unique_tenant};
use crate::model::*;
use crate::traits::Store;

fn new_order(key: &str, body: &str, order: Order) -> NewOrder {
    NewOrder {
        idempotency_key: key.into(),
        request_sha256: body.into(),
        order,
    }
}

pub async fn an_idempotency_key_replays_its_first_answer(store: &dyn Store) {
    let t = unique_tenant("idem");
    let first = order("o1", "d1", 1_000_000, 500_000);
    let created = store
        .create_order(&t, new_order("k1", "body-1", first.clone()))
        .await
        .unwrap();
    assert_eq!(created, OrderOutcome::Created(first.clone()));
    let mut later = first.clone();
    later.created_at_ms = 99;
    let replayed = store
        .create_order(&t, new_order("k1", "body-1", later))
        .await
        .unwrap();
    assert_eq!(replayed, OrderOutcome::Replayed(first.clone()));
    let other_body = store
        .create_order(&t, new_order("k1", "body-2", order("o2", "d1", 1, 1)))
        .await
        .unwrap();
    assert_eq!(other_body, OrderOutcome::KeyReusedWithAnotherBody);
    assert_eq!(store.order(&t, "o2").await.unwrap(), None);
    assert_eq!(store.orders(&t).await.unwrap(), vec![first]);
}

pub async fn concurrent_requests_with_one_key_make_one_order(store: &dyn Store) {
    let t = unique_tenant("idem-race");
    // Different bodies under one key, all at once: the first body wins, the rest are refused.
    let bodies = (0..12).map(|at| {
        let request = new_order(
            "k",
            &format!("body-{at}"),
            order(&format!("o{at}"), "d1", 1, 1),
        );
        store.create_order(&t, request)
    });
    let outcomes = futures_util::future::join_all(bodies).await;
    let created: Vec<Order> = outcomes
        .iter()
        .filter_map(|outcome| match outcome.as_ref().unwrap() {
            OrderOutcome::Created(order) => Some(order.clone()),
            OrderOutcome::KeyReusedWithAnotherBody => None,
            other => panic!("a request under a reused key answered {other:?}"),
        })
        .collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    assert_eq!(store.orders(&t).await.unwrap(), created);
    // One body, all at once: one creation, the rest replay it.
    let same =
        (0..8).map(|_| store.create_order(&t, new_order("k2", "b", order("p1", "d1", 1, 1))));
    let outcomes = futures_util::future::join_all(same).await;
    let created = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(OrderOutcome::Created(_))))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(OrderOutcome::Replayed(_))))
        .count();
    assert_eq!((created, replayed), (1, 7), "{outcomes:?}");
    assert_eq!(store.orders(&t).await.unwrap().len(), 2);
}

pub async fn an_order_id_is_taken_once(store: &dyn Store) {
    let t = unique_tenant("order-id");
    let first = order("o1", "d1", 1, 1);
    store
        .create_order(&t, new_order("k1", "b1", first.clone()))
        .await
        .unwrap();
    let again = store
        .create_order(&t, new_order("k2", "b2", order("o1", "d2", 5, 5)))
        .await
        .unwrap();
    assert_eq!(again, OrderOutcome::OrderIdTaken);
    assert_eq!(store.order(&t, "o1").await.unwrap(), Some(first));
}

pub async fn a_refund_happens_once(store: &dyn Store) {
    let t = unique_tenant("refund");
    store
        .create_order(&t, new_order("k1", "b1", order("o1", "d1", 1, 1)))
        .await
        .unwrap();
    let RefundOutcome::Refunded(refunded) = store.refund_order(&t, "o1").await.unwrap() else {
        panic!("the first refund must refund");
    };
    assert_eq!(refunded.status, OrderStatus::Refunded);
    assert_eq!(
        store.refund_order(&t, "o1").await.unwrap(),
        RefundOutcome::AlreadyRefunded(refunded.clone())
    );
    assert_eq!(
        store.refund_order(&t, "o9").await.unwrap(),
        RefundOutcome::NotFound
    );
    assert_eq!(store.order(&t, "o1").await.unwrap(), Some(refunded));
}

pub async fn an_import_creates_new_orders_with_their_volumes(store: &dyn Store) {
    let t = unique_tenant("import");
    store
        .create_order(&t, new_order("k0", "b0", order("o0", "d1", 1, 1)))
        .await
        .unwrap();
    let delta = |order_id: &str, pv: i64| VolumeDelta {
        sequence: 0,
        order_id: order_id.into(),
        kind: VolumeEventKind::Paid,
        distributor_id: "d1".into(),
        periods: vec!["2026-11".into()],
        day: 100,
        pv,
        cv: pv,
    };
    let orders = vec![
        new_order("k2", "b2", order("o2", "d1", 20, 20)),
        new_order("k1", "b1", order("o1", "d1", 10, 10)),
        new_order("k9", "b9", order("o0", "d1", 99, 99)), // the id is taken: skipped
    ];
    let deltas = vec![delta("o1", 10), delta("o2", 20), delta("o0", 99)];
    assert_eq!(
        store
            .import_orders(&t, orders.clone(), deltas.clone())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.import_orders(&t, orders, deltas).await.unwrap(),
        0,
        "a retried import created again"
    );
    let volumes = store.period_volumes(&t, "2026-11").await.unwrap();
    assert_eq!(volumes[0].1.pv, 30, "only the created orders' volume, once");
    let replay = store
        .create_order(&t, new_order("k1", "b1", order("o1", "d1", 10, 10)))
        .await
        .unwrap();
    assert!(matches!(replay, OrderOutcome::Replayed(_)), "{replay:?}");
}
