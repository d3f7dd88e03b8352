//! Commission runs (one partition per tenant: a tenant has a few runs a month) and their
//! statements (bucketed by distributor).

use super::cql::{self, bucket, prepare};
use super::schema::BUCKETS;
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{Run, RunStatus, Statement};
use crate::traits::RunStore;
use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

pub(super) struct RunStatements {
    create: PreparedStatement,
    replace: PreparedStatement,
    select: PreparedStatement,
    select_all: PreparedStatement,
    put_statement: PreparedStatement,
    select_statement: PreparedStatement,
    select_statements: PreparedStatement,
    select_statements_after: PreparedStatement,
}

/// Statements written at once.
const STATEMENTS_IN_FLIGHT: usize = 128;

const RUN_COLUMNS: &str =
    "run_id, period, plan_version, status, restates, created_at_ms, distributors, lines, totals, error";

type RunRow = (
    String,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<Vec<(String, String)>>,
    Option<String>,
);

type StatementRow = (String, Option<String>, Option<Vec<String>>, Option<String>);

impl RunStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        Ok(RunStatements {
            create: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.runs (tenant_id, {RUN_COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            replace: prepare(
                session,
                format!(
                    "UPDATE {regional}.runs SET period = ?, plan_version = ?, status = ?, restates = ?, \
                     created_at_ms = ?, distributors = ?, lines = ?, totals = ?, error = ? \
                     WHERE tenant_id = ? AND run_id = ? IF status = ?"
                ),
                false,
            )
            .await?,
            select: prepare(
                session,
                format!("SELECT {RUN_COLUMNS} FROM {regional}.runs WHERE tenant_id = ? AND run_id = ?"),
                true,
            )
            .await?,
            select_all: prepare(
                session,
                format!("SELECT {RUN_COLUMNS} FROM {regional}.runs WHERE tenant_id = ?"),
                true,
            )
            .await?,
            put_statement: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.statements (tenant_id, run_id, bucket, distributor_id, summary, lines, state) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            select_statement: prepare(
                session,
                format!(
                    "SELECT distributor_id, summary, lines, state FROM {regional}.statements \
                     WHERE tenant_id = ? AND run_id = ? AND bucket = ? AND distributor_id = ?"
                ),
                true,
            )
            .await?,
            select_statements: prepare(
                session,
                format!(
                    "SELECT distributor_id, summary, lines, state FROM {regional}.statements \
                     WHERE tenant_id = ? AND run_id = ? AND bucket = ?"
                ),
                true,
            )
            .await?,
            select_statements_after: prepare(
                session,
                format!(
                    "SELECT distributor_id, summary, lines, state FROM {regional}.statements \
                     WHERE tenant_id = ? AND run_id = ? AND bucket = ? AND distributor_id > ? LIMIT ?"
                ),
                true,
            )
            .await?,
        })
    }
}

fn run_from(row: RunRow) -> StoreResult<Run> {
    let (
        run_id,
        period,
        plan_version,
        status,
        restates,
        created_at_ms,
        distributors,
        lines,
        totals,
        error,
    ) = row;
    let status = status
        .as_deref()
        .and_then(RunStatus::parse)
        .ok_or_else(|| StoreError::Corrupt(format!("run {run_id}: status {status:?}")))?;
    Ok(Run {
        run_id,
        period: period.unwrap_or_default(),
        plan_version: plan_version.unwrap_or(0) as u32,
        status,
        restates,
        created_at_ms: created_at_ms.unwrap_or(0),
        distributors: distributors.unwrap_or(0) as u64,
        lines: lines.unwrap_or(0) as u64,
        totals: totals.unwrap_or_default(),
        error,
    })
}

fn statement_from((distributor_id, summary, lines, state): StatementRow) -> Statement {
    Statement {
        distributor_id,
        summary: summary.unwrap_or_default(),
        lines: lines.unwrap_or_default(),
        state: state.unwrap_or_default(),
    }
}

#[async_trait]
impl RunStore for ScyllaStore {
    async fn create_run(&self, tenant_id: &str, run: Run) -> StoreResult<()> {
        let created = cql::conditional(
            &self.session,
            &self.runs.create,
            (
                tenant_id,
                &run.run_id,
                &run.period,
                run.plan_version as i32,
                run.status.as_str(),
                &run.restates,
                run.created_at_ms,
                run.distributors as i64,
                run.lines as i64,
                &run.totals,
                &run.error,
            ),
        )
        .await?;
        if created {
            Ok(())
        } else {
            Err(StoreError::conflict(format!("run {}", run.run_id)))
        }
    }

    async fn update_run(
        &self,
        tenant_id: &str,
        expected: RunStatus,
        run: Run,
    ) -> StoreResult<bool> {
        cql::conditional(
            &self.session,
            &self.runs.replace,
            (
                &run.period,
                run.plan_version as i32,
                run.status.as_str(),
                &run.restates,
                run.created_at_ms,
                run.distributors as i64,
                run.lines as i64,
                &run.totals,
                &run.error,
                tenant_id,
                &run.run_id,
                expected.as_str(),
            ),
        )
        .await
    }

    async fn run(&self, tenant_id: &str, run_id: &str) -> StoreResult<Option<Run>> {
        let row: Option<RunRow> =
            cql::maybe_row(&self.session, &self.runs.select, (tenant_id, run_id)).await?;
        row.map(run_from).transpose()
    }

    async fn runs(&self, tenant_id: &str) -> StoreResult<Vec<Run>> {
        let rows: Vec<RunRow> =
            cql::all_rows(&self.session, &self.runs.select_all, (tenant_id,)).await?;
        rows.into_iter().map(run_from).collect()
    }

    async fn put_statements(
        &self,
        tenant_id: &str,
        run_id: &str,
        statements: Vec<Statement>,
    ) -> StoreResult<()> {
        // Futures made up front (see `import_orders`).
        let writes: Vec<_> = statements
            .iter()
            .map(|statement| {
                cql::execute(
                    &self.session,
                    &self.runs.put_statement,
                    (
                        tenant_id,
                        run_id,
                        bucket(&statement.distributor_id),
                        &statement.distributor_id,
                        &statement.summary,
                        &statement.lines,
                        &statement.state,
                    ),
                )
            })
            .collect();
        futures_util::stream::iter(writes)
            .buffer_unordered(STATEMENTS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn statement(
        &self,
        tenant_id: &str,
        run_id: &str,
        distributor_id: &str,
    ) -> StoreResult<Option<Statement>> {
        let row: Option<StatementRow> = cql::maybe_row(
            &self.session,
            &self.runs.select_statement,
            (tenant_id, run_id, bucket(distributor_id), distributor_id),
        )
        .await?;
        Ok(row.map(statement_from))
    }

    async fn statements(&self, tenant_id: &str, run_id: &str) -> StoreResult<Vec<Statement>> {
        let rows: Vec<StatementRow> =
            cql::all_buckets(&self.session, &self.runs.select_statements, |bucket| {
                (tenant_id, run_id, bucket)
            })
            .await?;
        let mut statements: Vec<Statement> = rows.into_iter().map(statement_from).collect();
        statements.sort_unstable_by(|a, b| a.distributor_id.cmp(&b.distributor_id));
        Ok(statements)
    }

    /// Each bucket holds its rows in id order (the clustering key), so the next rows of the
    /// run are the next few of every bucket, merged. A bucket that gave all it was asked for
    /// may hold more rows below another bucket's last one: only the rows up to the lowest
    /// last id of such full buckets are sure to be complete, and the page ends there. The
    /// bucket with that lowest last id gives all its rows, so every page moves on.
    async fn statements_after(
        &self,
        tenant_id: &str,
        run_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Statement>> {
        // The page ends at the lowest last id of the full buckets, so only part of what is
        // fetched is returned: asking each bucket for twice its share returns about `limit`
        // (a simulation of a million ids over 256 buckets: 58 % of the rows fetched; at one
        // share, 44 % and 2.6 times the queries).
        let per_bucket = (2 * limit).div_ceil(BUCKETS as usize).max(MIN_PER_BUCKET);
        // Ids are never empty: every id comes after "".
        let after = after.unwrap_or("");
        let pages: Vec<Vec<StatementRow>> = cql::each_bucket(
            &self.session,
            &self.runs.select_statements_after,
            |bucket| (tenant_id, run_id, bucket, after, per_bucket as i32),
        )
        .await?;
        let cutoff = pages
            .iter()
            .filter(|page| page.len() >= per_bucket)
            .filter_map(|page| page.last().map(|row| row.0.clone()))
            .min();
        let mut statements: Vec<Statement> = pages
            .into_iter()
            .flatten()
            .filter(|row| cutoff.as_ref().is_none_or(|cutoff| &row.0 <= cutoff))
            .map(statement_from)
            .collect();
        statements.sort_unstable_by(|a, b| a.distributor_id.cmp(&b.distributor_id));
        Ok(statements)
    }
}

/// The fewest rows a page asks of each bucket: below this, the round trips to all buckets
/// cost more than the rows they bring.
const MIN_PER_BUCKET: usize = 16;
