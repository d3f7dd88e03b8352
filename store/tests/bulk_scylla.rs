//! The ScyllaDB bulk load on the real Cassandra node: a load run twice (as after an
//! interruption) leaves exactly the rows of one, read back through the storage traits; and the
//! serving paths work on the loaded rows as on their own (a profile change, a refund, an order
//! id taken, a volume delta on a loaded record).

use store::scylla::{testing, ScyllaStore};
use store::{
    Distributor, DistributorStatus, DistributorStore, NewOrder, Order, OrderOutcome, OrderStatus,
    OrderStore, PeriodVolume, Placement, Profile, RefundOutcome, VolumeDelta, VolumeEventKind,
    VolumeStore,
};

const TENANT: &str = "bulk";
const PEOPLE: usize = 1_500;

fn distributors() -> Vec<Distributor> {
    (0..PEOPLE)
        .map(|node| Distributor {
            id: format!("d{node:05}"),
            node: node as u32,
            sponsor_id: (node > 0).then(|| format!("d{:05}", (node - 1) / 3)),
            placement: (node > 0).then(|| Placement {
                parent_id: format!("d{:05}", (node - 1) / 2),
                slot: 1 + ((node - 1) % 2) as u8,
            }),
            joined_on: format!("2026-{:02}-{:02}", 1 + node % 11, 1 + node % 28),
            status: if node % 17 == 5 {
                DistributorStatus::Terminated
            } else {
                DistributorStatus::Active
            },
            profile: Profile::default(),
            residence_region: None,
        })
        .collect()
}

fn orders() -> Vec<Order> {
    (0..3 * PEOPLE)
        .map(|at| Order {
            order_id: format!("o{at:06}"),
            distributor_id: format!("d{:05}", (at * 7) % PEOPLE),
            date: format!("2026-11-{:02}", 1 + at % 30),
            pv: 100_000 * (1 + at as i64 % 5),
            cv: 90_000 * (1 + at as i64 % 5),
            status: if at % 31 == 0 {
                OrderStatus::Refunded
            } else {
                OrderStatus::Paid
            },
            created_at_ms: 1_790_000_000_000 + at as i64,
        })
        .collect()
}

/// The volumes of one distributor per id, as the loader folds them.
fn volumes(orders: &[Order]) -> Vec<(String, PeriodVolume)> {
    let mut by_id = std::collections::BTreeMap::<String, PeriodVolume>::new();
    for order in orders
        .iter()
        .filter(|order| order.status == OrderStatus::Paid)
    {
        let day = engine::calendar::parse_date(order.date.as_bytes()).unwrap();
        by_id
            .entry(order.distributor_id.clone())
            .or_default()
            .add(&delta(order, day, 0));
    }
    by_id.into_iter().collect()
}

fn delta(order: &Order, day: i32, sequence: u64) -> VolumeDelta {
    VolumeDelta {
        sequence,
        order_id: order.order_id.clone(),
        kind: VolumeEventKind::Paid,
        distributor_id: order.distributor_id.clone(),
        periods: vec!["2026-11".into()],
        day,
        pv: order.pv,
        cv: order.cv,
    }
}

async fn load(store: &ScyllaStore, people: &[Distributor], orders: &[Order]) -> u64 {
    let written = std::sync::atomic::AtomicU64::new(0);
    let count = |rows: u64| {
        written.fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
    };
    store
        .load_distributors(TENANT, people, &count)
        .await
        .unwrap();
    store
        .load_orders(
            TENANT,
            orders,
            |order| format!("load-{}", order.order_id),
            &count,
        )
        .await
        .unwrap();
    store
        .load_volumes(TENANT, "2026-11", &volumes(orders), &count)
        .await
        .unwrap();
    written.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_twice_is_one_load_and_the_serving_paths_work_on_it() {
    let store = ScyllaStore::open(testing::shared_deployment())
        .await
        .expect("the store opens on the test node");
    let people = distributors();
    let orders = orders();
    let expected_volumes = volumes(&orders);
    let rows = (people.len() + orders.len() + expected_volumes.len()) as u64;
    assert_eq!(
        load(&store, &people, &orders).await,
        rows,
        "every row reported once"
    );
    assert_eq!(load(&store, &people, &orders).await, rows);

    let mut stored = store.distributors(TENANT).await.unwrap();
    stored.sort_by_key(|distributor| distributor.node);
    assert!(stored == people, "the distributors read back as loaded");
    let mut stored_orders = store.orders(TENANT).await.unwrap();
    stored_orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    assert!(stored_orders == orders, "the orders read back as loaded");
    assert_eq!(
        store.period_volumes(TENANT, "2026-11").await.unwrap(),
        expected_volumes
    );
    assert_eq!(
        store.volume_periods(TENANT).await.unwrap(),
        vec!["2026-11".to_string()]
    );

    // A loaded distributor changes like an enrolled one (its version is there).
    let profile = Profile {
        name: Some("Ada".into()),
        email: None,
        country: Some("NL".into()),
    };
    let changed = store
        .update_profile(TENANT, "d00004", profile.clone())
        .await
        .unwrap()
        .expect("a loaded distributor");
    assert_eq!(changed.profile, profile);
    assert_eq!(
        store
            .distributor(TENANT, "d00004")
            .await
            .unwrap()
            .unwrap()
            .profile,
        profile
    );

    // A loaded order refunds once, and its id is taken for other requests.
    let paid = &orders[1];
    assert!(matches!(
        store.refund_order(TENANT, &paid.order_id).await.unwrap(),
        RefundOutcome::Refunded(_)
    ));
    assert!(matches!(
        store.refund_order(TENANT, &paid.order_id).await.unwrap(),
        RefundOutcome::AlreadyRefunded(_)
    ));
    let again = NewOrder {
        idempotency_key: "another-request".into(),
        request_sha256: "body".into(),
        order: orders[2].clone(),
    };
    assert!(matches!(
        store.create_order(TENANT, again).await.unwrap(),
        OrderOutcome::OrderIdTaken
    ));

    // An event's delta lands on a loaded record (its revision is there).
    let fresh = Order {
        order_id: "o-late".into(),
        ..orders[3].clone()
    };
    let day = engine::calendar::parse_date(fresh.date.as_bytes()).unwrap();
    let before = expected_volumes
        .iter()
        .find(|(id, _)| *id == fresh.distributor_id)
        .map(|(_, volume)| volume.pv)
        .unwrap();
    assert_eq!(
        store
            .apply_volumes(TENANT, vec![delta(&fresh, day, 1)])
            .await
            .unwrap(),
        1
    );
    let after = store
        .period_volumes(TENANT, "2026-11")
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == fresh.distributor_id)
        .map(|(_, volume)| volume.pv)
        .unwrap();
    assert_eq!(after, before + fresh.pv);
}
