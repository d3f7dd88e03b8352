//! Job leases.

use super::unique_tenant;
use crate::traits::Store;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

pub async fn a_lease_has_one_holder_until_released(store: &dyn Store) {
    let job = format!("close/{}/2026-11", unique_tenant("leases"));
    assert!(store.hold_lease(&job, "worker-a", LEASE).await.unwrap());
    assert!(!store.hold_lease(&job, "worker-b", LEASE).await.unwrap());
    // Renewing is holding again.
    assert!(store.hold_lease(&job, "worker-a", LEASE).await.unwrap());
    // Only the holder lets go.
    store.release_lease(&job, "worker-b").await.unwrap();
    assert!(!store.hold_lease(&job, "worker-b", LEASE).await.unwrap());
    store.release_lease(&job, "worker-a").await.unwrap();
    assert!(store.hold_lease(&job, "worker-b", LEASE).await.unwrap());
    assert!(!store.hold_lease(&job, "worker-a", LEASE).await.unwrap());
    // Another job's lease is another lease.
    assert!(store
        .hold_lease(&format!("{job}-other"), "worker-a", LEASE)
        .await
        .unwrap());
}

pub async fn a_lease_lapses_when_not_renewed(store: &dyn Store) {
    let job = format!("close/{}/2026-W48", unique_tenant("leases"));
    assert!(store
        .hold_lease(&job, "worker-a", Duration::from_secs(1))
        .await
        .unwrap());
    assert!(!store.hold_lease(&job, "worker-b", LEASE).await.unwrap());
    // The holder stopped renewing: the lease passes on once it has lapsed (the store keeps it
    // at least its whole second; the loop bounds the wait, the test asserts no time).
    let mut taken = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if store.hold_lease(&job, "worker-b", LEASE).await.unwrap() {
            taken = true;
            break;
        }
    }
    assert!(taken, "a lease of one second never lapsed");
    assert!(!store.hold_lease(&job, "worker-a", LEASE).await.unwrap());
}
