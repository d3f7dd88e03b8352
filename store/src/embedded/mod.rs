//! The embedded backend: one data directory holding one redb database, written through one
//! group-commit thread ([`writer`]) and read by any thread.
//!
//! It is stronger than the traits ask (a batch of steps commits as one), which nothing above the
//! traits relies on.

mod codec;
mod distributors;
mod leases;
mod ledger;
mod orders;
mod outbox;
mod runs;
mod tables;
mod tenants;
mod volumes;
mod writer;

use crate::error::{StoreError, StoreResult};
use redb::ReadableDatabase as _;
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use writer::{backend, WriteContext, Writer};

pub use writer::BATCH_JOBS_MAX;

type Bytes = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// The embedded store. Cheap to clone; every clone shares the database and its writer.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    writer: Writer,
    path: PathBuf,
}

/// The database file inside a data directory.
pub const DATABASE_FILE: &str = "upline.redb";

impl EmbeddedStore {
    /// Opens (or creates) the store in `data_dir`. Must be called inside a tokio runtime.
    pub fn open(data_dir: &Path) -> StoreResult<EmbeddedStore> {
        std::fs::create_dir_all(data_dir).map_err(|error| {
            StoreError::Backend(format!(
                "cannot create the data directory {}: {error}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let db = Database::builder()
            .set_cache_size(512 << 20)
            .create(&path)
            .map_err(|error| {
                StoreError::Backend(format!("cannot open {}: {error}", path.display()))
            })?;
        let txn = db.begin_write().map_err(backend)?;
        tables::create_all(&txn).map_err(backend)?;
        txn.commit().map_err(backend)?;
        let db = Arc::new(db);
        let writer = Writer::start(db.clone())?;
        Ok(EmbeddedStore { db, writer, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One record by key.
    fn get<T: DeserializeOwned>(&self, table: Bytes, key: &[u8]) -> StoreResult<Option<T>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(table).map_err(backend)?;
        let value = table.get(key).map_err(backend)?;
        value.map(|value| codec::decode(value.value())).transpose()
    }

    /// Every record under the key prefix `parts`, with the last part of its key, in key order.
    /// Runs on a blocking thread: a prefix may hold millions of records.
    async fn scan<T>(&self, table: Bytes, parts: &[&str]) -> StoreResult<Vec<(String, T)>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.scan_after(table, parts, None, usize::MAX).await
    }

    /// [`Self::scan`] from the first key after `after` (a whole key under `parts`), at most
    /// `limit` records.
    async fn scan_after<T>(
        &self,
        table: Bytes,
        parts: &[&str],
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> StoreResult<Vec<(String, T)>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        use std::ops::Bound;
        let db = self.db.clone();
        let (start, end) = codec::prefix_range(parts);
        blocking(move || {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(table).map_err(backend)?;
            let mut records = Vec::new();
            let from = match &after {
                Some(after) => Bound::Excluded(after.as_slice()),
                None => Bound::Included(start.as_slice()),
            };
            for entry in table
                .range::<&[u8]>((from, Bound::Excluded(end.as_slice())))
                .map_err(backend)?
                .take(limit)
            {
                let (key, value) = entry.map_err(backend)?;
                records.push((
                    codec::last_part(key.value())?,
                    codec::decode(value.value())?,
                ));
            }
            Ok(records)
        })
        .await
    }
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> StoreResult<R> + Send + 'static,
) -> StoreResult<R> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Backend(error.to_string()))?
}

/// A record inside a write batch.
fn get_in<T: DeserializeOwned>(
    context: &mut WriteContext<'_>,
    table: Bytes,
    key: &[u8],
) -> StoreResult<Option<T>> {
    let value = context.table(table)?.get(key).map_err(backend)?;
    value.map(|value| codec::decode(value.value())).transpose()
}

/// Writes a record inside a write batch.
fn put_in<T: Serialize>(
    context: &mut WriteContext<'_>,
    table: Bytes,
    key: &[u8],
    value: &T,
) -> StoreResult<()> {
    context
        .table(table)?
        .insert(key, codec::encode(value).as_slice())
        .map_err(backend)?;
    Ok(())
}
