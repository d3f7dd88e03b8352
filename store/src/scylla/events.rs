//! Changes with their events, without multi-partition transactions.
//!
//! A change and its outbox event live in different partitions, and CQL makes a change
//! conditional (a lightweight transaction) only within one. So the event is written first, at
//! a sequence that stays in flight (invisible to readers), and the change records that
//! sequence in its own row when it is claimed. The event is real exactly when its change's
//! row holds its sequence: if the claim does not apply, the event is deleted before anyone
//! could see it. When the claim's outcome is unknown (a timeout, the node going away), readers
//! check the doubtful event against the row at LOCAL_SERIAL, which settles any half-done
//! transaction. A row holding the event makes it real; a row that never can (the order id
//! taken under another sequence) makes it a phantom, deleted at once. A row that merely does
//! not hold it yet decides nothing while the event is recent: the request the client gave up
//! on may still be queued at the coordinator and apply after the read. Readers stop before
//! such an event and delete it only once it is older than any claim can be under way, the
//! same for this process's events and an earlier process's.

use super::cql::to_bigint;
use super::outbox::Ticket;
use super::ScyllaStore;
use crate::error::StoreResult;
use crate::model::{NewEvent, OrderStatus, OutboxEvent};
use std::future::Future;

/// How long a change can still be under way after its event was written: far beyond the
/// driver's request timeout (15 s) and a coordinator's own timeouts, so an event older than
/// this whose change is missing never happened.
const UNDER_WAY_MAX_MICROS: i64 = 60_000_000;

/// What a reader concludes about a doubtful event.
pub(super) enum EventCheck {
    Real,
    /// Its change never happened.
    Phantom,
    /// Its change may still be under way: do not read past it yet.
    Undecided,
}

impl ScyllaStore {
    /// Writes `event` at a fresh sequence, then runs `claim(sequence)`, which makes the change
    /// (conditionally) and records the sequence in its row; the event is kept if it applied.
    pub(super) async fn with_event<'s, Claim, Claimed>(
        &'s self,
        tenant_id: &str,
        event: NewEvent,
        claim: Claim,
    ) -> StoreResult<bool>
    where
        Claim: FnOnce(u64) -> Claimed,
        Claimed: Future<Output = StoreResult<bool>> + 's,
    {
        let ticket = self.outbox.ticket(&self.session).await?;
        self.with_event_on(ticket, tenant_id, event, claim).await
    }

    /// [`Self::with_event`] at a sequence taken beforehand (a batch takes its sequences in
    /// input order, then makes its changes in parallel: the events keep the input's order).
    pub(super) async fn with_event_on<'s, Claim, Claimed>(
        &'s self,
        ticket: Ticket<'s>,
        tenant_id: &str,
        event: NewEvent,
        claim: Claim,
    ) -> StoreResult<bool>
    where
        Claim: FnOnce(u64) -> Claimed,
        Claimed: Future<Output = StoreResult<bool>> + 's,
    {
        self.outbox
            .write_or_doubt(&self.session, &ticket, tenant_id, &event)
            .await?;
        self.claim_written(ticket, claim).await
    }

    /// The rest of [`Self::with_event_on`] once the ticket's event is written (by the caller,
    /// perhaps together with another row of its request).
    pub(super) async fn claim_written<'s, Claim, Claimed>(
        &'s self,
        ticket: Ticket<'s>,
        claim: Claim,
    ) -> StoreResult<bool>
    where
        Claim: FnOnce(u64) -> Claimed,
        Claimed: Future<Output = StoreResult<bool>> + 's,
    {
        let outcome = match claim(ticket.sequence).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.outbox.delete_or_doubt(&self.session, &ticket).await;
                Ok(false)
            }
            Err(error) => {
                self.outbox.doubt(ticket.sequence);
                Err(error)
            }
        };
        ticket.settle();
        outcome
    }

    /// Checks a doubtful event against the row of its change. A row that does not hold the
    /// event settles nothing by itself while the event is recent: a claim the client gave up
    /// on (a timeout) may still be queued at a coordinator and apply after this read, ours or
    /// an earlier process's alike. Only a row that can never come to hold it (an order id
    /// claimed with another sequence, a refund made under another) is final at once.
    pub(super) async fn check_event(
        &self,
        event: &OutboxEvent,
        written_at_micros: i64,
    ) -> StoreResult<EventCheck> {
        let tenant_id = event.tenant_id.as_str();
        let sequence = to_bigint(event.sequence);
        let text = |field: &str| event.payload[field].as_str().unwrap_or_default().to_owned();
        let found = match event.kind.as_str() {
            "distributor.enrolled" | "distributor.updated" | "distributor.terminated" => {
                // A later change moves the row's sequence on: at or above means it happened.
                let recorded = self
                    .distributor_event_sequence(tenant_id, &text("id"), true)
                    .await?;
                RowSays::holds(recorded.is_some_and(|recorded| recorded >= sequence))
            }
            // An order id is claimed once, with the sequence of its one event.
            "order.created" => match self
                .read_order_at(tenant_id, &text("order_id"), true)
                .await?
            {
                Some(stored) if stored.event_sequence == Some(sequence) => RowSays::Holds,
                Some(_) => RowSays::NeverWill,
                None => RowSays::NotYet,
            },
            // An order is refunded once, under the sequence of its one refund event.
            "order.refunded" => match self
                .read_order_at(tenant_id, &text("order_id"), true)
                .await?
            {
                Some(stored) if stored.refund_event_sequence == Some(sequence) => RowSays::Holds,
                Some(stored) if stored.order.status == OrderStatus::Refunded => RowSays::NeverWill,
                _ => RowSays::NotYet,
            },
            "transfer.posted" => {
                let stored = self.read_transfer_at(tenant_id, &text("id"), true).await?;
                RowSays::holds(stored.is_some_and(|stored| stored.event_sequence == Some(sequence)))
            }
            _ => RowSays::Holds,
        };
        Ok(match found {
            RowSays::Holds => EventCheck::Real,
            RowSays::NeverWill => EventCheck::Phantom,
            RowSays::NotYet if micros_since(written_at_micros) > UNDER_WAY_MAX_MICROS => {
                EventCheck::Phantom
            }
            RowSays::NotYet => EventCheck::Undecided,
        })
    }
}

/// What the row of a doubtful event's change says about it.
enum RowSays {
    Holds,
    /// The row can never come to hold this event.
    NeverWill,
    /// The row does not hold it now; a claim still under way might change that.
    NotYet,
}

impl RowSays {
    fn holds(holds: bool) -> RowSays {
        if holds {
            RowSays::Holds
        } else {
            RowSays::NotYet
        }
    }
}

fn micros_since(micros: i64) -> i64 {
    let now_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as i64);
    now_micros - micros
}

#[cfg(test)]
mod tests {
    //! On the real test node: a claim this process gave up on may still apply later, and
    //! its event must then be there to be read.
    use super::super::testing;
    use super::*;
    use crate::model::{NewOrder, OrderOutcome};
    use crate::traits::{OrderStore, OutboxStore};

    const TENANT: &str = "late";

    fn new_order(order_id: &str) -> NewOrder {
        testing::order_request(order_id, &format!("key-{order_id}"))
    }

    /// An order's event written at a ticket of its own, the claim not made.
    async fn event_written<'s>(store: &'s ScyllaStore, new_order: &NewOrder) -> Ticket<'s> {
        let ticket = store.outbox.ticket(&store.session).await.unwrap();
        let event = NewEvent {
            kind: "order.created",
            payload: serde_json::to_value(&new_order.order).unwrap(),
        };
        store
            .outbox
            .write(&store.session, ticket.sequence, TENANT, &event)
            .await
            .unwrap();
        ticket
    }

    /// An order's event written, and its claim's outcome unknown to this process (as after
    /// a timeout): the ticket is given up with the event doubted, the order row untouched.
    async fn event_with_claim_unknown(store: &ScyllaStore, new_order: &NewOrder) -> u64 {
        let ticket = event_written(store, new_order).await;
        store.outbox.doubt(ticket.sequence);
        ticket.settle();
        ticket.sequence
    }

    async fn store_of_its_own(label: &str) -> ScyllaStore {
        let config = testing::config(&testing::unique_prefix(label), "test");
        let session = super::super::connect(&config).await.unwrap();
        super::super::migrate(&session, &config).await.unwrap();
        ScyllaStore::open(&config).await.unwrap()
    }

    fn sequences(events: &[OutboxEvent]) -> Vec<u64> {
        events.iter().map(|event| event.sequence).collect()
    }

    #[tokio::test]
    async fn a_sequence_taken_after_a_readers_bound_is_above_it() {
        let store = store_of_its_own("bound").await;
        let settled = store.outbox.ticket(&store.session).await.unwrap().sequence;
        // Nothing in flight now: a reader's bound covers what is settled and nothing more.
        let bound = store.outbox.visible_through();
        assert!(bound >= settled, "bound {bound} hides settled {settled}");
        let next = store.outbox.ticket(&store.session).await.unwrap();
        assert!(
            next.sequence > bound,
            "sequence {} taken after the bound {bound} would be read while in flight",
            next.sequence
        );
    }

    #[tokio::test]
    async fn a_claim_that_applies_after_the_read_keeps_its_event() {
        let store = store_of_its_own("late_claim").await;
        let late = new_order("o-late");
        let sequence = event_with_claim_unknown(&store, &late).await;
        // The row does not hold the event yet: the reader waits on it and deletes nothing,
        // while the claim the client gave up on reaches the node a second later.
        let reading = store.pending_events(0, 100);
        store.leases.hold(TENANT).await.unwrap();
        let late_claim = async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            store.claim_order(TENANT, &late, Some(sequence)).await
        };
        let (events, claimed) = tokio::join!(reading, late_claim);
        assert!(claimed.unwrap(), "the late claim applies");
        let events = events.unwrap();
        assert_eq!(sequences(&events), vec![sequence], "{events:?}");
    }

    #[tokio::test]
    async fn an_order_id_claimed_under_another_sequence_makes_the_event_a_phantom_at_once() {
        let store = store_of_its_own("phantom").await;
        let doubted = new_order("o-retried");
        let phantom = event_with_claim_unknown(&store, &doubted).await;
        // The client's retry created the order under a sequence of its own.
        let OrderOutcome::Created(_) = store.create_order(TENANT, doubted).await.unwrap() else {
            panic!("the retry creates the order");
        };
        let events = store.pending_events(0, 100).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].sequence > phantom, "{events:?}");
        // Deleted for good: a reader from the start never sees it again.
        let again = store.pending_events(0, 100).await.unwrap();
        assert_eq!(sequences(&again), sequences(&events));
        // And still doubted: a reader that read the event before its deletion (a close's sync
        // beside the projector) checks it, instead of taking it as real — the outage test
        // found orders counted many times over that way.
        assert!(store.outbox.is_doubtful(phantom));
    }

    #[tokio::test]
    async fn the_event_of_a_request_that_went_away_before_its_claim_is_checked() {
        let store = store_of_its_own("gone").await;
        let abandoned = new_order("o-abandoned");
        // What a request future dropped between its event and its claim leaves (the client
        // hung up): the event written, the ticket dropped, nothing said about the claim.
        let gone = event_written(&store, &abandoned).await.sequence;
        // The client's retry makes the order under a sequence of its own: the first event
        // must not count as a second order.
        let OrderOutcome::Created(_) = store.create_order(TENANT, abandoned).await.unwrap() else {
            panic!("the retry creates the order");
        };
        let events = store.pending_events(0, 100).await.unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].sequence > gone, "{events:?}");
    }

    #[tokio::test]
    async fn retries_of_an_order_whose_write_went_away_leave_one_event() {
        let config = testing::config(&testing::unique_prefix("unsettled"), "test");
        let session = super::super::connect(&config).await.unwrap();
        super::super::migrate(&session, &config).await.unwrap();
        let timing = super::super::LeaseTiming {
            under_way_max: std::time::Duration::from_secs(2),
            ..Default::default()
        };
        let store = ScyllaStore::open_with(&config, timing).await.unwrap();
        let first = new_order("o-gone");
        // A write of this order id whose outcome is unknown (and that never lands).
        store.claims.unsettled.lock().unwrap().insert(
            (TENANT.to_owned(), "o-gone".to_owned()),
            std::time::Instant::now(),
        );
        // Retries meanwhile are refused; then one is answered. A reader follows the outbox
        // all along, as the volume projector does.
        let done = std::sync::atomic::AtomicBool::new(false);
        let retries = async {
            let mut refused = 0;
            let answered = loop {
                match store.create_order(TENANT, first.clone()).await {
                    Err(crate::StoreError::Unavailable(_)) => refused += 1,
                    other => break other.unwrap(),
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (refused, answered)
        };
        let reader = async {
            let mut read = Vec::new();
            let mut cursor = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let events = store.pending_events(cursor, 1000).await.unwrap();
                if let Some(last) = events.last() {
                    cursor = last.sequence;
                }
                read.extend(events);
                if finished {
                    let rest = store.pending_events(cursor, 1000).await.unwrap();
                    read.extend(rest);
                    return read;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        let ((refused, answered), read) = tokio::join!(retries, reader);
        assert!(refused > 0, "no retry was refused");
        assert!(matches!(answered, OrderOutcome::Created(_)), "{answered:?}");
        assert_eq!(read.len(), 1, "{refused} refused retries: {read:?}");
    }
}
