//! Period volumes.

use super::unique_tenant;
use crate::model::*;
use crate::traits::Store;

fn delta(
    order_id: &str,
    kind: VolumeEventKind,
    distributor: &str,
    day: i32,
    pv: i64,
    cv: i64,
) -> VolumeDelta {
    VolumeDelta {
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
        delta("o1", VolumeEventKind::Paid, "d1", 100, 10, 7),
        delta("o2", VolumeEventKind::Paid, "d1", 101, 5, 3),
        delta("o3", VolumeEventKind::Paid, "d2", 100, 1, 1),
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
            vec![delta("o1", VolumeEventKind::Paid, "d1", 100, 10, 7)],
        )
        .await
        .unwrap();
    let refund = delta("o1", VolumeEventKind::Refunded, "d1", 100, -10, -7);
    assert_eq!(
        store
            .apply_volumes(&t, vec![refund.clone(), refund])
            .await
            .unwrap(),
        2
    );
    let month = store.period_volumes(&t, "2026-11").await.unwrap();
    assert_eq!(month, vec![("d1".to_owned(), PeriodVolume::default())]);
}

pub async fn volume_periods_are_listed(store: &dyn Store) {
    let t = unique_tenant("volume-periods");
    let mut october = delta("o1", VolumeEventKind::Paid, "d1", 70, 1, 1);
    october.periods = vec!["2026-10".into(), "2026-W41".into()];
    store
        .apply_volumes(
            &t,
            vec![october, delta("o2", VolumeEventKind::Paid, "d9", 100, 1, 1)],
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
