//! Changes with their events, without multi-partition transactions.
//!
//! A change and its outbox event live in different partitions, and CQL makes a change
//! conditional (a lightweight transaction) only within one. So the event is written first, at
//! a sequence that stays in flight (invisible to readers), and the change records that
//! sequence in its own row when it is claimed. The event is real exactly when its change's
//! row holds its sequence: if the claim does not apply, the event is deleted before anyone
//! could see it; when this process cannot tell whether its claim applied, readers check the
//! doubtful event against the row at LOCAL_SERIAL (which settles any half-done transaction, so
//! the answer is final) and delete it if the row does not hold it. Events of an earlier process
//! are checked the same way, but deleted only once old enough that no claim of a process still
//! running can be under way.

use super::cql::to_bigint;
use super::outbox::Ticket;
use super::ScyllaStore;
use crate::error::StoreResult;
use crate::model::{NewEvent, OutboxEvent};
use std::future::Future;

/// How long a change can still be under way after its event was written: far beyond any
/// request's timeout (15 s), so an event older than this whose change is missing never
/// happened.
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
        match claim(ticket.sequence).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.outbox.delete_or_doubt(&self.session, &ticket).await;
                Ok(false)
            }
            Err(error) => {
                self.outbox.doubt(ticket.sequence);
                Err(error)
            }
        }
    }

    /// Checks a doubtful event against the row of its change.
    /// `ours`: the event is this process's, whose claims are all settled or failed.
    pub(super) async fn check_event(
        &self,
        event: &OutboxEvent,
        written_at_micros: i64,
        ours: bool,
    ) -> StoreResult<EventCheck> {
        let tenant_id = event.tenant_id.as_str();
        let sequence = to_bigint(event.sequence);
        let text = |field: &str| event.payload[field].as_str().unwrap_or_default().to_owned();
        let real = match event.kind.as_str() {
            "distributor.enrolled" | "distributor.updated" | "distributor.terminated" => {
                // A later change moves the row's sequence on: at or above means it happened.
                self.distributor_event_sequence(tenant_id, &text("id"), true)
                    .await?
                    .is_some_and(|recorded| recorded >= sequence)
            }
            "order.created" => self
                .read_order_at(tenant_id, &text("order_id"), true)
                .await?
                .is_some_and(|stored| stored.event_sequence == Some(sequence)),
            "order.refunded" => self
                .read_order_at(tenant_id, &text("order_id"), true)
                .await?
                .is_some_and(|stored| stored.refund_event_sequence == Some(sequence)),
            "transfer.posted" => self
                .read_transfer_at(tenant_id, &text("id"), true)
                .await?
                .is_some_and(|stored| stored.event_sequence == Some(sequence)),
            _ => true,
        };
        if real {
            return Ok(EventCheck::Real);
        }
        if ours {
            return Ok(EventCheck::Phantom);
        }
        let now_micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros() as i64);
        Ok(if now_micros - written_at_micros > UNDER_WAY_MAX_MICROS {
            EventCheck::Phantom
        } else {
            EventCheck::Undecided
        })
    }
}
