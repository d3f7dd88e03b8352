//! Period volumes.

use super::unique_tenant;
use crate::model::*;
use crate::traits::Store;

fn delta(
    sequence: u64,
    order_id: &str,
    kind: VolumeEventKind,
    distributor: &str,
    day: i32,
    pv: i64,
    cv: i64,
) -> VolumeDelta {
    VolumeDelta {
        sequence,
        order_id: order_id.into(),
        kind,
        distributor_id: distributor.into(),
        periods: vec!["2026-11".into(), "2026-W45".into()],
        day,
        pv,
        cv,
    }
}

pub async fn volumes_apply_each_order_event_once(store: &dyn Store) {
    let t = unique_tenant("volumes");
    let deltas = vec![
        delta(1, "o1", VolumeEventKind::Paid, "d1", 100, 10, 7),
        delta(2, "o2", VolumeEventKind::Paid, "d1", 101, 5, 3),
        delta(3, "o3", VolumeEventKind::Paid, "d2", 100, 1, 1),
    ];
    assert_eq!(store.apply_volumes(&t, deltas.clone()).await.unwrap(), 6);
    assert_eq!(
        store.apply_volumes(&t, deltas).await.unwrap(),
        0,
        "a redelivery applied again"
    );
    let month = store.period_volumes(&t, "2026-11").await.unwrap();
    let expected_d1 = PeriodVolume {
        pv: 15,
        cv: 10,
        cv_by_day: vec![(100, 7), (101, 3)],
        applied_through: 2,
    };
    assert_eq!(month.len(), 2);
    assert_eq!(month[0], ("d1".to_owned(), expected_d1.clone()));
    assert_eq!(
        store.period_volumes(&t, "2026-W45").await.unwrap()[0].1,
        expected_d1
    );
}

pub async fn refunds_take_volume_back(store: &dyn Store) {
    let t = unique_tenant("volumes-refund");
    store
        .apply_volumes(
            &t,
            vec![delta(1, "o1", VolumeEventKind::Paid, "d1", 100, 10, 7)],
        )
        .await
        .unwrap();
    let refund = delta(2, "o1", VolumeEventKind::Refunded, "d1", 100, -10, -7);
    assert_eq!(
        store
            .apply_volumes(&t, vec![refund.clone(), refund])
            .await
            .unwrap(),
        2
    );
    let month = store.period_volumes(&t, "2026-11").await.unwrap();
    let emptied = PeriodVolume {
        applied_through: 2,
        ..PeriodVolume::default()
    };
    assert_eq!(month, vec![("d1".to_owned(), emptied)]);
}

pub async fn volume_periods_are_listed(store: &dyn Store) {
    let t = unique_tenant("volume-periods");
    let mut october = delta(1, "o1", VolumeEventKind::Paid, "d1", 70, 1, 1);
    october.periods = vec!["2026-10".into(), "2026-W41".into()];
    store
        .apply_volumes(
            &t,
            vec![
                october,
                delta(2, "o2", VolumeEventKind::Paid, "d9", 100, 1, 1),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.volume_periods(&t).await.unwrap(),
        vec!["2026-10", "2026-11", "2026-W41", "2026-W45"]
    );
    assert!(store
        .period_volumes(&t, "2026-12")
        .await
        .unwrap()
        .is_empty());
}

/// A checkpoint interrupted by a crash left some records with the replayed events applied and
/// others without; replaying the whole range, with events that arrived since, applies each
/// event exactly once everywhere.
pub async fn a_replayed_range_applies_each_event_once(store: &dyn Store) {
    let t = unique_tenant("volumes-replay");
    let first_half = vec![delta(5, "o5", VolumeEventKind::Paid, "d1", 100, 10, 10)];
    assert_eq!(store.apply_volumes(&t, first_half).await.unwrap(), 2);
    let replay = vec![
        delta(5, "o5", VolumeEventKind::Paid, "d1", 100, 10, 10),
        delta(6, "o6", VolumeEventKind::Paid, "d2", 100, 4, 4),
        delta(7, "o5", VolumeEventKind::Refunded, "d1", 100, -10, -10),
        delta(8, "o8", VolumeEventKind::Paid, "d1", 101, 3, 2),
    ];
    // Given out of order within the call: each record still applies its deltas in sequence.
    let mut shuffled = replay.clone();
    shuffled.reverse();
    assert_eq!(store.apply_volumes(&t, shuffled).await.unwrap(), 6);
    assert_eq!(store.apply_volumes(&t, replay).await.unwrap(), 0);
    let month = store.period_volumes(&t, "2026-11").await.unwrap();
    assert_eq!(
        month,
        vec![
            (
                "d1".to_owned(),
                PeriodVolume {
                    pv: 3,
                    cv: 2,
                    cv_by_day: vec![(101, 2)],
                    applied_through: 8,
                }
            ),
            (
                "d2".to_owned(),
                PeriodVolume {
                    pv: 4,
                    cv: 4,
                    cv_by_day: vec![(100, 4)],
                    applied_through: 6,
                }
            ),
        ]
    );
}
