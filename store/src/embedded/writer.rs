//! Group commit: one thread owns every write transaction.
//!
//! Writers send jobs; the thread takes every job waiting (up to [`BATCH_JOBS_MAX`]), runs them
//! in one transaction, commits it durably (fsync) and only then answers each job. Under load a
//! commit carries hundreds of requests, so durability costs one fsync per batch instead of one
//! per request — the throughput comes from batching, never from weakening durability.
//!
//! A job must check before it writes: a job that refuses (a conflict, a missing record) returns
//! its refusal (`StoreError::Conflict` or a value saying so) and leaves the transaction untouched,
//! so its neighbours in the batch commit. A job that fails in the backend fails the whole batch: nothing of it is committed and
//! every job in it gets the error.

use crate::error::{StoreError, StoreResult};
use crate::model::{NewEvent, OutboxEvent};
use redb::ReadableDatabase as _;
use redb::{Database, ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::tables::{META, OUTBOX};

/// The most jobs one commit carries (bounds the latency of the first job of a batch).
pub const BATCH_JOBS_MAX: usize = 4096;
/// Jobs waiting for the writer before senders wait too (back-pressure).
const QUEUE_JOBS_MAX: usize = 65_536;
const NEXT_SEQUENCE: &str = "outbox.next_sequence";

type BytesTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// What a job sees: the batch's tables and the outbox. Tables are opened once per batch and
/// shared by its jobs (opening one per access costs more than the access).
pub struct WriteContext<'t> {
    txn: &'t WriteTransaction,
    next_sequence: &'t mut u64,
    tables: Vec<(String, BytesTable<'t>)>,
    outbox: Option<Table<'t, u64, &'static [u8]>>,
}

impl<'t> WriteContext<'t> {
    /// The batch's handle on `definition`, opened on first use.
    pub fn table(
        &mut self,
        definition: TableDefinition<'static, &'static [u8], &'static [u8]>,
    ) -> StoreResult<&mut BytesTable<'t>> {
        let name = definition.name();
        let at = match self.tables.iter().position(|(open, _)| open == name) {
            Some(at) => at,
            None => {
                let name = name.to_owned();
                let table = self.txn.open_table(definition).map_err(backend)?;
                self.tables.push((name, table));
                self.tables.len() - 1
            }
        };
        Ok(&mut self.tables[at].1)
    }

    /// The outbox table, opened on first use.
    pub fn outbox(&mut self) -> StoreResult<&mut Table<'t, u64, &'static [u8]>> {
        if self.outbox.is_none() {
            self.outbox = Some(self.txn.open_table(OUTBOX).map_err(backend)?);
        }
        Ok(self.outbox.as_mut().expect("opened above"))
    }

    /// Appends an event to the outbox, in this transaction.
    pub fn emit(&mut self, tenant_id: &str, event: NewEvent) -> StoreResult<()> {
        self.emit_encoded(&encode_event(tenant_id, event))
    }

    /// Appends an event encoded beforehand (off the writer thread) to the outbox.
    pub fn emit_encoded(&mut self, event: &EncodedEvent) -> StoreResult<()> {
        let sequence = *self.next_sequence;
        self.outbox()?
            .insert(sequence, event.0.as_slice())
            .map_err(backend)?;
        *self.next_sequence += 1;
        Ok(())
    }
}

/// An outbox event as stored: everything but its sequence, which is its key.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub tenant_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// An event's stored bytes, made before the job runs.
pub struct EncodedEvent(Vec<u8>);

pub fn encode_event(tenant_id: &str, event: NewEvent) -> EncodedEvent {
    EncodedEvent(super::codec::encode(&StoredEvent {
        tenant_id: tenant_id.to_owned(),
        kind: event.kind.to_owned(),
        payload: event.payload,
    }))
}

/// The event stored under `sequence`.
pub fn decode_event(sequence: u64, bytes: &[u8]) -> StoreResult<OutboxEvent> {
    let stored: StoredEvent = super::codec::decode(bytes)?;
    Ok(OutboxEvent {
        sequence,
        tenant_id: stored.tenant_id,
        kind: stored.kind,
        payload: stored.payload,
    })
}

type Answer = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteContext<'_>) -> StoreResult<Answer> + Send>;

/// The sending side of the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `db`.
    pub fn start(db: Arc<Database>) -> StoreResult<Writer> {
        let next_sequence = read_next_sequence(&db)?;
        let (jobs, receiver) = mpsc::channel(QUEUE_JOBS_MAX);
        std::thread::Builder::new()
            .name("upline-store-writer".into())
            .spawn(move || write_loop(db, receiver, next_sequence))
            .map_err(|error| StoreError::Backend(error.to_string()))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in the next batch and answers once that batch is durable.
    pub async fn write<R, F>(&self, work: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteContext<'_>) -> StoreResult<R> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<StoreResult<R>>();
        let job: Job = Box::new(move |context| {
            let value = match work(context) {
                // A refusal wrote nothing: its neighbours in the batch go on.
                Err(refusal @ StoreError::Conflict { .. }) => Err(refusal),
                Err(failure) => return Err(failure),
                Ok(value) => Ok(value),
            };
            Ok(Box::new(move |committed: StoreResult<()>| {
                let _ = answer.send(committed.and(value));
            }))
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("the store writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Backend("a batch failed in the store writer".into()))?
    }
}

fn write_loop(db: Arc<Database>, mut receiver: mpsc::Receiver<Job>, mut next_sequence: u64) {
    let mut batch = Vec::with_capacity(BATCH_JOBS_MAX);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH_JOBS_MAX {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let sequence_before = next_sequence;
        match run_batch(&db, batch.drain(..), &mut next_sequence) {
            Ok(answers) => answers.into_iter().for_each(|answer| answer(Ok(()))),
            Err((error, answers)) => {
                next_sequence = sequence_before;
                let message = error.to_string();
                for answer in answers {
                    answer(Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }
}

/// Runs the jobs in one transaction and commits it. On failure the answers collected so far
/// come back to be failed; the jobs not yet run are dropped, which fails their callers too.
fn run_batch(
    db: &Database,
    jobs: impl Iterator<Item = Job>,
    next_sequence: &mut u64,
) -> Result<Vec<Answer>, (StoreError, Vec<Answer>)> {
    let txn = db
        .begin_write()
        .map_err(|error| (backend(error), Vec::new()))?;
    let mut answers = Vec::new();
    let mut context = WriteContext {
        txn: &txn,
        next_sequence,
        tables: Vec::new(),
        outbox: None,
    };
    for job in jobs {
        match job(&mut context) {
            Ok(answer) => answers.push(answer),
            Err(error) => return Err((error, answers)),
        }
    }
    let next = *context.next_sequence;
    drop(context);
    let saved = txn.open_table(META).map_err(backend).and_then(|mut meta| {
        meta.insert(NEXT_SEQUENCE, next)
            .map(|_| ())
            .map_err(backend)
    });
    if let Err(error) = saved {
        return Err((error, answers));
    }
    match txn.commit() {
        Ok(()) => Ok(answers),
        Err(error) => Err((backend(error), answers)),
    }
}

fn read_next_sequence(db: &Database) -> StoreResult<u64> {
    let txn = db.begin_read().map_err(backend)?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(1),
        Err(error) => return Err(backend(error)),
    };
    let stored = meta.get(NEXT_SEQUENCE).map_err(backend)?;
    let from_meta = stored.map(|value| value.value()).unwrap_or(1);
    // The outbox may hold a higher sequence only if META was lost; trust the larger.
    let from_outbox = match txn.open_table(OUTBOX) {
        Ok(outbox) => outbox
            .last()
            .map_err(backend)?
            .map(|(sequence, _)| sequence.value() + 1)
            .unwrap_or(1),
        Err(_) => 1,
    };
    Ok(from_meta.max(from_outbox))
}

/// Maps any redb error to the store's backend error.
pub fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}
