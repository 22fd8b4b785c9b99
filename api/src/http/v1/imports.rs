//! CSV imports over HTTP:
//! - `POST /v1/imports` (body `text/csv`, or `multipart/form-data` with a file
//!   part; query `onDuplicate`, `dryRun`, `mapping`, `unmapped`, `market`,
//!   `fileName`, `wait`) → 202 with the job, or with `wait=true` (files up to
//!   10,000 rows) 207 with the job and every row's result;
//! - `GET /v1/imports/{id}` → the job (status, counts, progress);
//! - `GET /v1/imports/{id}/results?status=&cursor=&limit=&format=json|csv` →
//!   a page of row results, or (csv) every failed row as the file's own
//!   columns plus `errors`, streamed, ready to fix and re-import.
//!
//! Starting an import needs `imports:run` and is one bulk request; reading
//! jobs needs `imports:run` and is a read request (clients poll); the failed
//! rows' cells are the uploaded data, so the CSV needs `pii:read` as well.

use std::collections::HashMap;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart, Path, Query, Request, State, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use entity::{ImportRowStatus, JobStatus, import_row, job};
use futures::{Stream, StreamExt, TryStreamExt};
use sea_orm::{ActiveEnum, DatabaseConnection};
use serde::Serialize;
use strum::IntoEnumIterator;
use tokio::sync::watch;

use super::{
    auth::{Caller, ReadCaller},
    envelope,
};
use crate::{
    auth::{Op, Principal},
    domain::{
        DomainError,
        error::{ItemError, is_busy_anyhow},
        imports::{self, FileInfo, ImportParams},
    },
    error::{ErrorCode, server_failure},
    http::AppState,
    ids::{IdCodec, NodeType},
    jobs::{self, JobContext, JobError, lease::LeaseError},
    store::import_results::{self, Start},
};

/// Row results per JSON page (default and most).
const PAGE_DEFAULT: u64 = 100;
const PAGE_MAX: u64 = 1_000;
/// Failed rows read per CSV chunk.
const CSV_PAGE: u64 = 1_000;

/// An import job as `/v1` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobJson {
    pub id: String,
    pub status: &'static str,
    pub file_name: Option<String>,
    pub dry_run: bool,
    pub on_duplicate: String,
    pub total_rows: Option<i64>,
    pub processed_rows: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub progress: f64,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The public name of a job status (as in GraphQL's `JobStatus`).
pub fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Uploading | JobStatus::Queued => "QUEUED",
        JobStatus::Running => "RUNNING",
        JobStatus::Completed => "COMPLETED",
        JobStatus::Failed => "FAILED",
    }
}

impl JobJson {
    pub fn of(job: &job::Model, codec: &IdCodec) -> Self {
        let params = imports::params_of(job).ok();
        Self {
            id: codec.encode(NodeType::ImportJob, job.id),
            status: status_name(job.status),
            file_name: job.file_name.clone(),
            dry_run: params.as_ref().is_some_and(|p| p.dry_run),
            on_duplicate: params.map_or_else(|| "ERROR".to_owned(), |p| p.on_duplicate),
            total_rows: job.total_rows,
            processed_rows: job.processed_rows,
            created: job.created_count,
            updated: job.updated_count,
            skipped: job.skipped_count,
            failed: job.failed_count,
            progress: imports::progress(job),
            error: job.error.clone(),
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// One row's result.
#[derive(Debug, Serialize)]
pub struct RowJson {
    /// 1-based data row of the file.
    pub row: i64,
    /// 201 created, 200 updated or skipped, else the error's status.
    pub status: u16,
    /// `created`, `updated`, `skipped`, or the error code.
    pub code: String,
    /// The lead created, updated or skipped, or the existing one a duplicate
    /// hit (when visible to the importing key).
    pub id: Option<String>,
    pub errors: Vec<ItemError>,
}

impl RowJson {
    fn of(row: &import_row::Model, codec: &IdCodec) -> Self {
        let (status, code) = match row.status {
            ImportRowStatus::Created => (201, "created".to_owned()),
            ImportRowStatus::Updated => (200, "updated".to_owned()),
            ImportRowStatus::Skipped => (200, "skipped".to_owned()),
            ImportRowStatus::Failed => {
                let code = row.code.clone().unwrap_or_else(|| "bad_request".to_owned());
                let status = ErrorCode::iter()
                    .find(|c| c.slug() == code)
                    .map_or(400, ErrorCode::status);
                (status, code)
            }
        };
        Self {
            row: row.row_number,
            status,
            code,
            id: row.lead_id.map(|id| codec.encode(NodeType::Lead, id)),
            errors: row
                .errors
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or_default(),
        }
    }
}

/// Query of `POST /v1/imports` (all text, parsed here for clear errors).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    on_duplicate: Option<String>,
    dry_run: Option<String>,
    mapping: Option<String>,
    unmapped: Option<String>,
    market: Option<String>,
    file_name: Option<String>,
    wait: Option<String>,
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, DomainError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(DomainError::BadRequest(format!(
            "{name} must be `true` or `false`"
        ))),
    }
}

/// `POST /v1/imports`.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<StartQuery>, QueryRejection>,
    request: Request,
) -> Response {
    let response = start_import(&state, &caller, query, request).await;
    caller.finish(response)
}

async fn start_import(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<StartQuery>, QueryRejection>,
    request: Request,
) -> Response {
    if let Err(r) = caller.require(Op::ImportsRun) {
        return r;
    }
    let request_id = caller.request_id.clone();
    let Ok(Query(q)) = query else {
        return envelope::error(
            ErrorCode::BadRequest,
            "the query string is malformed",
            request_id,
        );
    };
    let parsed = flag("dryRun", q.dry_run.as_deref()).and_then(|dry_run| {
        let wait = flag("wait", q.wait.as_deref())?;
        let params = ImportParams::parse(
            q.on_duplicate.as_deref(),
            dry_run,
            q.mapping.as_deref(),
            q.unmapped.as_deref(),
            q.market.as_deref(),
        )?;
        Ok((params, wait))
    });
    let (params, wait) = match parsed {
        Ok(v) => v,
        Err(err) => return envelope::domain_error(&err, request_id),
    };
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let uploaded = if is_multipart {
        let mut multipart = match Multipart::from_request(request, state).await {
            Ok(m) => m,
            Err(e) => {
                let message = format!("the multipart body is malformed: {e}");
                return envelope::error(ErrorCode::BadRequest, &message, request_id);
            }
        };
        // The first part with a file name (or named `file`) is the file.
        let field = loop {
            match multipart.next_field().await {
                Ok(Some(field)) if field.file_name().is_some() || field.name() == Some("file") => {
                    break field;
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return envelope::error(
                        ErrorCode::BadRequest,
                        "the multipart body has no file part",
                        request_id,
                    );
                }
                Err(e) => {
                    let message = format!("the multipart body is malformed: {e}");
                    return envelope::error(ErrorCode::BadRequest, &message, request_id);
                }
            }
        };
        let name = q
            .file_name
            .clone()
            .or_else(|| field.file_name().map(str::to_owned));
        upload(state, &caller.principal, params, name, field, wait).await
    } else {
        let body = request.into_body().into_data_stream();
        upload(
            state,
            &caller.principal,
            params,
            q.file_name.clone(),
            body,
            wait,
        )
        .await
    };
    let uploaded = match uploaded {
        Ok(u) => u,
        Err(err) => return envelope::domain_error(&err, request_id),
    };
    state.jobs.signal.wake();
    let Some(lease) = uploaded.lease else {
        return envelope::ok(
            StatusCode::ACCEPTED,
            "import queued",
            JobJson::of(&uploaded.job, &state.codec),
            request_id,
        );
    };
    // `wait=true`: run the job in this request.
    let (_stop_tx, stop) = watch::channel(false);
    let ctx = JobContext {
        db: state.db.clone(),
        codec: state.codec.clone(),
        limits: state.jobs.limits.clone(),
        stop,
    };
    if let Err(err) = jobs::imports::run(&ctx, uploaded.job, &lease).await {
        // The lease runs out and a runner finishes the job; say so.
        let busy = match &err {
            JobError::Lease(LeaseError::Db(db)) => DomainError::is_busy(db),
            JobError::Internal(err) => is_busy_anyhow(err),
            _ => false,
        };
        let what = format!("waited import {} failed; left to the runners", lease.job_id);
        let (code, message) = server_failure(busy, &request_id, &err, &what);
        return envelope::error(code, &message, request_id);
    }
    wait_result(state, &caller.principal, lease.job_id, request_id).await
}

async fn upload<S, E>(
    state: &AppState,
    p: &Principal,
    params: ImportParams,
    name: Option<String>,
    body: S,
    wait: bool,
) -> Result<imports::Uploaded, DomainError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    imports::upload(
        &state.db,
        p,
        params,
        name,
        body,
        &state.jobs.limits,
        wait,
        &state.jobs.instance,
    )
    .await
}

/// The `data` of a `wait=true` answer.
#[derive(Debug, Serialize)]
struct WaitData {
    job: JobJson,
    results: Vec<RowJson>,
}

async fn wait_result(state: &AppState, p: &Principal, job_id: i64, request_id: String) -> Response {
    let loaded = async {
        let job = imports::get(&state.db, p, job_id).await?;
        let rows = import_results::all(&state.db, job_id).await?;
        Ok::<_, DomainError>((job, rows))
    };
    match loaded.await {
        Ok((job, rows)) => {
            let status = if job.status == JobStatus::Completed {
                StatusCode::MULTI_STATUS
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let data = WaitData {
                job: JobJson::of(&job, &state.codec),
                results: rows.iter().map(|r| RowJson::of(r, &state.codec)).collect(),
            };
            let message = match job.error.as_deref() {
                Some(error) => error.to_owned(),
                None => format!(
                    "{} created, {} updated, {} skipped, {} failed",
                    job.created_count, job.updated_count, job.skipped_count, job.failed_count
                ),
            };
            envelope::ok(status, &message, data, request_id)
        }
        Err(err) => envelope::domain_error(&err, request_id),
    }
}

/// The job of a public id the caller may see.
async fn find_job(state: &AppState, caller: &Caller, id: &str) -> Result<job::Model, DomainError> {
    caller
        .principal
        .can(Op::ImportsRun)
        .then_some(())
        .ok_or_else(|| DomainError::Forbidden("this key lacks the `imports:run` scope".into()))?;
    let row = state
        .codec
        .decode_as(NodeType::ImportJob, id)
        .map_err(|_| DomainError::BadRequest("malformed id".into()))?
        .ok_or(DomainError::NotFound)?;
    imports::get(&state.db, &caller.principal, row).await
}

/// `GET /v1/imports/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ReadCaller(caller): ReadCaller,
    Path(id): Path<String>,
) -> Response {
    let request_id = caller.request_id.clone();
    let response = match find_job(&state, &caller, &id).await {
        Ok(job) => envelope::ok(
            StatusCode::OK,
            "ok",
            JobJson::of(&job, &state.codec),
            request_id,
        ),
        Err(err) => envelope::domain_error(&err, request_id),
    };
    caller.finish(response)
}

/// A page of results.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultsPage {
    results: Vec<RowJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// `GET /v1/imports/{id}/results`.
pub async fn results(
    State(state): State<AppState>,
    ReadCaller(caller): ReadCaller,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let request_id = caller.request_id.clone();
    let response = match results_response(&state, &caller, &id, query).await {
        Ok(r) => r,
        Err(err) => envelope::domain_error(&err, request_id),
    };
    caller.finish(response)
}

async fn results_response(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, DomainError> {
    let Ok(Query(q)) = query else {
        return Err(DomainError::BadRequest(
            "the query string is malformed".into(),
        ));
    };
    let job = find_job(state, caller, id).await?;
    let status = match q.get("status").map(|s| s.trim().to_ascii_uppercase()) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(ImportRowStatus::try_from_value(&s).map_err(|_| {
            DomainError::BadRequest("status must be CREATED, UPDATED, SKIPPED or FAILED".to_owned())
        })?),
    };
    match q
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "json") => {}
        Some("csv") => {
            if status.is_some_and(|s| s != ImportRowStatus::Failed) {
                return Err(DomainError::BadRequest(
                    "format=csv lists the failed rows (status=FAILED or no status)".to_owned(),
                ));
            }
            if !caller.principal.can(Op::PiiRead) {
                return Err(DomainError::Forbidden(
                    "the failed rows hold the uploaded data: this key lacks the `pii:read` scope"
                        .to_owned(),
                ));
            }
            return Ok(failed_csv(
                state.db.clone(),
                &job,
                caller.request_id.clone(),
            ));
        }
        Some(_) => return Err(DomainError::BadRequest("format must be json or csv".into())),
    }
    let after: i64 = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .parse()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| DomainError::BadRequest("cursor is malformed".into()))?,
    };
    let limit: u64 = match q.get("limit") {
        None => PAGE_DEFAULT,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| {
                DomainError::BadRequest(format!("limit must be between 1 and {PAGE_MAX}"))
            })?,
    };
    let rows = page(&state.db, job.id, status, after, limit + 1).await?;
    let more = rows.len() as u64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let data = ResultsPage {
        results: rows.iter().map(|r| RowJson::of(r, &state.codec)).collect(),
        next_cursor: more
            .then(|| rows.last().map(|r| r.row_number.to_string()))
            .flatten(),
    };
    Ok(envelope::ok(
        StatusCode::OK,
        "ok",
        data,
        caller.request_id.clone(),
    ))
}

async fn page(
    db: &DatabaseConnection,
    job_id: i64,
    status: Option<ImportRowStatus>,
    after: i64,
    limit: u64,
) -> Result<Vec<import_row::Model>, DomainError> {
    let statuses = status.map(|s| [s]);
    Ok(import_results::page(
        db,
        job_id,
        statuses.as_ref().map(|s| &s[..]),
        Start::After(after),
        limit,
    )
    .await?)
}

/// The failed rows as CSV: the file's columns as uploaded plus `errors`
/// (`field: message` pairs separated by `; `), streamed page by page.
fn failed_csv(db: DatabaseConnection, job: &job::Model, request_id: String) -> Response {
    let headers = FileInfo::of(job).headers;
    let job_id = job.id;
    let width = headers.len();
    let start = csv_line(headers.iter().map(String::as_str).chain(["errors"]));
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(start)) })
        .chain(
            futures::stream::try_unfold(Some(0i64), move |after| {
                let db = db.clone();
                let request_id = request_id.clone();
                async move {
                    let Some(after) = after else {
                        return Ok(None);
                    };
                    let rows = page(&db, job_id, Some(ImportRowStatus::Failed), after, CSV_PAGE)
                        .await
                        .map_err(|err| {
                            tracing::error!(request.id = %request_id, error = %err, "failed-rows CSV aborted");
                            std::io::Error::other("failed-rows CSV aborted")
                        })?;
                    if rows.is_empty() {
                        return Ok(None);
                    }
                    let next = (rows.len() as u64 == CSV_PAGE)
                        .then(|| rows.last().map(|r| r.row_number))
                        .flatten();
                    let mut out = Vec::new();
                    for row in &rows {
                        out.extend(failed_line(row, width));
                    }
                    Ok(Some((Bytes::from(out), next)))
                }
            })
            .into_stream(),
        );
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"failed-rows.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn failed_line(row: &import_row::Model, width: usize) -> Vec<u8> {
    let mut cells: Vec<String> = row
        .cells
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    cells.resize(width, String::new());
    let errors: Vec<ItemError> = row
        .errors
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let summary = errors
        .iter()
        .map(|e| match &e.field {
            Some(field) => format!("{field}: {}", e.message),
            None => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    csv_line(cells.iter().map(String::as_str).chain([summary.as_str()]))
}

/// One CSV record (RFC 4180 quoting), CRLF-free (`\n`).
fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let cells: Vec<&str> = cells.collect();
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(&cells);
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_quote_what_needs_it() {
        let line = csv_line(["a", "b,c", "say \"hi\"", "two\nlines"].into_iter());
        assert_eq!(
            String::from_utf8(line).unwrap_or_default(),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
        );
    }

    #[test]
    fn flags_accept_true_false_and_nothing_else() {
        assert!(matches!(flag("wait", Some("TRUE")), Ok(true)));
        assert!(matches!(flag("wait", None), Ok(false)));
        assert!(flag("wait", Some("yes")).is_err());
    }
}
