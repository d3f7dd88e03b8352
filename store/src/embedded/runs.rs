//! Commission runs and statements.

use super::codec::key;
use super::tables::{RUNS, STATEMENTS};
use super::{get_in, put_in, EmbeddedStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{Run, RunStatus, Statement};
use crate::traits::RunStore;
use async_trait::async_trait;

#[async_trait]
impl RunStore for EmbeddedStore {
    async fn create_run(&self, tenant_id: &str, run: Run) -> StoreResult<()> {
        let run_key = key(&[tenant_id, &run.run_id]);
        self.writer
            .write(move |context| {
                if get_in::<Run>(context, RUNS, &run_key)?.is_some() {
                    return Err(StoreError::conflict(format!("run {:?}", run.run_id)));
                }
                put_in(context, RUNS, &run_key, &run)
            })
            .await
    }

    async fn update_run(
        &self,
        tenant_id: &str,
        expected: RunStatus,
        run: Run,
    ) -> StoreResult<bool> {
        let run_key = key(&[tenant_id, &run.run_id]);
        self.writer
            .write(
                move |context| match get_in::<Run>(context, RUNS, &run_key)? {
                    Some(stored) if stored.status == expected => {
                        put_in(context, RUNS, &run_key, &run)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )
            .await
    }

    async fn run(&self, tenant_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        self.get(RUNS, &key(&[tenant_id, run_id]))
    }

    async fn runs(&self, tenant_id: &str) -> StoreResult<Vec<Run>> {
        Ok(self
            .scan(RUNS, &[tenant_id])
            .await?
            .into_iter()
            .map(|(_, run)| run)
            .collect())
    }

    async fn put_statements(
        &self,
        tenant_id: &str,
        run_id: &str,
        statements: Vec<Statement>,
    ) -> StoreResult<()> {
        let (tenant_id, run_id) = (tenant_id.to_owned(), run_id.to_owned());
        self.writer
            .write(move |context| {
                for statement in &statements {
                    let statement_key = key(&[&tenant_id, &run_id, &statement.distributor_id]);
                    put_in(context, STATEMENTS, &statement_key, statement)?;
                }
                Ok(())
            })
            .await
    }

    async fn statement(
        &self,
        tenant_id: &str,
        run_id: &str,
        distributor_id: &str,
    ) -> StoreResult<Option<Statement>> {
        self.get(STATEMENTS, &key(&[tenant_id, run_id, distributor_id]))
    }

    async fn statements(&self, tenant_id: &str, run_id: &str) -> StoreResult<Vec<Statement>> {
        let statements = self.scan(STATEMENTS, &[tenant_id, run_id]).await?;
        Ok(statements
            .into_iter()
            .map(|(_, statement)| statement)
            .collect())
    }

    async fn statements_after(
        &self,
        tenant_id: &str,
        run_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Statement>> {
        let after = after.map(|id| key(&[tenant_id, run_id, id]));
        let statements = self
            .scan_after(STATEMENTS, &[tenant_id, run_id], after, limit)
            .await?;
        Ok(statements
            .into_iter()
            .map(|(_, statement)| statement)
            .collect())
    }
}
