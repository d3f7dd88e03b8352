//! Orders and their idempotency keys.
//!
//! Only the holder of a tenant's order-writer lease (`lease`) writes its orders in a region,
//! so order ids and idempotency keys are made unique by this process's locks, with plain
//! reads and writes. An order's id is claimed under a lock of the id (`claims`: the order row,
//! with the sequence of its event and the request's key), which makes every order id exactly
//! once whatever key a request carries. The key itself (`order_requests`) is read, and
//! written before the claim when new (in one batch with the order's event), under a lock of
//! the key. A retry after a failure anywhere finds its key with the same body and completes
//! or replays the order; a request whose order id another key took is told so, every time.

use super::claims::ClaimRow;
use super::cql::{self, bucket, from_cql_date, prepare, to_bigint, to_cql_date};
use super::outbox::{Outbox, Ticket};
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    NewEvent, NewOrder, Order, OrderOutcome, OrderStatus, RefundOutcome, VolumeDelta,
};
use crate::traits::OrderStore;
use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlDate;
use std::collections::HashSet;

pub(super) struct OrderStatements {
    record_key: PreparedStatement,
    /// A new key and the order's event, one unlogged batch: one request to the node instead
    /// of two (the rows are in different partitions; neither depends on the other).
    record_key_with_event: Batch,
    select_key: PreparedStatement,
    claim_order: PreparedStatement,
    select_order_id: PreparedStatement,
    select_order: PreparedStatement,
    select_bucket: PreparedStatement,
    refund: PreparedStatement,
}

const COLUMNS: &str = "order_id, distributor_id, order_date, pv, cv, status, created_at_ms, \
    idempotency_key, imported, event_sequence, refund_event_sequence";

type OrderRow = (
    String,
    Option<String>,
    Option<CqlDate>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
    Option<i64>,
);

/// An order as stored, with what the store keeps about how it came.
pub(super) struct StoredOrder {
    pub order: Order,
    pub idempotency_key: String,
    pub imported: bool,
    pub event_sequence: Option<i64>,
    pub refund_event_sequence: Option<i64>,
}

/// Orders imported at once: each is a few round trips, so many go in parallel.
const IMPORTS_IN_FLIGHT: usize = 64;

impl OrderStatements {
    /// The claims' statements: the plain insert of one order row, and the read of its id.
    pub(super) fn claim_statements(&self) -> (PreparedStatement, PreparedStatement) {
        (self.claim_order.clone(), self.select_order_id.clone())
    }

    /// `insert_event`: the outbox's statement for an event.
    pub(super) async fn prepare(
        session: &Session,
        regional: &str,
        insert_event: &PreparedStatement,
    ) -> Result<Self, String> {
        let record_key = prepare(
            session,
            format!(
                "INSERT INTO {regional}.order_requests (tenant_id, idempotency_key, request_sha256, order_id) \
                 VALUES (?, ?, ?, ?)"
            ),
            true,
        )
        .await?;
        let mut record_key_with_event = Batch::new(BatchType::Unlogged);
        record_key_with_event.append_statement(record_key.clone());
        record_key_with_event.append_statement(insert_event.clone());
        record_key_with_event.set_is_idempotent(true);
        Ok(OrderStatements {
            record_key,
            record_key_with_event,
            select_key: prepare(
                session,
                format!(
                    "SELECT request_sha256, order_id FROM {regional}.order_requests \
                     WHERE tenant_id = ? AND idempotency_key = ?"
                ),
                true,
            )
            .await?,
            claim_order: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.orders (tenant_id, bucket, {COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)"
                ),
                true,
            )
            .await?,
            select_order_id: prepare(
                session,
                format!(
                    "SELECT order_id FROM {regional}.orders WHERE tenant_id = ? AND bucket = ? AND order_id = ?"
                ),
                true,
            )
            .await?,
            select_order: prepare(
                session,
                format!(
                    "SELECT {COLUMNS} FROM {regional}.orders WHERE tenant_id = ? AND bucket = ? AND order_id = ?"
                ),
                true,
            )
            .await?,
            select_bucket: prepare(
                session,
                format!("SELECT {COLUMNS} FROM {regional}.orders WHERE tenant_id = ? AND bucket = ?"),
                true,
            )
            .await?,
            refund: prepare(
                session,
                format!(
                    "UPDATE {regional}.orders SET status = 'refunded', refund_event_sequence = ? \
                     WHERE tenant_id = ? AND bucket = ? AND order_id = ? IF status = 'paid'"
                ),
                false,
            )
            .await?,
        })
    }
}

fn order_from(row: OrderRow) -> StoreResult<StoredOrder> {
    let (
        order_id,
        distributor_id,
        date,
        pv,
        cv,
        status,
        created_at_ms,
        idempotency_key,
        imported,
        event_sequence,
        refund_event_sequence,
    ) = row;
    let status = match status.as_deref() {
        Some("paid") => OrderStatus::Paid,
        Some("refunded") => OrderStatus::Refunded,
        other => {
            return Err(StoreError::Corrupt(format!(
                "order {order_id}: status {other:?}"
            )))
        }
    };
    Ok(StoredOrder {
        order: Order {
            order_id,
            distributor_id: distributor_id.unwrap_or_default(),
            date: date.map(from_cql_date).unwrap_or_default(),
            pv: pv.unwrap_or(0),
            cv: cv.unwrap_or(0),
            status,
            created_at_ms: created_at_ms.unwrap_or(0),
        },
        idempotency_key: idempotency_key.unwrap_or_default(),
        imported: imported.unwrap_or(false),
        event_sequence,
        refund_event_sequence,
    })
}

/// The event of a new order: made only once the order is to be claimed (a replay or a
/// refused key has none).
fn created_event(order: &Order) -> NewEvent {
    NewEvent {
        kind: "order.created",
        payload: serde_json::to_value(order).expect("orders serialize"),
    }
}

/// What an idempotency key says about a request.
enum KeyClaim<'l> {
    /// The key is new: its stripe stays locked until the key is recorded.
    New(tokio::sync::MutexGuard<'l, ()>),
    /// Recorded by an earlier attempt with the same body.
    Ours,
    ReusedWithAnotherBody,
}

/// Locks of this process over (tenant, name) pairs — idempotency keys, order ids — striped by
/// a hash of the pair: a name's read and first write happen under its stripe, so two requests
/// with one name never both find it new. Many stripes keep unrelated names from waiting on
/// each other.
pub(super) struct StripedLocks {
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

const STRIPES: usize = 4096;

impl StripedLocks {
    pub(super) fn new() -> StripedLocks {
        StripedLocks {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    pub(super) async fn lock(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (tenant_id, name).hash(&mut hasher);
        self.stripes[(hasher.finish() % STRIPES as u64) as usize]
            .lock()
            .await
    }
}

impl ScyllaStore {
    pub(super) async fn read_order(
        &self,
        tenant_id: &str,
        order_id: &str,
    ) -> StoreResult<Option<StoredOrder>> {
        self.read_order_at(tenant_id, order_id, false).await
    }

    /// `serial`: a final answer (see `cql::serial_if`).
    pub(super) async fn read_order_at(
        &self,
        tenant_id: &str,
        order_id: &str,
        serial: bool,
    ) -> StoreResult<Option<StoredOrder>> {
        let row: Option<OrderRow> = cql::maybe_row(
            &self.session,
            &cql::serial_if(&self.orders.select_order, serial),
            (tenant_id, bucket(order_id), order_id),
        )
        .await?;
        row.map(order_from).transpose()
    }

    /// Reads the request's key; a new key's stripe stays locked until it is recorded.
    async fn read_key(&self, tenant_id: &str, new_order: &NewOrder) -> StoreResult<KeyClaim<'_>> {
        let stripe = self
            .key_locks
            .lock(tenant_id, &new_order.idempotency_key)
            .await;
        let first: Option<(Option<String>, Option<String>)> = cql::maybe_row(
            &self.session,
            &self.orders.select_key,
            (tenant_id, &new_order.idempotency_key),
        )
        .await?;
        Ok(match first {
            Some((Some(sha), _)) if sha == new_order.request_sha256 => KeyClaim::Ours,
            Some(_) => KeyClaim::ReusedWithAnotherBody,
            None => KeyClaim::New(stripe),
        })
    }

    fn key_row<'n>(
        tenant_id: &'n str,
        new_order: &'n NewOrder,
    ) -> (&'n str, &'n str, &'n str, &'n str) {
        (
            tenant_id,
            &new_order.idempotency_key,
            &new_order.request_sha256,
            &new_order.order.order_id,
        )
    }

    /// Records a new key and writes the order's event at `ticket`, in one request; when that
    /// fails the event may exist, so it is doubted (the key either way: a retry reads it).
    async fn record_key_with_event(
        &self,
        tenant_id: &str,
        new_order: &NewOrder,
        ticket: &Ticket<'_>,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let rows = (
            Self::key_row(tenant_id, new_order),
            Outbox::event_row(ticket.sequence, tenant_id, event),
        );
        let written = self
            .session
            .batch(&self.orders.record_key_with_event, rows)
            .await
            .map(|_| ())
            .map_err(|error| cql::execution_error(&self.orders.record_key, error));
        if written.is_err() {
            self.outbox.doubt(ticket.sequence);
        }
        written
    }

    /// Claims the order id for this request's key; `sequence` is its event's (none when
    /// imported). See `claims`.
    pub(super) async fn claim_order(
        &self,
        tenant_id: &str,
        new_order: &NewOrder,
        sequence: Option<u64>,
    ) -> StoreResult<bool> {
        let order = &new_order.order;
        self.claims
            .claim(&ClaimRow {
                tenant_id: tenant_id.to_owned(),
                bucket: bucket(&order.order_id),
                order_id: order.order_id.clone(),
                distributor_id: order.distributor_id.clone(),
                date: to_cql_date("date", &order.date)?,
                pv: order.pv,
                cv: order.cv,
                status: order.status.as_str(),
                created_at_ms: order.created_at_ms,
                idempotency_key: new_order.idempotency_key.clone(),
                imported: sequence.is_none(),
                event_sequence: sequence.map(to_bigint),
            })
            .await
    }

    /// Who holds the order id, once a claim of it did not apply.
    async fn holder(
        &self,
        tenant_id: &str,
        new_order: &NewOrder,
    ) -> StoreResult<Option<StoredOrder>> {
        let stored = self
            .read_order(tenant_id, &new_order.order.order_id)
            .await?;
        Ok(stored.filter(|stored| stored.idempotency_key == new_order.idempotency_key))
    }

    /// Imports one order without an event; `Some(created)` when the order is this request's
    /// (created now, or by an earlier attempt of the same import), `None` when it is skipped.
    async fn import_one(&self, tenant_id: &str, new_order: &NewOrder) -> StoreResult<Option<bool>> {
        self.leases.hold(tenant_id).await?;
        match self.read_key(tenant_id, new_order).await? {
            KeyClaim::ReusedWithAnotherBody => return Ok(None),
            KeyClaim::Ours => {}
            KeyClaim::New(_stripe) => {
                cql::execute(
                    &self.session,
                    &self.orders.record_key,
                    Self::key_row(tenant_id, new_order),
                )
                .await?
            }
        }
        if self.claim_order(tenant_id, new_order, None).await? {
            return Ok(Some(true));
        }
        Ok(self
            .holder(tenant_id, new_order)
            .await?
            .filter(|stored| stored.imported)
            .map(|_| false))
    }
}

#[async_trait]
impl OrderStore for ScyllaStore {
    async fn create_order(
        &self,
        tenant_id: &str,
        new_order: NewOrder,
    ) -> StoreResult<OrderOutcome> {
        // Before anything is read or written: a process without the lease changes nothing,
        // nor does a retry of an order whose last write is still of unknown outcome.
        self.leases.hold(tenant_id).await?;
        self.claims
            .refuse_if_unsettled(tenant_id, &new_order.order.order_id)?;
        let claim = |sequence| self.claim_order(tenant_id, &new_order, Some(sequence));
        let created = match self.read_key(tenant_id, &new_order).await? {
            KeyClaim::ReusedWithAnotherBody => return Ok(OrderOutcome::KeyReusedWithAnotherBody),
            // A new key's order is most likely new too: claimed at once, without a read.
            KeyClaim::New(stripe) => {
                let ticket = self.outbox.ticket(&self.session).await?;
                let event = created_event(&new_order.order);
                self.record_key_with_event(tenant_id, &new_order, &ticket, &event)
                    .await?;
                drop(stripe);
                self.claim_written(ticket, claim).await?
            }
            // A retry: the order may be there already; no event is written for a replay.
            KeyClaim::Ours => {
                if let Some(stored) = self
                    .read_order(tenant_id, &new_order.order.order_id)
                    .await?
                {
                    return Ok(if stored.idempotency_key == new_order.idempotency_key {
                        OrderOutcome::Replayed(stored.order)
                    } else {
                        OrderOutcome::OrderIdTaken
                    });
                }
                self.with_event(tenant_id, created_event(&new_order.order), claim)
                    .await?
            }
        };
        if created {
            return Ok(OrderOutcome::Created(new_order.order));
        }
        Ok(match self.holder(tenant_id, &new_order).await? {
            Some(stored) => OrderOutcome::Replayed(stored.order),
            None => OrderOutcome::OrderIdTaken,
        })
    }

    async fn refund_order(&self, tenant_id: &str, order_id: &str) -> StoreResult<RefundOutcome> {
        loop {
            let Some(stored) = self.read_order(tenant_id, order_id).await? else {
                return Ok(RefundOutcome::NotFound);
            };
            if stored.order.status == OrderStatus::Refunded {
                return Ok(RefundOutcome::AlreadyRefunded(stored.order));
            }
            let refunded = Order {
                status: OrderStatus::Refunded,
                ..stored.order
            };
            let event = NewEvent {
                kind: "order.refunded",
                payload: serde_json::to_value(&refunded).expect("orders serialize"),
            };
            let applied = self
                .with_event(tenant_id, event, |sequence| {
                    cql::conditional(
                        &self.session,
                        &self.orders.refund,
                        (to_bigint(sequence), tenant_id, bucket(order_id), order_id),
                    )
                })
                .await?;
            if applied {
                return Ok(RefundOutcome::Refunded(refunded));
            }
        }
    }

    async fn import_orders(
        &self,
        tenant_id: &str,
        orders: Vec<NewOrder>,
        deltas: Vec<VolumeDelta>,
    ) -> StoreResult<u64> {
        // Orders first, each idempotent; then the volumes of the orders that are this
        // import's, each applied once per record (records remember the imported order ids),
        // so a retry after a failure anywhere completes the import without counting twice.
        // The futures are made up front: a stream's closure over borrowed items trips the
        // compiler's proof that the trait's future is `Send`.
        let imports: Vec<_> = orders
            .iter()
            .map(|new_order| async move {
                let outcome = self.import_one(tenant_id, new_order).await?;
                StoreResult::Ok((new_order.order.order_id.clone(), outcome))
            })
            .collect();
        let outcomes: Vec<(String, Option<bool>)> = futures_util::stream::iter(imports)
            .buffer_unordered(IMPORTS_IN_FLIGHT)
            .try_collect()
            .await?;
        let ours: HashSet<&str> = outcomes
            .iter()
            .filter(|(_, outcome)| outcome.is_some())
            .map(|(order_id, _)| order_id.as_str())
            .collect();
        let created = outcomes
            .iter()
            .filter(|(_, outcome)| *outcome == Some(true))
            .count();
        let deltas: Vec<VolumeDelta> = deltas
            .into_iter()
            .filter(|delta| ours.contains(delta.order_id.as_str()))
            .collect();
        self.apply_imported_volumes(tenant_id, deltas).await?;
        Ok(created as u64)
    }

    async fn order(&self, tenant_id: &str, order_id: &str) -> StoreResult<Option<Order>> {
        Ok(self
            .read_order(tenant_id, order_id)
            .await?
            .map(|stored| stored.order))
    }

    async fn orders(&self, tenant_id: &str) -> StoreResult<Vec<Order>> {
        let rows: Vec<OrderRow> =
            cql::all_buckets(&self.session, &self.orders.select_bucket, |bucket| {
                (tenant_id, bucket)
            })
            .await?;
        let mut orders = rows
            .into_iter()
            .map(|row| order_from(row).map(|stored| stored.order))
            .collect::<StoreResult<Vec<_>>>()?;
        orders.sort_unstable_by(|a, b| a.order_id.cmp(&b.order_id));
        Ok(orders)
    }

    async fn stop_writing_orders(&self) -> StoreResult<()> {
        self.leases
            .release(|tenant_id| self.claims.has_unsettled(tenant_id))
            .await
    }
}
