//! `GET /v1/leads/export?format=csv|jsonl&<LeadFilter fields>&orderBy=&direction=`:
//! every live lead in the key's scope matching the filter, streamed.
//!
//! Constant memory: rows are read in keyset pages of [`PAGE`] through
//! `store::leads::list` (the one place scope becomes SQL), each page is
//! serialised and sent as one chunk of a chunked body, and the next page is read
//! only when the client has taken the previous one. Needs `leads:read`; PII
//! columns only with `pii:read`. Charged as one bulk request.
//!
//! Truncation: the first page is read before the response starts, so a failure
//! there is a 500 envelope. A database error after that aborts the response
//! (the chunked body never gets its terminating chunk, so clients see an
//! incomplete body rather than a clean end) and is logged with the request id.
//! The export is not a snapshot: each page is its own query.

mod params;
mod rows;

use axum::{
    body::{Body, Bytes},
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use entity::lead;
use sea_orm::{DatabaseConnection, Select};

use self::params::Format;
use super::{auth::Caller, envelope};
use crate::{
    auth::Op,
    domain::{DomainError, leads::caller_filter},
    error::ErrorCode,
    http::AppState,
    ids::IdCodec,
    store::{self, cursor::Cursor, leads::LeadOrder},
};

/// Rows read and sent per chunk.
pub const PAGE: u64 = 1_000;

/// Where a running export stands.
struct Walk {
    db: DatabaseConnection,
    codec: IdCodec,
    select: Select<lead::Entity>,
    order: LeadOrder,
    format: Format,
    pii: bool,
    /// The page read before the response started (sent first, with the header).
    first: Option<Vec<lead::Model>>,
    cursor: Option<Cursor>,
    done: bool,
    rows: u64,
    request_id: String,
}

impl Walk {
    /// The next chunk, or `None` at the end.
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let with_header = self.first.is_some();
        let page = match self.first.take() {
            Some(page) => page,
            None => {
                let sort = self.order.sort();
                match sort
                    .after(&self.db, self.select.clone(), self.cursor.as_ref(), PAGE)
                    .await
                {
                    Ok(page) => page,
                    Err(err) => return Some(Err(self.fail(&err))),
                }
            }
        };
        if (page.len() as u64) < PAGE {
            self.done = true;
            tracing::info!(request.id = %self.request_id, export.rows = self.rows + page.len() as u64, "export finished");
        }
        if page.is_empty() && !with_header {
            return None;
        }
        if let Some(last) = page.last() {
            let value = self.order.value_of(last);
            self.cursor = Some(self.order.sort().cursor_of(Some(value), last.id));
        }
        self.rows += page.len() as u64;
        let bytes = match self.format {
            Format::Csv => rows::csv(&page, &self.codec, self.pii, with_header)
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("csv: {e}"))),
            Format::Jsonl => rows::jsonl(&page, &self.codec, self.pii)
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("json: {e}"))),
        };
        Some(match bytes {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(err) => Err(self.fail(&err)),
        })
    }

    /// Logs the failure and ends the stream; the error aborts the response.
    fn fail(&mut self, err: &DomainError) -> std::io::Error {
        self.done = true;
        tracing::error!(request.id = %self.request_id, export.rows = self.rows, error = %err, "export aborted");
        std::io::Error::other("export aborted")
    }
}

fn attachment(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Csv => (
            "text/csv; charset=utf-8",
            "attachment; filename=\"leads.csv\"",
        ),
        Format::Jsonl => (
            "application/x-ndjson",
            "attachment; filename=\"leads.jsonl\"",
        ),
    }
}

/// `GET /v1/leads/export`.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    caller.finish(respond(state, &caller, query).await)
}

async fn respond(
    state: AppState,
    caller: &Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if let Err(r) = caller.require(Op::LeadsRead) {
        return r;
    }
    let request_id = caller.request_id.clone();
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(e) => {
            let message = format!("the query string is malformed: {e}");
            return envelope::error(ErrorCode::BadRequest, &message, request_id);
        }
    };
    let p = &caller.principal;
    let prepared = params::parse(pairs, &state.codec).and_then(|params| {
        let filter = caller_filter(p, params.filter, params.email.as_deref())?;
        Ok((params.format, params.order, store::leads::list(p, &filter)))
    });
    let (format, order, select) = match prepared {
        Ok(v) => v,
        Err(err) => return envelope::domain_error(&err, request_id),
    };
    // The first page before the status line: an early failure is a proper 500.
    let first = match order
        .sort()
        .after(&state.db, select.clone(), None, PAGE)
        .await
    {
        Ok(page) => page,
        Err(err) => return envelope::domain_error(&err, request_id),
    };
    let walk = Walk {
        db: state.db.clone(),
        codec: state.codec.clone(),
        select,
        order,
        format,
        pii: p.can(Op::PiiRead),
        first: Some(first),
        cursor: None,
        done: false,
        rows: 0,
        request_id,
    };
    let stream = futures::stream::unfold(walk, |mut walk| async move {
        walk.next().await.map(|chunk| (chunk, walk))
    });
    let (content_type, disposition) = attachment(format);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    // Personal data: not for shared caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
