//! Reading a run's statements a page at a time, in byte order of the distributor ids.
//!
//! A run has a statement per distributor: at ten million that is gigabytes once parsed. Every
//! reader that walks a whole run — the run's files, posting, restatements, the next period's
//! carry state — goes through these pages, so that it holds one page however large the run.

use std::collections::VecDeque;
use std::sync::Arc;
use store::{Statement, Store, StoreResult};

/// Statements read from the store at once: about a megabyte of rows.
pub const STATEMENTS_PER_PAGE: usize = 4096;

/// The pages of one run's statements.
pub struct StatementPages {
    store: Arc<dyn Store>,
    tenant_id: String,
    run_id: String,
    /// The last distributor id read; `None` before the first page.
    after: Option<String>,
    finished: bool,
}

impl StatementPages {
    pub fn new(store: Arc<dyn Store>, tenant_id: &str, run_id: &str) -> StatementPages {
        StatementPages {
            store,
            tenant_id: tenant_id.to_owned(),
            run_id: run_id.to_owned(),
            after: None,
            finished: false,
        }
    }

    /// The next page of statements; an empty page is the end.
    pub async fn next_page(&mut self) -> StoreResult<Vec<Statement>> {
        if self.finished {
            return Ok(Vec::new());
        }
        let page = self
            .store
            .statements_after(
                &self.tenant_id,
                &self.run_id,
                self.after.as_deref(),
                STATEMENTS_PER_PAGE,
            )
            .await?;
        match page.last() {
            Some(last) => self.after = Some(last.distributor_id.clone()),
            None => self.finished = true,
        }
        Ok(page)
    }
}

/// A run's statements one at a time, a page read ahead: for walking two runs side by side.
pub struct StatementCursor {
    pages: StatementPages,
    read_ahead: VecDeque<Statement>,
}

impl StatementCursor {
    pub fn new(pages: StatementPages) -> StatementCursor {
        StatementCursor {
            pages,
            read_ahead: VecDeque::new(),
        }
    }

    /// The distributor id of the next statement, reading a page if none is waiting.
    pub async fn next_id(&mut self) -> StoreResult<Option<&str>> {
        if self.read_ahead.is_empty() {
            self.read_ahead = self.pages.next_page().await?.into();
        }
        Ok(self
            .read_ahead
            .front()
            .map(|statement| statement.distributor_id.as_str()))
    }

    /// Takes the statement that [`Self::next_id`] named.
    pub fn take(&mut self) -> Option<Statement> {
        self.read_ahead.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::embedded::EmbeddedStore;
    use store::RunStore as _;

    fn statement(id: &str) -> Statement {
        Statement {
            distributor_id: id.to_owned(),
            summary: format!("{id},true"),
            lines: vec![format!("{id},unilevel,x,1,1.0000,0.05,0.05")],
            state: format!("{id},0,0,Member"),
        }
    }

    /// A store holding a statement for each of `ids`, and its folder (removed when dropped).
    async fn store_with(ids: &[String]) -> (tempfile::TempDir, Arc<dyn Store>) {
        let folder = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(folder.path()).unwrap();
        store
            .put_statements("t", "r", ids.iter().map(|id| statement(id)).collect())
            .await
            .unwrap();
        (folder, Arc::new(store))
    }

    #[tokio::test]
    async fn pages_give_every_statement_once_in_byte_order() {
        // More than two pages, ids whose byte order is not their numeric order.
        let ids: Vec<String> = (0..2 * STATEMENTS_PER_PAGE + 17)
            .map(|n| format!("d{n}"))
            .collect();
        let (_folder, store) = store_with(&ids).await;
        let mut pages = StatementPages::new(store, "t", "r");
        let mut read = Vec::new();
        let mut page_count = 0;
        loop {
            let page = pages.next_page().await.unwrap();
            if page.is_empty() {
                break;
            }
            page_count += 1;
            read.extend(page.into_iter().map(|statement| statement.distributor_id));
        }
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(read, expected);
        assert_eq!(page_count, 3);
        assert!(pages.next_page().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cursor_names_then_takes_each_statement() {
        let ids: Vec<String> = (0..STATEMENTS_PER_PAGE + 3)
            .map(|n| format!("d{n:05}"))
            .collect();
        let (_folder, store) = store_with(&ids).await;
        let mut cursor = StatementCursor::new(StatementPages::new(store, "t", "r"));
        for id in &ids {
            assert_eq!(cursor.next_id().await.unwrap(), Some(id.as_str()));
            assert_eq!(cursor.take().unwrap().distributor_id, *id);
        }
        assert_eq!(cursor.next_id().await.unwrap(), None);
        assert!(cursor.take().is_none());
    }
}
