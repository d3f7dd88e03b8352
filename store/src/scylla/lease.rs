//! Order-writer leases: the one process of a region that may write a tenant's orders.
//!
//! Order ids and idempotency keys are made unique by reading and writing them plainly under
//! locks of this process (see `orders`); that is right only while no other process writes
//! the same tenant's orders in the same region. A lease makes that rule enforced rather than
//! assumed. It is one row per tenant in the region's keyspace (`order_writers`): the holder's
//! name and a renewal counter, changed only by lightweight transactions — a handful per
//! minute, instead of one Paxos round per order.
//!
//! - **Holding.** A process takes a free lease with `INSERT … IF NOT EXISTS` and renews it
//!   with `UPDATE … IF holder = me` (the counter moves on). It may send an order write only
//!   while its lease is *valid*: until [`LeaseTiming::valid_for`] after it *sent* the last
//!   renewal that applied. Renewals ride on the requests: a request that finds the last one
//!   older than [`LeaseTiming::renew_after`] makes the next, while the others go on.
//! - **Taking over.** A process that finds the lease held by another watches the row. Only
//!   after it has seen the same holder and counter for `valid_for` plus
//!   [`LeaseTiming::under_way_max`] does it take the lease, with `UPDATE … IF holder = them
//!   AND renewal = n`. By then the old holder's last renewal (sent before it was read here) has
//!   lapsed, so it sends no more writes, and every write it sent before has reached the node or
//!   never will: no request is under way longer than `under_way_max` (the same bound the
//!   doubtful-event rule of `events` rests on). The old holder learns it lost the lease when
//!   its next renewal does not apply.
//! - **Letting go.** A process shutting down deletes its leases (`IF holder = me`), so the
//!   next one takes them at once — unless a write of its own is still of unknown outcome, in
//!   which case the lease is left to lapse and be taken over.
//!
//! The argument rests on time in one place: a holder paused for longer than `under_way_max`
//! between checking its lease and its write reaching the node (a frozen VM) could write after
//! a takeover. Monotonic clocks on both sides measure only intervals, never each other's time.

use super::cql::{self, prepare};
use crate::error::{StoreError, StoreResult};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a lease lasts and how a takeover waits. Production uses [`LeaseTiming::default`];
/// tests shorten it to see takeovers happen.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTiming {
    /// A renewal that applied keeps the lease valid this long after it was sent.
    pub valid_for: Duration,
    /// Requests renew a lease whose last renewal is older than this.
    pub renew_after: Duration,
    /// The longest a request can be under way between this process and the node.
    pub under_way_max: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming {
            valid_for: Duration::from_secs(10),
            renew_after: Duration::from_secs(2),
            // The doubtful-event rule's bound (`events::UNDER_WAY_MAX_MICROS`).
            under_way_max: Duration::from_secs(60),
        }
    }
}

/// A lease this process holds.
#[derive(Clone, Copy)]
struct Held {
    /// When the last renewal that applied was sent.
    renewed_at: Instant,
    renewal: i64,
}

/// Another holder, as this process has watched it.
#[derive(Clone)]
struct Watched {
    holder: String,
    renewal: i64,
    /// Since when the row has shown this holder and counter.
    unchanged_since: Instant,
    /// When the row was last read (a refused request does not read it again at once).
    read_at: Instant,
}

#[derive(Default)]
struct TenantLease {
    held: Option<Held>,
    watched: Option<Watched>,
}

struct LeaseStatements {
    select: PreparedStatement,
    take_free: PreparedStatement,
    renew: PreparedStatement,
    take_over: PreparedStatement,
    release: PreparedStatement,
}

/// The order-writer leases of this store (one holder name per store).
pub(super) struct OrderWriterLeases {
    session: Arc<Session>,
    statements: LeaseStatements,
    holder: String,
    timing: LeaseTiming,
    /// Per tenant; the async lock serialises the lease's reads and transactions, so one
    /// request renews while the others go on under the still-valid lease.
    tenants: Mutex<HashMap<String, Arc<tokio::sync::Mutex<TenantLease>>>>,
    /// Fast path: the lease as last known, read without waiting on the async lock.
    known: Mutex<HashMap<String, Held>>,
}

/// How often a process that is refused reads the lease row again.
const REREAD_AFTER: Duration = Duration::from_secs(1);

impl OrderWriterLeases {
    pub(super) async fn prepare(
        session: Arc<Session>,
        regional: &str,
        holder: String,
        timing: LeaseTiming,
    ) -> Result<Self, String> {
        let mut select = prepare(
            &session,
            format!("SELECT holder, renewal FROM {regional}.order_writers WHERE tenant_id = ?"),
            true,
        )
        .await?;
        // Read at SERIAL: sees the transactions of other processes, finished or half-done.
        select.set_consistency(scylla::statement::Consistency::LocalSerial);
        let statements = LeaseStatements {
            select,
            take_free: prepare(
                &session,
                format!(
                    "INSERT INTO {regional}.order_writers (tenant_id, holder, renewal) \
                     VALUES (?, ?, 0) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            renew: prepare(
                &session,
                format!(
                    "UPDATE {regional}.order_writers SET renewal = ? WHERE tenant_id = ? IF holder = ?"
                ),
                false,
            )
            .await?,
            take_over: prepare(
                &session,
                format!(
                    "UPDATE {regional}.order_writers SET holder = ?, renewal = 0 \
                     WHERE tenant_id = ? IF holder = ? AND renewal = ?"
                ),
                false,
            )
            .await?,
            release: prepare(
                &session,
                format!("DELETE FROM {regional}.order_writers WHERE tenant_id = ? IF holder = ?"),
                false,
            )
            .await?,
        };
        Ok(OrderWriterLeases {
            session,
            statements,
            holder,
            timing,
            tenants: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        })
    }

    /// Makes sure this process holds the tenant's lease, taking or renewing it as due.
    /// `Unavailable` when another process holds it (or the node cannot be reached and the
    /// lease has lapsed): the request has changed nothing and may be retried.
    pub(super) async fn hold(&self, tenant_id: &str) -> StoreResult<()> {
        if let Some(held) = self.known(tenant_id) {
            if held.renewed_at.elapsed() < self.timing.renew_after {
                return Ok(());
            }
        }
        let lease = self.tenant(tenant_id);
        let Ok(mut lease) = lease.try_lock() else {
            // Another request is renewing or taking it: go on if the lease is valid still.
            return match self.known(tenant_id) {
                Some(held) if self.is_valid(held) => Ok(()),
                _ => {
                    let _wait = self.tenant(tenant_id).lock_owned().await;
                    self.check(tenant_id)
                }
            };
        };
        if let Some(held) = lease.held {
            if held.renewed_at.elapsed() < self.timing.renew_after {
                return Ok(());
            }
            match self.renew(tenant_id, held).await {
                Ok(Some(renewed)) => {
                    self.set_held(tenant_id, &mut lease, Some(renewed));
                    return Ok(());
                }
                // Taken over: this process is a watcher now.
                Ok(None) => self.set_held(tenant_id, &mut lease, None),
                Err(error) => {
                    return if self.is_valid(held) {
                        Ok(())
                    } else {
                        Err(error)
                    }
                }
            }
        }
        self.take(tenant_id, &mut lease).await
    }

    /// Whether an order write may be sent now: the lease is held and valid.
    pub(super) fn check(&self, tenant_id: &str) -> StoreResult<()> {
        match self.known(tenant_id) {
            Some(held) if self.is_valid(held) => Ok(()),
            _ => Err(StoreError::Unavailable(format!(
                "this process does not hold the order-writer lease of tenant {tenant_id} (lapsed or taken over)"
            ))),
        }
    }

    /// Deletes every lease of this store, so that another process takes them at once. Leases
    /// for which `keep(tenant)` says so are left to lapse.
    pub(super) async fn release(&self, keep: impl Fn(&str) -> bool) -> StoreResult<()> {
        let tenants: Vec<String> = self
            .known
            .lock()
            .expect("lease lock")
            .keys()
            .cloned()
            .collect();
        for tenant_id in tenants {
            if keep(&tenant_id) {
                continue;
            }
            // Forgotten first: no write is sent under a lease being released.
            self.known.lock().expect("lease lock").remove(&tenant_id);
            let lease = self.tenant(&tenant_id);
            let mut lease = lease.lock().await;
            lease.held = None;
            cql::conditional(
                &self.session,
                &self.statements.release,
                (&tenant_id, &self.holder),
            )
            .await?;
        }
        Ok(())
    }

    fn is_valid(&self, held: Held) -> bool {
        held.renewed_at.elapsed() < self.timing.valid_for
    }

    fn known(&self, tenant_id: &str) -> Option<Held> {
        self.known
            .lock()
            .expect("lease lock")
            .get(tenant_id)
            .copied()
    }

    fn tenant(&self, tenant_id: &str) -> Arc<tokio::sync::Mutex<TenantLease>> {
        let mut tenants = self.tenants.lock().expect("lease lock");
        Arc::clone(tenants.entry(tenant_id.to_owned()).or_default())
    }

    fn set_held(&self, tenant_id: &str, lease: &mut TenantLease, held: Option<Held>) {
        lease.held = held;
        let mut known = self.known.lock().expect("lease lock");
        match held {
            Some(held) => {
                lease.watched = None;
                known.insert(tenant_id.to_owned(), held);
            }
            None => {
                known.remove(tenant_id);
            }
        }
    }

    /// Renews a held lease; `None` when it was taken over.
    async fn renew(&self, tenant_id: &str, held: Held) -> StoreResult<Option<Held>> {
        let sent = Instant::now();
        let renewal = held.renewal + 1;
        let applied = cql::conditional(
            &self.session,
            &self.statements.renew,
            (renewal, tenant_id, &self.holder),
        )
        .await?;
        Ok(applied.then_some(Held {
            renewed_at: sent,
            renewal,
        }))
    }

    /// Takes the lease if it is free, ours already, or its holder has been silent long enough.
    async fn take(&self, tenant_id: &str, lease: &mut TenantLease) -> StoreResult<()> {
        if let Some(watched) = &lease.watched {
            if watched.read_at.elapsed() < REREAD_AFTER {
                return Err(self.held_by_another(tenant_id, watched));
            }
        }
        let sent = Instant::now();
        let row: Option<(Option<String>, Option<i64>)> =
            cql::maybe_row(&self.session, &self.statements.select, (tenant_id,)).await?;
        // The row read was written before this instant: a holder's renewal seen in it was
        // sent before it too, so its validity ends at most `valid_for` after.
        let read_at = Instant::now();
        let taken = match row {
            None => {
                cql::conditional(
                    &self.session,
                    &self.statements.take_free,
                    (tenant_id, &self.holder),
                )
                .await?
            }
            // Ours, from a renewal or a take whose answer was lost: renewed to be sure of it.
            Some((Some(holder), Some(renewal))) if holder == self.holder => {
                let held = Held {
                    renewed_at: sent,
                    renewal,
                };
                if let Some(renewed) = self.renew(tenant_id, held).await? {
                    self.set_held(tenant_id, lease, Some(renewed));
                    return Ok(());
                }
                false
            }
            Some((holder, renewal)) => {
                let holder = holder.unwrap_or_default();
                let renewal = renewal.unwrap_or(0);
                let unchanged_since = match &lease.watched {
                    Some(watched) if watched.holder == holder && watched.renewal == renewal => {
                        watched.unchanged_since
                    }
                    _ => read_at,
                };
                let silent_long_enough =
                    unchanged_since.elapsed() >= self.timing.valid_for + self.timing.under_way_max;
                lease.watched = Some(Watched {
                    holder: holder.clone(),
                    renewal,
                    unchanged_since,
                    read_at,
                });
                silent_long_enough
                    && cql::conditional(
                        &self.session,
                        &self.statements.take_over,
                        (&self.holder, tenant_id, &holder, renewal),
                    )
                    .await?
            }
        };
        if taken {
            self.set_held(
                tenant_id,
                lease,
                Some(Held {
                    renewed_at: sent,
                    renewal: 0,
                }),
            );
            return Ok(());
        }
        match &lease.watched {
            Some(watched) => Err(self.held_by_another(tenant_id, watched)),
            // Lost a race for a free lease: the next request reads who won.
            None => Err(StoreError::Unavailable(format!(
                "the order-writer lease of tenant {tenant_id} was just taken by another process"
            ))),
        }
    }

    fn held_by_another(&self, tenant_id: &str, watched: &Watched) -> StoreError {
        let wait = (self.timing.valid_for + self.timing.under_way_max)
            .saturating_sub(watched.unchanged_since.elapsed());
        StoreError::Unavailable(format!(
            "the orders of tenant {tenant_id} in this region are written by another process ({}); \
             this one takes over if it stays silent for {} s more",
            watched.holder,
            wait.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    //! On the real test node, with leases timed short: two stores stand for two processes of
    //! one region serving one tenant.
    use super::super::{testing, ScyllaStore};
    use super::*;
    use crate::model::OrderOutcome;
    use crate::traits::OrderStore;
    use testing::order_request as new_order;

    const SHORT: LeaseTiming = LeaseTiming {
        valid_for: Duration::from_millis(1000),
        renew_after: Duration::from_millis(200),
        under_way_max: Duration::from_millis(1000),
    };

    async fn two_processes() -> (ScyllaStore, ScyllaStore, String) {
        let open = || ScyllaStore::open_with(testing::shared_deployment(), SHORT);
        let (first, second) = tokio::join!(open(), open());
        (
            first.expect("the store opens"),
            second.expect("the store opens"),
            testing::unique_prefix("lease"),
        )
    }

    async fn created(store: &ScyllaStore, tenant: &str, order_id: &str) -> bool {
        match store
            .create_order(tenant, new_order(order_id, &format!("key-{order_id}")))
            .await
        {
            Ok(OrderOutcome::Created(_)) => true,
            Err(StoreError::Unavailable(_)) => false,
            other => panic!("order {order_id} answered {other:?}"),
        }
    }

    /// Whether the order id or the request's key was written at all.
    async fn anything_written(store: &ScyllaStore, tenant: &str, order_id: &str) -> bool {
        let deployment = testing::shared_deployment();
        let keyspace = deployment.regional_keyspace(&deployment.region);
        let keys = store
            .session
            .query_unpaged(
                format!(
                    "SELECT order_id FROM {keyspace}.order_requests WHERE tenant_id = ? AND idempotency_key = ?"
                ),
                (tenant, format!("key-{order_id}")),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .rows_num();
        keys > 0 || store.read_order(tenant, order_id).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_second_process_writes_nothing_while_the_first_holds_the_lease() {
        let (first, second, tenant) = two_processes().await;
        assert!(created(&first, &tenant, "o-1").await);
        for n in 0..3 {
            let order_id = format!("o-second-{n}");
            assert!(!created(&second, &tenant, &order_id).await, "{order_id}");
            assert!(!anything_written(&second, &tenant, &order_id).await);
            // The holder keeps writing, renewing as it goes.
            assert!(created(&first, &tenant, &format!("o-first-{n}")).await);
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }

    #[tokio::test]
    async fn a_silent_holder_is_taken_over_after_the_wait_and_then_writes_nothing() {
        let (first, second, tenant) = two_processes().await;
        assert!(created(&first, &tenant, "o-1").await);
        // The second process starts watching; the first falls silent (paused, or gone).
        assert!(!created(&second, &tenant, "o-2").await);
        let wait = SHORT.valid_for + SHORT.under_way_max;
        tokio::time::sleep(wait / 2).await;
        assert!(
            !created(&second, &tenant, "o-2").await,
            "taken over before the holder could have stopped"
        );
        tokio::time::sleep(wait / 2 + Duration::from_millis(300)).await;
        assert!(created(&second, &tenant, "o-2").await, "not taken over");
        // The old holder finds its renewal refused and writes nothing more.
        assert!(!created(&first, &tenant, "o-3").await);
        assert!(!anything_written(&first, &tenant, "o-3").await);
        assert!(created(&second, &tenant, "o-4").await);
    }

    #[tokio::test]
    async fn a_released_lease_is_taken_at_once() {
        let (first, second, tenant) = two_processes().await;
        assert!(created(&first, &tenant, "o-1").await);
        first.stop_writing_orders().await.unwrap();
        assert!(created(&second, &tenant, "o-3").await);
        assert!(!created(&first, &tenant, "o-4").await);
    }
}
