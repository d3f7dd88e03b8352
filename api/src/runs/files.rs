//! A run's result as the three files of `upline commissions` (COMP_PLAN_SPEC.md §5), rebuilt
//! from its statements. A company audits a run, or hands it to payroll, with the very bytes
//! that the command writes from the period's exported inputs (`upline export`): each
//! statement keeps its distributor's rows as the engine wrote them, and the statements come
//! in id order, which is the order of all three files.

use super::pages::StatementPages;
use crate::auth::TenantAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use engine::output::{LINES_HEADER, STATE_HEADER, SUMMARY_HEADER};
use futures_util::{Stream, StreamExt as _};
use serde::Deserialize;
use store::{Run, RunStatus, Statement, StoreError};
use utoipa::ToSchema;

/// One of the three files of a run.
#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFile {
    /// Every commission line: recipient, bonus, source, level, base, rate, amount.
    #[serde(rename = "lines.csv")]
    Lines,
    /// One row per distributor: activity, rank, volumes, one amount per bonus, total.
    #[serde(rename = "summary.csv")]
    Summary,
    /// The carry state the next period starts from.
    #[serde(rename = "state.csv")]
    State,
}

impl RunFile {
    fn name(self) -> &'static str {
        match self {
            RunFile::Lines => "lines.csv",
            RunFile::Summary => "summary.csv",
            RunFile::State => "state.csv",
        }
    }

    fn header(self) -> &'static str {
        match self {
            RunFile::Lines => LINES_HEADER,
            RunFile::Summary => SUMMARY_HEADER,
            RunFile::State => STATE_HEADER,
        }
    }

    /// The statement's rows of this file, without line ends.
    fn rows(self, statement: &Statement) -> &[String] {
        match self {
            RunFile::Lines => &statement.lines,
            RunFile::Summary => std::slice::from_ref(&statement.summary),
            RunFile::State => std::slice::from_ref(&statement.state),
        }
    }
}

/// One page of statements as a piece of the file (the first piece opens with the header).
fn piece(file: RunFile, header: bool, statements: &[Statement]) -> Bytes {
    let rows: usize = statements
        .iter()
        .flat_map(|statement| file.rows(statement))
        .map(|row| row.len() + 1)
        .sum();
    let mut piece = Vec::with_capacity(rows + file.header().len());
    if header {
        piece.extend_from_slice(file.header().as_bytes());
    }
    for row in statements.iter().flat_map(|statement| file.rows(statement)) {
        piece.extend_from_slice(row.as_bytes());
        piece.push(b'\n');
    }
    Bytes::from(piece)
}

/// The file as a stream of pieces, a page of statements each, from the first page (read
/// before the response starts, so that a store that cannot answer gets a 503). A store error
/// after that can only cut the response short, since the status line has gone: the client
/// sees a body that ends before its final chunk, never a file that looks whole.
fn pieces(
    pages: StatementPages,
    file: RunFile,
    first_page: Vec<Statement>,
) -> impl Stream<Item = Result<Bytes, StoreError>> {
    let head = piece(file, true, &first_page);
    let rest = futures_util::stream::try_unfold(pages, move |mut pages| async move {
        let page = pages.next_page().await?;
        Ok((!page.is_empty()).then(|| (piece(file, false, &page), pages)))
    });
    futures_util::stream::once(std::future::ready(Ok(head))).chain(rest)
}

/// Whether the run's statements are all stored: a running run's are still being written, a
/// failed run has none.
fn has_files(run: &Run) -> ApiResult<()> {
    let run_id = &run.run_id;
    match run.status {
        RunStatus::Running => Err(ApiError::Conflict(format!(
            "run {run_id:?} is still running; its files can be read once GET /v1/runs/{run_id} shows it in preview"
        ))),
        RunStatus::Failed => Err(ApiError::Conflict(format!(
            "run {run_id:?} failed ({}); it has no files",
            run.error.as_deref().unwrap_or("no reason recorded")
        ))),
        RunStatus::Preview | RunStatus::Committed | RunStatus::Posted | RunStatus::Superseded => {
            Ok(())
        }
    }
}

/// Download one of a run's files — `lines.csv`, `summary.csv` or `state.csv` — byte for byte
/// as `upline commissions` writes it from the period's inputs (`upline export`).
#[utoipa::path(get, path = "/v1/runs/{run_id}/files/{file}", tag = "runs",
    params(("run_id" = String, Path), ("file" = inline(RunFile), Path, description = "`lines.csv`, `summary.csv` or `state.csv`")),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "The file, with its header; every row ends with a newline"),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "The run is still running, or failed"),
        (status = 422, body = crate::error::Problem, description = "`file` is not one of the three names")),
    security(("api_key" = [])))]
pub(super) async fn get_run_file(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path((run_id, file)): Path<(String, RunFile)>,
) -> ApiResult<Response> {
    let tenant_id = &tenant.tenant.id;
    let run = super::lifecycle::find_run(&state, tenant_id, &run_id).await?;
    has_files(&run)?;
    let mut pages = StatementPages::new(state.store().clone(), tenant_id, &run_id);
    let first_page = pages.next_page().await?;
    let body = Body::from_stream(pieces(pages, file, first_page));
    let disposition = format!("attachment; filename=\"{run_id}-{}\"", file.name());
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::super::pages::STATEMENTS_PER_PAGE;
    use super::*;
    use futures_util::TryStreamExt as _;
    use std::sync::Arc;
    use store::RunStore as _;

    fn statement(id: &str, lines: usize) -> Statement {
        Statement {
            distributor_id: id.to_owned(),
            summary: format!("{id},true,Member"),
            lines: (0..lines)
                .map(|level| format!("{id},unilevel,s,{level},1.0000,0.05,0.05"))
                .collect(),
            state: format!("{id},0.0000,0.0000,Member"),
        }
    }

    /// The file through the same stream as a response, from an embedded store holding
    /// `statements`; and how many pieces it came in.
    async fn whole(file: RunFile, statements: &[Statement]) -> (String, usize) {
        let data = tempfile::tempdir().unwrap();
        let store = store::embedded::EmbeddedStore::open(data.path()).unwrap();
        for chunk in statements.chunks(10_000) {
            store
                .put_statements("t", "r", chunk.to_vec())
                .await
                .unwrap();
        }
        let mut pages = StatementPages::new(Arc::new(store), "t", "r");
        let first_page = pages.next_page().await.unwrap();
        let pieces: Vec<Bytes> = pieces(pages, file, first_page).try_collect().await.unwrap();
        let count = pieces.len();
        let bytes: Vec<u8> = pieces.into_iter().flatten().collect();
        (String::from_utf8(bytes).unwrap(), count)
    }

    #[test]
    fn only_a_run_whose_statements_are_all_stored_has_files() {
        let run = |status: RunStatus, error: Option<&str>| Run {
            run_id: "2026-11.1".into(),
            period: "2026-11".into(),
            plan_version: 1,
            status,
            restates: None,
            created_at_ms: 0,
            distributors: 0,
            lines: 0,
            totals: Vec::new(),
            error: error.map(str::to_owned),
        };
        for status in [
            RunStatus::Preview,
            RunStatus::Committed,
            RunStatus::Posted,
            RunStatus::Superseded,
        ] {
            assert!(has_files(&run(status, None)).is_ok(), "{status:?}");
        }
        let running = has_files(&run(RunStatus::Running, None)).unwrap_err();
        assert!(
            matches!(&running, ApiError::Conflict(message) if message.contains("still running")),
            "{running:?}"
        );
        let failed = has_files(&run(RunStatus::Failed, Some("the plan pays nothing"))).unwrap_err();
        assert!(
            matches!(&failed, ApiError::Conflict(message) if message.contains("failed (the plan pays nothing)")),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn an_empty_run_is_the_header_alone() {
        for file in [RunFile::Lines, RunFile::Summary, RunFile::State] {
            assert_eq!(whole(file, &[]).await, (file.header().to_owned(), 1));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_row_comes_once_in_statement_order_across_pieces() {
        // Enough statements for ten pages, the last one short.
        let statements: Vec<Statement> = (0..40_000)
            .map(|at| statement(&format!("d{at:06}"), at % 4))
            .collect();
        let expected_lines: String = LINES_HEADER.to_owned()
            + &statements
                .iter()
                .flat_map(|statement| statement.lines.iter())
                .map(|line| format!("{line}\n"))
                .collect::<String>();
        let (lines, count) = whole(RunFile::Lines, &statements).await;
        assert_eq!(count, 40_000usize.div_ceil(STATEMENTS_PER_PAGE));
        assert_eq!(lines, expected_lines);
        let (summary, _) = whole(RunFile::Summary, &statements).await;
        assert_eq!(summary.lines().count(), 40_001);
        assert!(summary.starts_with(SUMMARY_HEADER));
        assert!(summary.ends_with("d039999,true,Member\n"));
        let (state, _) = whole(RunFile::State, &statements).await;
        assert!(state.starts_with(STATE_HEADER));
        assert!(state.ends_with("d039999,0.0000,0.0000,Member\n"));
    }
}
