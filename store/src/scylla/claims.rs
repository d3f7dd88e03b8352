//! Order-id claims under the region's order-writer lease (see `lease`): an order id is taken
//! once per tenant, whatever key a request carries, without a Paxos round per order.
//!
//! This process holds the tenant's lease, so no other process writes the tenant's orders in
//! the region. Within the process, a claim reads the order row and, when the id is free,
//! writes it plainly, both under a lock of the order id (striped); two claims of one id are
//! therefore never both told "made". A read at LOCAL_QUORUM sees every write the node
//! acknowledged. What it cannot see is a write of this process whose outcome is unknown — a
//! timeout, or a request that went away while its write was under way — which may still land
//! later and overwrite a row written after it. Such an order id is *unsettled*: it is refused
//! (`Unavailable`) until no request can be under way any more ([`LeaseTiming::under_way_max`]),
//! then read again; by then the write has landed or never will, and the doubtful-event rule
//! of `events` has decided its event the same way.
//!
//! An earlier holder's writes are settled by the takeover's wait (`lease`).

use super::cql;
use super::lease::{LeaseTiming, OrderWriterLeases};
use super::orders::StripedLocks;
use crate::error::{StoreError, StoreResult};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlDate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The values of one claim, in the order of the claim statement's bind markers
/// (`tenant_id, bucket, order_id, distributor_id, order_date, pv, cv, status, created_at_ms,
/// idempotency_key, imported, event_sequence`).
pub(super) struct ClaimRow {
    pub tenant_id: String,
    pub bucket: i16,
    pub order_id: String,
    pub distributor_id: String,
    pub date: CqlDate,
    pub pv: i64,
    pub cv: i64,
    pub status: &'static str,
    pub created_at_ms: i64,
    pub idempotency_key: String,
    pub imported: bool,
    pub event_sequence: Option<i64>,
}

type ClaimValues<'r> = (
    &'r str,
    i16,
    &'r str,
    &'r str,
    CqlDate,
    i64,
    i64,
    &'r str,
    i64,
    &'r str,
    bool,
    Option<i64>,
);

impl ClaimRow {
    fn values(&self) -> ClaimValues<'_> {
        (
            &self.tenant_id,
            self.bucket,
            &self.order_id,
            &self.distributor_id,
            self.date,
            self.pv,
            self.cv,
            self.status,
            self.created_at_ms,
            &self.idempotency_key,
            self.imported,
            self.event_sequence,
        )
    }
}

type TenantAndId = (String, String);

/// The order-id claims of this process.
pub(super) struct OrderClaims {
    session: Arc<Session>,
    /// The plain insert of one order row (see [`ClaimRow`]).
    insert: PreparedStatement,
    /// The read of one order row: `(order_id,)` when it exists.
    select: PreparedStatement,
    leases: Arc<OrderWriterLeases>,
    /// How long a write of unknown outcome keeps its order id unsettled.
    under_way_max: Duration,
    id_locks: StripedLocks,
    /// Order ids whose write is of unknown outcome, with when it was sent.
    pub(super) unsettled: Mutex<HashMap<TenantAndId, Instant>>,
}

/// Leaves its order id unsettled unless the write is known to have landed: a write whose
/// request fails, or whose future is dropped while it is under way, may land later.
struct UnsettledUntilLanded<'c> {
    claims: &'c OrderClaims,
    key: Option<TenantAndId>,
}

impl UnsettledUntilLanded<'_> {
    fn landed(mut self) {
        if let Some(key) = self.key.take() {
            self.claims
                .unsettled
                .lock()
                .expect("unsettled lock")
                .remove(&key);
        }
    }
}

impl Drop for UnsettledUntilLanded<'_> {
    fn drop(&mut self) {
        // The entry stays: it was made when the write was sent.
        self.key.take();
    }
}

impl OrderClaims {
    pub(super) fn new(
        session: Arc<Session>,
        insert: PreparedStatement,
        select: PreparedStatement,
        leases: Arc<OrderWriterLeases>,
        timing: LeaseTiming,
    ) -> OrderClaims {
        OrderClaims {
            session,
            insert,
            select,
            leases,
            under_way_max: timing.under_way_max,
            id_locks: StripedLocks::new(),
            unsettled: Mutex::new(HashMap::new()),
        }
    }

    /// Claims the row's order id; true when this claim made the row, false when the id is
    /// taken. `Unavailable` when this process may not write the tenant's orders now, or the
    /// id's last write is of unknown outcome (the request changed nothing; retry later).
    pub(super) async fn claim(&self, row: &ClaimRow) -> StoreResult<bool> {
        let _id = self.id_locks.lock(&row.tenant_id, &row.order_id).await;
        self.refuse_if_unsettled(&row.tenant_id, &row.order_id)?;
        let existing: Option<(String,)> = cql::maybe_row(
            &self.session,
            &self.select,
            (&row.tenant_id, row.bucket, &row.order_id),
        )
        .await?;
        if existing.is_some() {
            return Ok(false);
        }
        self.leases.check(&row.tenant_id)?;
        let key = (row.tenant_id.clone(), row.order_id.clone());
        self.unsettled
            .lock()
            .expect("unsettled lock")
            .insert(key.clone(), Instant::now());
        let pending = UnsettledUntilLanded {
            claims: self,
            key: Some(key),
        };
        cql::execute(&self.session, &self.insert, row.values()).await?;
        pending.landed();
        Ok(true)
    }

    /// Whether any of the tenant's order writes is still of unknown outcome (its lease is then
    /// left to lapse rather than released: see `lease`).
    pub(super) fn has_unsettled(&self, tenant_id: &str) -> bool {
        let mut unsettled = self.unsettled.lock().expect("unsettled lock");
        self.forget_settled(&mut unsettled);
        unsettled.keys().any(|(tenant, _)| tenant == tenant_id)
    }

    /// `Unavailable` while the order id's last write is of unknown outcome. Checked before a
    /// request writes anything (no event is written for a claim that would be refused) and
    /// again, under the id's lock, by the claim.
    pub(super) fn refuse_if_unsettled(&self, tenant_id: &str, order_id: &str) -> StoreResult<()> {
        let mut unsettled = self.unsettled.lock().expect("unsettled lock");
        self.forget_settled(&mut unsettled);
        match unsettled.get(&(tenant_id.to_owned(), order_id.to_owned())) {
            None => Ok(()),
            Some(sent) => Err(StoreError::Unavailable(format!(
                "order {order_id}: an earlier write of it has an unknown outcome; it is settled {} s from now",
                self.under_way_max
                    .saturating_sub(sent.elapsed())
                    .as_secs()
                    + 1
            ))),
        }
    }

    /// Drops the writes that can no longer be under way: landed or never will.
    fn forget_settled(&self, unsettled: &mut HashMap<TenantAndId, Instant>) {
        unsettled.retain(|_, sent| sent.elapsed() < self.under_way_max);
    }
}

#[cfg(test)]
mod tests {
    //! On the real test node: each order id goes to exactly one key, however many claim it
    //! at once; an id whose write went away unanswered is refused until it is settled.
    use super::super::{testing, ScyllaStore};
    use super::LeaseTiming;
    use crate::error::StoreError;
    use crate::model::NewOrder;
    use std::time::Duration;
    use testing::order_request as new_order;

    async fn store(timing: LeaseTiming) -> (ScyllaStore, String) {
        let store = ScyllaStore::open_with(testing::shared_deployment(), timing)
            .await
            .expect("the store opens on the test node");
        let tenant = testing::unique_prefix("claims");
        store
            .leases
            .hold(&tenant)
            .await
            .expect("a new tenant's lease is free");
        (store, tenant)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claims_at_once_give_each_order_id_to_exactly_one_key() {
        let (store, tenant) = store(LeaseTiming::default()).await;
        let ids: Vec<String> = (0..48).map(|n| format!("o-{n}")).collect();
        // Every id twice at once, under two keys: one of the two must get it.
        let requests: Vec<NewOrder> = ids
            .iter()
            .flat_map(|id| {
                [
                    new_order(id, &format!("a-{id}")),
                    new_order(id, &format!("b-{id}")),
                ]
            })
            .collect();
        let outcomes = futures_util::future::join_all(
            requests
                .iter()
                .map(|request| store.claim_order(&tenant, request, Some(1))),
        )
        .await;
        for id in &ids {
            let winners: Vec<&NewOrder> = requests
                .iter()
                .zip(&outcomes)
                .filter(|(request, _)| &request.order.order_id == id)
                .filter(|(_, outcome)| *outcome.as_ref().expect("a claim answers"))
                .map(|(request, _)| request)
                .collect();
            assert_eq!(
                winners.len(),
                1,
                "order id {id} claimed {} times",
                winners.len()
            );
            let stored = store
                .read_order(&tenant, id)
                .await
                .unwrap()
                .expect("a claimed order is stored");
            assert_eq!(
                stored.idempotency_key, winners[0].idempotency_key,
                "order id {id}"
            );
        }
    }

    #[tokio::test]
    async fn an_order_id_whose_write_went_away_is_refused_until_it_is_settled() {
        let timing = LeaseTiming {
            under_way_max: Duration::from_secs(2),
            ..LeaseTiming::default()
        };
        let (store, tenant) = store(timing).await;
        let first = new_order("o-gone", "first");
        // The first request goes away while its write is under way (its client hung up).
        {
            let mut claim = std::pin::pin!(store.claim_order(&tenant, &first, Some(1)));
            let unsettled = || {
                let unsettled = store.claims.unsettled.lock().unwrap();
                unsettled.contains_key(&(tenant.clone(), "o-gone".to_owned()))
            };
            while !unsettled() {
                assert!(
                    futures_util::poll!(claim.as_mut()).is_pending(),
                    "the claim finished before its write could be abandoned"
                );
                tokio::task::yield_now().await;
            }
        }
        // Whether that write lands is unknown: the id is refused, not claimed again.
        let second = new_order("o-gone", "second");
        match store.claim_order(&tenant, &second, Some(2)).await {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("unknown outcome"), "{message}")
            }
            other => panic!("an unsettled order id was answered {other:?}"),
        }
        // Once no request can be under way, the row says what happened, and only one key
        // has the id.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let claimed = store.claim_order(&tenant, &second, Some(2)).await.unwrap();
        let stored = store.read_order(&tenant, "o-gone").await.unwrap().unwrap();
        let expected_key = if claimed { "second" } else { "first" };
        assert_eq!(stored.idempotency_key, expected_key);
    }
}
