//! The conformance suite: the contract of the traits, written once, run by every backend.
//!
//! Each case is an `async fn(&dyn Store)` that works in tenants of its own (unique names), so
//! the cases can share one database — one keyspace of a real ScyllaDB cluster, say. A backend
//! runs them all with [`conformance_suite!`](crate::conformance_suite):
//!
//! ```text
//! store::conformance_suite!(async { std::sync::Arc::new(my_backend().await) });
//! ```

mod leases;
mod ledger;
mod orders;
mod outbox;
mod people;
mod runs;
mod volumes;

pub use leases::*;
pub use ledger::*;
pub use orders::*;
pub use outbox::*;
pub use people::*;
pub use runs::*;
pub use volumes::*;

use crate::model::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// A tenant id no other case (nor another run against the same database) uses.
pub fn unique_tenant(case: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{case}-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A minimal tenant record.
pub fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.to_owned(),
        name: format!("Tenant {id}"),
        plan: serde_json::json!({ "name": "p", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": {} }),
        plan_version: 1,
        created_at_ms: 1,
        home_region: None,
        closes: None,
    }
}

/// A distributor record enrolled under `sponsor`.
pub fn distributor(id: &str, node: u32, sponsor: Option<&str>) -> Distributor {
    Distributor {
        id: id.to_owned(),
        node,
        sponsor_id: sponsor.map(str::to_owned),
        placement: None,
        joined_on: "2026-11-01".into(),
        status: DistributorStatus::Active,
        profile: Profile::default(),
        residence_region: None,
    }
}

/// A paid order.
pub fn order(order_id: &str, distributor_id: &str, pv: i64, cv: i64) -> Order {
    Order {
        order_id: order_id.to_owned(),
        distributor_id: distributor_id.to_owned(),
        date: "2026-11-05".into(),
        pv,
        cv,
        status: OrderStatus::Paid,
        created_at_ms: 1,
    }
}

/// Expands into one `#[tokio::test]` per case, each on a store made by `$make` (an expression
/// evaluating to a future of `Arc<impl Store>`).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            tenants_are_created_once_and_read_back,
            a_plan_is_replaced_once_per_version_and_old_versions_stay_readable,
            a_closed_tenant_is_gone_with_its_keys_and_its_id_stays_taken,
            api_keys_are_found_by_hash_and_revoked_only_by_their_tenant,
            enrollment_is_idempotent_and_ids_are_unique,
            distributors_come_back_in_enrollment_order,
            the_genealogy_comes_in_pages_each_distributor_once,
            profiles_are_erased_a_page_at_a_time_each_once,
            profiles_and_terminations_change_one_distributor,
            tenants_never_see_each_other,
            an_idempotency_key_replays_its_first_answer,
            concurrent_requests_with_one_key_make_one_order,
            an_order_id_is_taken_once,
            a_refund_happens_once,
            an_import_creates_new_orders_with_their_volumes,
            volumes_apply_each_order_event_once,
            refunds_take_volume_back,
            volume_periods_are_listed,
            a_replayed_range_applies_each_event_once,
            runs_change_only_from_the_expected_status,
            statements_are_sorted_and_idempotent,
            statements_are_read_page_by_page_in_byte_order,
            transfers_post_once,
            transfer_rules_are_checked_in_order,
            a_guarded_debit_never_goes_below_zero,
            concurrent_withdrawals_never_overdraw,
            balances_always_sum_to_zero,
            account_transfers_come_newest_first,
            events_come_with_their_changes_and_leave_when_acknowledged,
            a_lease_has_one_holder_until_released,
            a_lease_lapses_when_not_renewed,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )+
    };
}
