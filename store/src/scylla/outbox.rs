//! The outbox: events in sequence order, and the sequencer that numbers them.
//!
//! A sequence is taken before the change it describes is claimed and stays "in flight" until
//! the event is written (or the change is refused). Readers see events only below the lowest
//! sequence in flight, so an event never appears behind one a reader has passed already: the
//! volume projector follows the outbox with a cursor and relies on that. Sequences come in
//! blocks claimed from `outbox_sequence` with a lightweight transaction, so two processes
//! never share one; the ordering guarantee is for the events of this process, which is the
//! one writer of its region (a second writer per region needs per-writer streams: the NATS
//! relay's work).

use super::cql::{self, to_bigint};
use crate::error::{StoreError, StoreResult};
use crate::model::{NewEvent, OutboxEvent};
use crate::traits::OutboxStore;
use async_trait::async_trait;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::SerialConsistency;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::events::EventCheck;
use super::ScyllaStore;

/// Sequences per partition of `outbox`.
const SHARD_BITS: u32 = 16;
/// Sequences claimed at once: one lightweight transaction per this many events.
const BLOCK: u64 = 4096;
/// How often a reader looks again at a doubtful event whose change may still be under way.
const UNDECIDED_RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

fn shard(sequence: u64) -> i64 {
    to_bigint(sequence >> SHARD_BITS)
}

pub(super) struct Outbox {
    insert: PreparedStatement,
    read_shard: PreparedStatement,
    delete_range: PreparedStatement,
    read_counter: PreparedStatement,
    create_counter: PreparedStatement,
    advance_counter: PreparedStatement,
    write_floor: PreparedStatement,
    /// Serialises block claims (one at a time is enough, and avoids racing ourselves).
    refill: tokio::sync::Mutex<()>,
    numbers: Mutex<Numbers>,
    /// The lowest shard that may hold events (persisted in `outbox_sequence`, row `floor`).
    floor: AtomicU64,
    /// The allocation high-water mark found at start: events of earlier processes lie below,
    /// and any of them may be one whose change never happened (the process died between).
    found_at_start: u64,
    /// Sequences of this process whose change has an unknown outcome (a failure in between).
    doubtful: Mutex<BTreeSet<u64>>,
}

struct Numbers {
    next: u64,
    block_end: u64,
    in_flight: BTreeSet<u64>,
}

/// A sequence in flight: readers see nothing at or above it until it is dropped (after its
/// event is written, or when the change it was for did not happen).
///
/// A ticket dropped before its change's outcome was settled — the request went away halfway,
/// as a future does when its client hangs up — leaves its event doubted: the event may be
/// written while the change never happens (or happens later), so readers check it against
/// the change instead of taking it as real.
pub(super) struct Ticket<'o> {
    pub sequence: u64,
    outbox: &'o Outbox,
    settled: AtomicBool,
}

impl Ticket<'_> {
    /// The change's outcome is known and dealt with: the event is real, deleted, or doubted.
    pub(super) fn settle(&self) {
        self.settled.store(true, Ordering::Relaxed);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::Relaxed) {
            self.outbox.doubt(self.sequence);
        }
        let mut numbers = self.outbox.numbers.lock().expect("outbox numbers lock");
        numbers.in_flight.remove(&self.sequence);
    }
}

impl Outbox {
    pub(super) async fn prepare(session: &Session, keyspace: &str) -> Result<Outbox, String> {
        let mut read_counter = cql::prepare(
            session,
            format!("SELECT next FROM {keyspace}.outbox_sequence WHERE name = ?"),
            true,
        )
        .await?;
        // Read at SERIAL: sees the claims other processes' transactions committed.
        read_counter.set_consistency(scylla::statement::Consistency::LocalSerial);
        let mut create_counter = cql::prepare(
            session,
            format!(
                "INSERT INTO {keyspace}.outbox_sequence (name, next) VALUES (?, 1) IF NOT EXISTS"
            ),
            false,
        )
        .await?;
        create_counter.set_serial_consistency(Some(SerialConsistency::LocalSerial));
        let outbox = Outbox {
            insert: cql::prepare(
                session,
                format!(
                    "INSERT INTO {keyspace}.outbox (shard, sequence, tenant_id, kind, payload) \
                     VALUES (?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            read_shard: cql::prepare(
                session,
                format!(
                    "SELECT sequence, tenant_id, kind, payload, WRITETIME(payload) FROM {keyspace}.outbox \
                     WHERE shard = ? AND sequence > ? AND sequence <= ? LIMIT ?"
                ),
                true,
            )
            .await?,
            delete_range: cql::prepare(
                session,
                format!(
                    "DELETE FROM {keyspace}.outbox WHERE shard = ? AND sequence >= ? AND sequence <= ?"
                ),
                true,
            )
            .await?,
            advance_counter: cql::prepare(
                session,
                format!("UPDATE {keyspace}.outbox_sequence SET next = ? WHERE name = ? IF next = ?"),
                false,
            )
            .await?,
            write_floor: cql::prepare(
                session,
                format!("INSERT INTO {keyspace}.outbox_sequence (name, next) VALUES ('floor', ?)"),
                true,
            )
            .await?,
            read_counter,
            create_counter,
            refill: tokio::sync::Mutex::new(()),
            numbers: Mutex::new(Numbers {
                next: 0,
                block_end: 0,
                in_flight: BTreeSet::new(),
            }),
            floor: AtomicU64::new(0),
            found_at_start: 0,
            doubtful: Mutex::new(BTreeSet::new()),
        };
        let found_at_start = outbox
            .counter_in(session, "next")
            .await
            .map_err(|error| error.to_string())?
            .unwrap_or(1);
        let floor = outbox
            .counter_in(session, "floor")
            .await
            .map_err(|error| error.to_string())?
            .unwrap_or(0);
        outbox.floor.store(floor, Ordering::SeqCst);
        Ok(Outbox {
            found_at_start,
            ..outbox
        })
    }

    /// Takes the next sequence; it is in flight until the ticket is dropped.
    pub(super) async fn ticket(&self, session: &Session) -> StoreResult<Ticket<'_>> {
        loop {
            {
                let mut numbers = self.numbers.lock().expect("outbox numbers lock");
                if numbers.next < numbers.block_end {
                    let sequence = numbers.next;
                    numbers.next += 1;
                    numbers.in_flight.insert(sequence);
                    return Ok(Ticket {
                        sequence,
                        outbox: self,
                        settled: AtomicBool::new(false),
                    });
                }
            }
            self.claim_block(session).await?;
        }
    }

    /// Claims the next block of sequences with a compare-and-set on the counter. A claim whose
    /// outcome is unknown (a timeout) is simply claimed again: a lost block is only a gap.
    async fn claim_block(&self, session: &Session) -> StoreResult<()> {
        let _one_at_a_time = self.refill.lock().await;
        {
            let numbers = self.numbers.lock().expect("outbox numbers lock");
            if numbers.next < numbers.block_end {
                return Ok(());
            }
        }
        for _attempt in 0..100 {
            let current = match self.counter_in(session, "next").await? {
                Some(current) => current,
                None => {
                    cql::conditional(session, &self.create_counter, ("next",)).await?;
                    continue;
                }
            };
            let end = current + BLOCK;
            let claimed = cql::conditional(
                session,
                &self.advance_counter,
                (to_bigint(end), "next", to_bigint(current)),
            )
            .await;
            match claimed {
                Ok(true) => {
                    let mut numbers = self.numbers.lock().expect("outbox numbers lock");
                    numbers.next = current;
                    numbers.block_end = end;
                    return Ok(());
                }
                Ok(false) | Err(StoreError::Unavailable(_)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Unavailable(
            "could not claim outbox sequences: too much contention".into(),
        ))
    }

    async fn counter_in(&self, session: &Session, name: &str) -> StoreResult<Option<u64>> {
        let row: Option<(Option<i64>,)> =
            cql::maybe_row(session, &self.read_counter, (name,)).await?;
        Ok(row.and_then(|(next,)| next).map(|next| next as u64))
    }

    /// The statement that writes an event, for a batch with another row of the same request;
    /// its values are [`Outbox::event_row`].
    pub(super) fn insert_statement(&self) -> &PreparedStatement {
        &self.insert
    }

    /// The values of [`Outbox::insert_statement`] for the event at `sequence`.
    pub(super) fn event_row<'e>(
        sequence: u64,
        tenant_id: &'e str,
        event: &'e NewEvent,
    ) -> (i64, i64, &'e str, &'e str, String) {
        let payload = serde_json::to_string(&event.payload).expect("events serialize");
        (
            shard(sequence),
            to_bigint(sequence),
            tenant_id,
            event.kind,
            payload,
        )
    }

    /// Writes the event of a ticket (idempotent: a retry writes the same row).
    pub(super) async fn write(
        &self,
        session: &Session,
        sequence: u64,
        tenant_id: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        cql::execute(
            session,
            &self.insert,
            Outbox::event_row(sequence, tenant_id, event),
        )
        .await
    }

    /// Writes a ticket's event; when that fails the event may exist, so it is doubted.
    pub(super) async fn write_or_doubt(
        &self,
        session: &Session,
        ticket: &Ticket<'_>,
        tenant_id: &str,
        event: &NewEvent,
    ) -> StoreResult<()> {
        let written = self.write(session, ticket.sequence, tenant_id, event).await;
        if written.is_err() {
            self.doubt(ticket.sequence);
        }
        written
    }

    /// Deletes the event of a change that did not happen (its ticket still held, so no reader
    /// has seen it); when that fails, readers check it against the change.
    pub(super) async fn delete_or_doubt(&self, session: &Session, ticket: &Ticket<'_>) {
        if self.delete(session, ticket.sequence).await.is_err() {
            self.doubt(ticket.sequence);
        }
    }

    /// Deletes one event (idempotent).
    async fn delete(&self, session: &Session, sequence: u64) -> StoreResult<()> {
        let bound = to_bigint(sequence);
        cql::execute(session, &self.delete_range, (shard(sequence), bound, bound)).await
    }

    /// Marks an event whose change has an unknown outcome: readers check it.
    pub(super) fn doubt(&self, sequence: u64) {
        self.doubtful
            .lock()
            .expect("outbox doubts lock")
            .insert(sequence);
    }

    /// Whether readers must check the event against the change it describes.
    pub(super) fn is_doubtful(&self, sequence: u64) -> bool {
        sequence < self.found_at_start
            || self
                .doubtful
                .lock()
                .expect("outbox doubts lock")
                .contains(&sequence)
    }

    /// A doubtful event found real: readers take it as it is from now on. (A phantom stays
    /// doubtful: it is deleted, and a reader that read it before that checks it again.)
    fn resolve(&self, sequence: u64) {
        self.doubtful
            .lock()
            .expect("outbox doubts lock")
            .remove(&sequence);
    }

    /// Every sequence at or below this is final: written, or never to be. With nothing in
    /// flight that is everything below the next sequence to be taken (or below the ones an
    /// earlier process took) — never more: a ticket taken after this bound is read, and its
    /// event written before the reader's query runs, must stay out of that read, or an event
    /// below it still being written would be passed for good.
    pub(super) fn visible_through(&self) -> u64 {
        let numbers = self.numbers.lock().expect("outbox numbers lock");
        match numbers.in_flight.first() {
            Some(&lowest) => lowest - 1,
            None => numbers.next.max(self.found_at_start).saturating_sub(1),
        }
    }
}

#[async_trait]
impl OutboxStore for ScyllaStore {
    async fn pending_events(&self, after: u64, limit: usize) -> StoreResult<Vec<OutboxEvent>> {
        let outbox = &self.outbox;
        let session = &*self.session;
        // The bound is read first: a sequence taken after it is above it.
        let through = outbox.visible_through();
        let mut events = Vec::new();
        if after >= through {
            return Ok(events);
        }
        let floor = outbox.floor.load(Ordering::SeqCst);
        let first_shard = shard(after.saturating_add(1)).max(floor as i64);
        let last_shard = shard(through);
        for shard_number in first_shard..=last_shard {
            let wanted = limit - events.len();
            let rows: Vec<(i64, String, String, String, Option<i64>)> = cql::all_rows(
                session,
                &outbox.read_shard,
                (
                    shard_number,
                    to_bigint(after),
                    to_bigint(through),
                    wanted.min(i32::MAX as usize) as i32,
                ),
            )
            .await?;
            // An empty shard read from its start and wholly visible is drained for good.
            let read_from_its_start = to_bigint(after) < shard_number << SHARD_BITS;
            if rows.is_empty() && read_from_its_start && shard_number < last_shard {
                outbox.advance_floor(session, shard_number as u64).await?;
            }
            for (sequence, tenant_id, kind, payload, written_at_us) in rows {
                let payload = serde_json::from_str(&payload).map_err(|error| {
                    StoreError::Corrupt(format!("outbox event {sequence}: {error}"))
                })?;
                let event = OutboxEvent {
                    sequence: sequence as u64,
                    tenant_id,
                    kind,
                    payload,
                };
                if outbox.is_doubtful(event.sequence) {
                    let real = loop {
                        match self.check_event(&event, written_at_us.unwrap_or(0)).await? {
                            EventCheck::Real => break true,
                            EventCheck::Phantom => {
                                outbox.delete(session, event.sequence).await?;
                                break false;
                            }
                            // Its change may still be under way: hand out what lies before
                            // it, or wait for it to settle. Nothing behind it is read first, so
                            // a close waiting for the volumes waits for it too.
                            EventCheck::Undecided if !events.is_empty() => return Ok(events),
                            EventCheck::Undecided => tokio::time::sleep(UNDECIDED_RECHECK).await,
                        }
                    };
                    if !real {
                        // Stays doubtful: another reader (a close's sync beside the projector)
                        // may have read the event before it was deleted, and must not take it
                        // as real when it looks at it after this decision.
                        continue;
                    }
                    outbox.resolve(event.sequence);
                }
                events.push(event);
            }
            if events.len() >= limit {
                break;
            }
        }
        Ok(events)
    }

    async fn acknowledge_events(&self, mut sequences: Vec<u64>) -> StoreResult<()> {
        sequences.sort_unstable();
        sequences.dedup();
        // Consecutive sequences of one shard go as one range deletion: one tombstone instead
        // of thousands, which keeps a drained partition cheap to read.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for sequence in sequences {
            match runs.last_mut() {
                Some((_, last)) if *last + 1 == sequence && shard(*last) == shard(sequence) => {
                    *last = sequence
                }
                _ => runs.push((sequence, sequence)),
            }
        }
        for (first, last) in runs {
            cql::execute(
                &self.session,
                &self.outbox.delete_range,
                (shard(first), to_bigint(first), to_bigint(last)),
            )
            .await?;
        }
        Ok(())
    }
}

impl Outbox {
    /// Records that `shard` (read empty, and wholly below what is visible) holds no events:
    /// readers start above it. Only the floor's next shard moves it, so it never skips one.
    async fn advance_floor(&self, session: &Session, empty_shard: u64) -> StoreResult<()> {
        if self.floor.load(Ordering::SeqCst) != empty_shard {
            return Ok(());
        }
        self.floor.store(empty_shard + 1, Ordering::SeqCst);
        cql::execute(session, &self.write_floor, (to_bigint(empty_shard + 1),)).await
    }
}
