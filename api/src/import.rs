//! Bulk import of distributors: a CSV (`distributors.csv` of COMP_PLAN_SPEC.md §1) or NDJSON
//! (one enrollment body per line) stream of any length, read as it arrives and enrolled in
//! file order through the tenant's enrollment queue. Valid rows are enrolled; every refused
//! row is reported with its line number and the field at fault.

use crate::auth::TenantAccess;
use crate::distributors::{enrollment_request, NewDistributor, PlacementBody};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::import_lines::{Cut, LineCutter, LINE_BYTES_MAX};
use crate::import_progress::ImportProgressView;
use crate::state::{AppState, TenantRuntime};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use utoipa::{IntoParams, ToSchema};

/// Rows in flight at once (queued, not yet answered).
const WINDOW_ROWS: usize = 4096;
/// How often the counts of a named import are published, in rows read.
const PROGRESS_EVERY_ROWS: u64 = 1024;
/// Errors listed in the report (the count covers them all).
const ERRORS_LISTED_MAX: usize = 1000;
const CSV_HEADER: &str = "id,sponsor_id,placement_id,leg,joined_on,status";

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ImportReport {
    /// Data lines read (the CSV header not counted).
    pub rows: u64,
    pub enrolled: u64,
    pub refused: u64,
    /// The first refused rows, in file order.
    pub errors: Vec<RowError>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RowError {
    /// 1-based line of the stream (a CSV header is line 1).
    pub line: u64,
    pub message: String,
}

type Pending = Pin<Box<dyn Future<Output = ApiResult<(store::Distributor, bool)>> + Send>>;

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// A name for this import, chosen by the client: its progress can then be read at
    /// `/v1/distributors/imports/{import_id}` while the stream is sent.
    pub import_id: Option<String>,
}

/// Import distributors from a CSV (`text/csv`, header `id,sponsor_id,placement_id,leg,joined_on,status`)
/// or NDJSON (`application/x-ndjson`, one enrollment body per line) stream.
#[utoipa::path(post, path = "/v1/distributors/import", tag = "distributors",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 422, body = crate::error::Problem)), security(("api_key" = [])))]
pub async fn import_distributors(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportReport>> {
    tenant.check_at_home()?;
    if let Some(import_id) = &query.import_id {
        crate::orders::check_id("import_id", import_id)?;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let csv = if content_type.starts_with("text/csv") {
        true
    } else if content_type.starts_with("application/x-ndjson") {
        false
    } else {
        return Err(ApiError::invalid(
            "Content-Type",
            "must be text/csv or application/x-ndjson",
        ));
    };
    let mut import = Import {
        tenant: &tenant,
        state: &state,
        csv,
        report: ImportReport {
            rows: 0,
            enrolled: 0,
            refused: 0,
            errors: Vec::new(),
        },
        pending: Vec::new(),
        line: 0,
        import_id: query.import_id,
    };
    import.publish_progress(false);
    let mut stream = body.into_data_stream();
    let mut lines = LineCutter::default();
    let mut cuts = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| ApiError::invalid("body", error.to_string()))?;
        lines.feed(&chunk, &mut cuts);
        for cut in cuts.drain(..) {
            import.line(cut).await?;
        }
    }
    if let Some(cut) = lines.finish() {
        import.line(cut).await?;
    }
    import.settle_all().await;
    import.publish_progress(true);
    import.report.errors.sort_by_key(|error| error.line);
    Ok(Json(import.report))
}

/// The progress of a named bulk import of this tenant (`?import_id=` on the upload).
#[utoipa::path(get, path = "/v1/distributors/imports/{import_id}", tag = "distributors",
    params(("import_id" = String, Path)),
    responses((status = 200, body = ImportProgressView), (status = 404, body = crate::error::Problem)), security(("api_key" = [])))]
pub async fn import_progress(
    TenantAccess(tenant): TenantAccess,
    State(state): State<AppState>,
    Path(import_id): Path<String>,
) -> ApiResult<Json<ImportProgressView>> {
    state
        .imports()
        .get(&tenant.tenant.id, &import_id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("import {import_id:?}")))
}

struct Import<'a> {
    tenant: &'a TenantRuntime,
    state: &'a AppState,
    csv: bool,
    report: ImportReport,
    pending: Vec<(u64, Pending)>,
    line: u64,
    import_id: Option<String>,
}

impl Import<'_> {
    /// One line of the stream: the CSV header, an empty line, or a row to enroll. A line too
    /// long to hold counts and is refused like any other bad row.
    async fn line(&mut self, cut: Cut) -> ApiResult<()> {
        self.line += 1;
        let raw = match &cut {
            Cut::Line(raw) => Some(raw.strip_suffix(b"\r").unwrap_or(raw)),
            Cut::TooLong => None,
        };
        // Bytes that are not UTF-8 are refused, never replaced: a replaced byte would enroll
        // an id that nobody sent.
        let text = raw.map(std::str::from_utf8);
        let too_long = || format!("is longer than {LINE_BYTES_MAX} bytes");
        if self.csv && self.line == 1 {
            return match (raw, text) {
                (_, Some(Ok(CSV_HEADER))) => Ok(()),
                (None, _) => Err(ApiError::invalid(
                    "body",
                    format!("line 1 {}; the header must be exactly {CSV_HEADER}", too_long()),
                )),
                (Some(raw), _) if raw.starts_with(engine::input::BYTE_ORDER_MARK) => Err(ApiError::invalid(
                    "body",
                    format!("line 1 starts with a byte-order mark; send UTF-8 without one, the header exactly {CSV_HEADER}"),
                )),
                _ => Err(ApiError::invalid(
                    "body",
                    format!("line 1: the header must be exactly {CSV_HEADER}"),
                )),
            };
        }
        if raw.is_some_and(<[u8]>::is_empty) {
            return Ok(());
        }
        self.report.rows += 1;
        if self.report.rows.is_multiple_of(PROGRESS_EVERY_ROWS) {
            self.publish_progress(false);
        }
        let Some(text) = text else {
            self.refuse(self.line, ApiError::invalid("row", too_long()));
            return Ok(());
        };
        let Ok(text) = text else {
            self.refuse(
                self.line,
                ApiError::invalid("row", "is not UTF-8 text; send the file as UTF-8"),
            );
            return Ok(());
        };
        let parsed = if self.csv {
            csv_row(text)
        } else {
            crate::json::parse::<NewDistributor>(text.as_bytes()).map(|body| (body, false))
        };
        let request = parsed.and_then(|(body, terminated)| {
            let regions = self.state.store().residence_regions();
            Ok((enrollment_request(self.tenant, body, regions)?, terminated))
        });
        match request {
            Err(error) => self.refuse(self.line, error),
            Ok((request, terminated)) => {
                let answer = self.tenant.enrollments.submit(request).await?;
                let pending: Pending =
                    Box::pin(
                        async move { answer.await.map(|distributor| (distributor, terminated)) },
                    );
                self.pending.push((self.line, pending));
                if self.pending.len() >= WINDOW_ROWS {
                    self.settle_all().await;
                }
            }
        }
        Ok(())
    }

    /// Publishes the counts so far, when the client named the import.
    fn publish_progress(&self, done: bool) {
        if let Some(import_id) = &self.import_id {
            let progress = ImportProgressView {
                rows: self.report.rows,
                enrolled: self.report.enrolled,
                refused: self.report.refused,
                done,
            };
            self.state
                .imports()
                .set(&self.tenant.tenant.id, import_id, progress);
        }
    }

    /// Waits for every queued row, records its outcome and publishes the counts.
    async fn settle_all(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut terminate = Vec::new();
        let mut enrolled_now = 0;
        for (line, answer) in pending {
            match answer.await {
                Ok((distributor, terminated)) => {
                    enrolled_now += 1;
                    if terminated {
                        terminate.push(distributor.id);
                    }
                }
                Err(error) => self.refuse(line, error),
            }
        }
        self.report.enrolled += enrolled_now;
        self.state
            .metrics()
            .enrollments
            .with_label_values(&["enrolled"])
            .inc_by(enrolled_now);
        for id in terminate {
            if let Err(error) = self
                .state
                .store()
                .terminate(&self.tenant.tenant.id, &id)
                .await
            {
                tracing::error!(%error, "terminating an imported distributor failed");
            }
        }
        self.publish_progress(false);
    }

    fn refuse(&mut self, line: u64, error: ApiError) {
        self.report.refused += 1;
        if self.report.errors.len() < ERRORS_LISTED_MAX {
            self.report.errors.push(RowError {
                line,
                message: error.to_string(),
            });
        }
    }
}

/// One CSV row as an enrollment body and whether it is terminated.
fn csv_row(text: &str) -> ApiResult<(NewDistributor, bool)> {
    let cells: Vec<&str> = text.split(',').collect();
    let [id, sponsor_id, placement_id, leg, joined_on, status] = cells[..] else {
        return Err(ApiError::invalid(
            "row",
            format!("must have 6 columns ({CSV_HEADER}), found {}", cells.len()),
        ));
    };
    let terminated = match status {
        "active" => false,
        "terminated" => true,
        other => {
            return Err(ApiError::invalid(
                "status",
                format!("must be active or terminated, not {other:?}"),
            ))
        }
    };
    let optional = |cell: &str| (!cell.is_empty()).then(|| cell.to_owned());
    let placement = match (optional(placement_id), optional(leg)) {
        (None, None) => None,
        (parent_id, leg) => Some(PlacementBody {
            rule: None,
            parent_id,
            leg,
        }),
    };
    Ok((
        NewDistributor {
            id: id.to_owned(),
            sponsor_id: optional(sponsor_id),
            placement,
            joined_on: Some(joined_on.to_owned()),
            profile: None,
            residence_region: None,
        },
        terminated,
    ))
}
