//! The outbox.

use super::tables::OUTBOX;
use super::{backend, EmbeddedStore};
use crate::error::StoreResult;
use crate::model::OutboxEvent;
use crate::traits::OutboxStore;
use async_trait::async_trait;
use redb::ReadableDatabase as _;

#[async_trait]
impl OutboxStore for EmbeddedStore {
    async fn pending_events(&self, after: u64, limit: usize) -> StoreResult<Vec<OutboxEvent>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(OUTBOX).map_err(backend)?;
        let mut events = Vec::new();
        for entry in table
            .range(after.saturating_add(1)..)
            .map_err(backend)?
            .take(limit)
        {
            let (sequence, value) = entry.map_err(backend)?;
            events.push(super::writer::decode_event(
                sequence.value(),
                value.value(),
            )?);
        }
        Ok(events)
    }

    async fn acknowledge_events(&self, sequences: Vec<u64>) -> StoreResult<()> {
        self.writer
            .write(move |context| {
                let outbox = context.outbox()?;
                for sequence in sequences {
                    outbox.remove(sequence).map_err(backend)?;
                }
                Ok(())
            })
            .await
    }
}
