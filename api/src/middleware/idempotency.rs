//! `Idempotency-Key` on GraphQL mutations and `/v1` writes (DESIGN §9).
//!
//! Zero2prod's protocol, in middleware: after authentication the request claims
//! `(API key, Idempotency-Key)` by inserting a row that carries a SHA-256 of
//! method, path (with query) and body, runs, and its response (status,
//! `content-type`, body) is saved on the row. A repeat within 24 hours:
//! - with another fingerprint: `idempotency_key_reused` (422);
//! - while the first is running: `idempotency_in_progress` (409);
//! - after it finished: the saved response, with `Idempotent-Replayed: true`.
//!
//! The handler commits its own transaction, so claim, work and saved response are
//! three steps rather than one transaction. A response with status 5xx or 429, or a
//! GraphQL body carrying an error with `extensions.status` 5xx or 429, is not saved:
//! the claim is released so a retry runs the request again. The handler runs in its
//! own task, so a client that disconnects (or a timeout) does not strand the claim:
//! the request still finishes and its response is saved for the retry. A claim left
//! unfinished by a crashed server counts as abandoned after 10 minutes (see
//! [`store::ABANDONED_AFTER`]). Rows past 24 hours are ignored on claim and purged
//! in the background at most every 10 minutes per process.
//!
//! The fingerprint leaves headers out: a repeat with another `X-On-Behalf-Of`
//! replays the first answer. Replays skip the handler, so they carry no
//! rate-limit headers and draw on no budget.
//!
//! Which requests: `POST`, `PUT`, `PATCH` and `DELETE` with the header. On
//! `/graphql`, only mutations (the operation picked by `operationName`, found with
//! async-graphql's parser) and multipart uploads; queries and unparsable bodies pass
//! through untouched (the handler reports the latter). An empty key, or one longer
//! than 255 characters, is `bad_request`. A refused credential also passes through,
//! so the handler answers 401 in its usual shape. The [`Principal`] found here is
//! put in the request's extensions for the handler to reuse.

use std::sync::atomic::{AtomicI64, Ordering};

use async_graphql::parser::{
    parse_query,
    types::{DocumentOperations, OperationType},
};
use axum::{
    body::{Body, Bytes, to_bytes},
    extract::{Request, State},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode, Uri,
        header::{CONTENT_LENGTH, CONTENT_TYPE},
    },
    middleware::Next,
    response::Response,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::{
    auth::{Principal, authenticate::authenticate},
    domain::DomainError,
    error::{ErrorCode, server_failure},
    http::{
        AppState,
        graphql::error_response,
        router::MAX_BODY_BYTES,
        v1::{auth::set_rate_headers, envelope},
    },
    ratelimit::{RateClass, cost},
    store::idempotency::{self as store, Claim, Saved},
};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header marking a replayed response.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// Longest accepted key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// Largest response kept for replay (every response here is built in memory).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Background attempts at releasing a claim while the database is busy.
const RELEASE_RETRIES: u32 = 5;
/// Rows past their 24 hours are purged at most this often (per process).
const PURGE_EVERY_SECS: i64 = 600;

/// Where the request came in: decides the error shape and what is idempotent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Graphql,
    V1,
    /// `POST /v1/imports`: the body (a file of up to the import limit) streams
    /// to the handler, so the fingerprint covers method, path, query,
    /// `Content-Type` and `Content-Length` instead of the body.
    Upload,
}

/// Layer for `POST /graphql`.
pub async fn graphql(State(state): State<AppState>, req: Request, next: Next) -> Response {
    handle(Surface::Graphql, state, req, next).await
}

/// Layer for the `/v1` write routes.
pub async fn v1(State(state): State<AppState>, req: Request, next: Next) -> Response {
    handle(Surface::V1, state, req, next).await
}

/// Layer for `POST /v1/imports` (streamed uploads).
pub async fn v1_stream(State(state): State<AppState>, req: Request, next: Next) -> Response {
    handle(Surface::Upload, state, req, next).await
}

async fn handle(surface: Surface, state: AppState, req: Request, next: Next) -> Response {
    let is_write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !is_write || !req.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(req).await;
    }
    let request_id = envelope::request_id(req.headers());
    let (mut parts, raw) = req.into_parts();
    // What the fingerprint covers besides method and URI, and the body to pass on.
    let (body, streamed) = if surface == Surface::Upload {
        let described = [CONTENT_TYPE, CONTENT_LENGTH].map(|name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        });
        (Bytes::from(described.join("\n")), Some(raw))
    } else {
        match to_bytes(raw, MAX_BODY_BYTES).await {
            Ok(b) => (b, None),
            Err(_) => {
                let message =
                    format!("the request body is unreadable or larger than {MAX_BODY_BYTES} bytes");
                return refuse(surface, ErrorCode::BadRequest, &message, &request_id);
            }
        }
    };
    let rebuild = move |parts, body: Bytes, streamed: Option<Body>| {
        Request::from_parts(parts, streamed.unwrap_or_else(|| Body::from(body)))
    };
    if surface == Surface::Graphql && !is_mutation(&parts.headers, &body) {
        return next.run(rebuild(parts, body, streamed)).await;
    }
    let key = match parse_key(parts.headers.get(IDEMPOTENCY_KEY)) {
        Ok(k) => k,
        Err(message) => return refuse(surface, ErrorCode::BadRequest, message, &request_id),
    };
    let principal = match parts.extensions.get::<Principal>() {
        Some(p) => p.clone(),
        None => match authenticate(&state.db, &state.codec, &state.auth, &parts.headers).await {
            Ok(p) => {
                parts.extensions.insert(p.clone());
                p
            }
            // The handler authenticates again and answers in its own shape.
            Err(_) => return next.run(rebuild(parts, body, streamed)).await,
        },
    };
    let hash = fingerprint(&parts.method, &parts.uri, &body);
    maybe_purge(&state);
    let claim = match store::claim(&state.db, principal.key_id, &key, &hash).await {
        Ok(c) => c,
        Err(err) => {
            let busy = DomainError::is_busy(&err);
            return failure(surface, &request_id, busy, &err, "idempotency claim failed");
        }
    };
    let class = rate_class(surface, &body);
    let answered = match claim {
        Claim::Reused => refuse(
            surface,
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used for a different request",
            &request_id,
        ),
        Claim::InProgress => refuse(
            surface,
            ErrorCode::IdempotencyInProgress,
            "a request with this Idempotency-Key is still in progress; retry later",
            &request_id,
        ),
        Claim::Replay(saved) => replay(saved),
        Claim::Claimed(id) => {
            let req = rebuild(parts, body, streamed);
            return run_claimed(surface, state, id, req, next, request_id).await;
        }
    };
    with_rate_headers(&state, &principal, class, answered).await
}

/// The budget a request draws on (for the headers of answers given here).
fn rate_class(surface: Surface, body: &[u8]) -> RateClass {
    if surface != Surface::Graphql {
        return RateClass::Bulk;
    }
    let parsed = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let query = v.get("query")?.as_str()?.to_owned();
        parse_query(query).ok()
    });
    parsed
        .and_then(|doc| cost::classify(&doc, &async_graphql::Variables::default()))
        .map_or(RateClass::Write, |(class, _)| class)
}

/// Replays and idempotency refusals never reach a handler: they still carry the
/// rate-limit headers (read without spending, since nothing ran).
async fn with_rate_headers(
    state: &AppState,
    p: &Principal,
    class: RateClass,
    mut response: Response,
) -> Response {
    match state.limiter.peek(p, class).await {
        Ok(d) => set_rate_headers(&mut response, &d),
        Err(err) => tracing::warn!(error = %err, "reading the rate-limit budget failed"),
    }
    response
}

/// Runs the request in its own task and saves (or releases) the claim.
async fn run_claimed(
    surface: Surface,
    state: AppState,
    id: i64,
    req: Request,
    next: Next,
    request_id: String,
) -> Response {
    let db = state.db.clone();
    let rid = request_id.clone();
    let work = async move {
        let response = next.run(req).await;
        let (parts, body) = response.into_parts();
        let body = match to_bytes(body, MAX_RESPONSE_BYTES).await {
            Ok(b) => b,
            Err(err) => {
                release(&db, id, &rid).await;
                return failure(surface, &rid, false, &err, "reading the response failed");
            }
        };
        if keeps(surface, parts.status, &body) {
            let saved = Saved {
                status: parts.status.as_u16(),
                headers: saved_headers(&parts.headers),
                body: body.to_vec(),
            };
            if let Err(err) = store::complete(&db, id, saved).await {
                // The work is done: keep the claim (in progress until abandoned)
                // rather than let a retry do it twice.
                if DomainError::is_busy(&err) {
                    tracing::warn!(request.id = %rid, error = %err, "saving the idempotent response failed: the database is busy");
                } else {
                    tracing::error!(request.id = %rid, error = %err, "saving the idempotent response failed");
                }
            }
        } else {
            release(&db, id, &rid).await;
        }
        Response::from_parts(parts, Body::from(body))
    };
    // The task carries the request's span (request id, tenant id) along.
    match tokio::spawn(work.instrument(tracing::Span::current())).await {
        Ok(response) => response,
        Err(err) => {
            release(&state.db, id, &request_id).await;
            failure(surface, &request_id, false, &err, "the request task failed")
        }
    }
}

/// Deletes a claim so that a retry runs the request again. When the database
/// is busy, the deletion is retried in the background ([`RELEASE_RETRIES`]
/// times, a second apart; a retry meanwhile is `idempotency_in_progress`); a
/// claim still left counts as abandoned after [`store::ABANDONED_AFTER`].
async fn release(db: &sea_orm::DatabaseConnection, id: i64, request_id: &str) {
    let err = match store::release(db, id).await {
        Ok(()) => return,
        Err(err) => err,
    };
    if !DomainError::is_busy(&err) {
        tracing::error!(request.id = %request_id, error = %err, "releasing an idempotency claim failed");
        return;
    }
    tracing::warn!(request.id = %request_id, error = %err, "releasing an idempotency claim failed: the database is busy; retrying");
    let db = db.clone();
    let request_id = request_id.to_owned();
    let retry = async move {
        for attempt in 1..=RELEASE_RETRIES {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            match store::release(&db, id).await {
                Ok(()) => return,
                Err(err) if DomainError::is_busy(&err) && attempt < RELEASE_RETRIES => {}
                Err(err) if DomainError::is_busy(&err) => {
                    tracing::warn!(request.id = %request_id, error = %err, "releasing an idempotency claim failed: the database is busy; it stays claimed until abandoned");
                }
                Err(err) => {
                    tracing::error!(request.id = %request_id, error = %err, "releasing an idempotency claim failed");
                    return;
                }
            }
        }
    };
    tokio::spawn(retry.instrument(tracing::Span::current()));
}

/// Whether a response is saved for replay: not a server error, not a rate limit.
fn keeps(surface: Surface, status: StatusCode, body: &Bytes) -> bool {
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    surface != Surface::Graphql || !graphql_server_error(body)
}

/// A GraphQL body with an error whose `extensions.status` is 5xx or 429.
fn graphql_server_error(body: &[u8]) -> bool {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let docs = match &doc {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    docs.iter()
        .filter_map(|d| d.get("errors").and_then(Value::as_array))
        .flatten()
        .filter_map(|e| e.pointer("/extensions/status").and_then(Value::as_u64))
        .any(|s| s >= 500 || s == 429)
}

/// `content-type` as a JSON object, the one header worth replaying.
fn saved_headers(headers: &HeaderMap) -> Option<String> {
    let map: serde_json::Map<String, Value> = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| (CONTENT_TYPE.as_str().to_owned(), Value::from(v)))
        .into_iter()
        .collect();
    serde_json::to_string(&map).ok()
}

/// The saved response again, marked `Idempotent-Replayed: true`.
fn replay(saved: Saved) -> Response {
    let mut response = Response::new(Body::from(saved.body));
    *response.status_mut() = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    let stored: serde_json::Map<String, Value> = saved
        .headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    for (name, value) in stored {
        if let (Ok(name), Some(Ok(value))) = (
            axum::http::HeaderName::try_from(name),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

/// The key, if present and 1 to 255 characters of visible ASCII.
fn parse_key(value: Option<&HeaderValue>) -> Result<String, &'static str> {
    let key = value
        .and_then(|v| v.to_str().ok())
        .ok_or("Idempotency-Key must be visible ASCII text")?;
    if key.is_empty() {
        return Err("Idempotency-Key must not be empty");
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err("Idempotency-Key must be at most 255 characters");
    }
    Ok(key.to_owned())
}

/// Lower-case hex SHA-256 of method, path with query, and body.
fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(
        uri.path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .as_bytes(),
    );
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a `/graphql` body runs a mutation. Multipart bodies are uploads
/// (`startImport`), which are mutations; a JSON batch counts if any item does.
fn is_mutation(headers: &HeaderMap, body: &[u8]) -> bool {
    let multipart = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    if multipart {
        return true;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items.iter().any(operation_is_mutation),
        Ok(one) => operation_is_mutation(&one),
        Err(_) => false,
    }
}

fn operation_is_mutation(request: &Value) -> bool {
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return false;
    };
    let Ok(doc) = parse_query(query) else {
        return false;
    };
    let ty = match (
        doc.operations,
        request.get("operationName").and_then(Value::as_str),
    ) {
        (DocumentOperations::Single(op), _) => op.node.ty,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op.node.ty,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    ty == OperationType::Mutation
}

/// Starts a purge of expired rows when the last one is old enough.
fn maybe_purge(state: &AppState) {
    static LAST_PURGE: AtomicI64 = AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp();
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now - last < PURGE_EVERY_SECS
        || LAST_PURGE
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let db = state.db.clone();
    tokio::spawn(async move {
        match store::purge(&db).await {
            Ok(n) => tracing::debug!(idempotency.purged = n, "purged expired idempotency keys"),
            Err(err) => tracing::warn!(error = %err, "purging idempotency keys failed"),
        }
    });
}

/// An error in the surface's shape.
fn refuse(surface: Surface, code: ErrorCode, message: &str, request_id: &str) -> Response {
    match surface {
        Surface::Graphql => error_response(code, message, request_id),
        Surface::V1 | Surface::Upload => envelope::error(code, message, request_id.to_owned()),
    }
}

/// A failure here, logged: `unavailable` when the database is `busy`, else
/// `internal`.
fn failure(
    surface: Surface,
    request_id: &str,
    busy: bool,
    cause: &dyn std::fmt::Display,
    what: &str,
) -> Response {
    let (code, message) = server_failure(busy, request_id, cause, what);
    refuse(surface, code, &message, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h
    }

    fn mutation(body: serde_json::Value) -> bool {
        is_mutation(&json_headers(), body.to_string().as_bytes())
    }

    #[test]
    fn only_the_selected_operation_decides() {
        assert!(mutation(serde_json::json!({ "query": "mutation { a }" })));
        assert!(!mutation(serde_json::json!({ "query": "{ a }" })));
        let doc = "query Q { a } mutation M { b }";
        assert!(mutation(
            serde_json::json!({ "query": doc, "operationName": "M" })
        ));
        assert!(!mutation(
            serde_json::json!({ "query": doc, "operationName": "Q" })
        ));
        assert!(!mutation(serde_json::json!({ "query": doc })));
        assert!(!mutation(serde_json::json!({ "query": "mutation {" })));
        assert!(mutation(
            serde_json::json!([{ "query": "{ a }" }, { "query": "mutation { b }" }])
        ));
        let mut multipart = HeaderMap::new();
        multipart.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=x"),
        );
        assert!(is_mutation(&multipart, b"--x"));
    }

    #[test]
    fn keys_are_one_to_255_visible_characters() {
        let key = |s: &str| {
            parse_key(Some(
                &HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("x")),
            ))
        };
        assert!(key("").is_err());
        assert!(key(&"k".repeat(256)).is_err());
        assert_eq!(key(&"k".repeat(255)).ok(), Some("k".repeat(255)));
        assert!(parse_key(None).is_err());
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let uri = |s: &str| s.parse::<Uri>().unwrap_or_default();
        let base = fingerprint(&Method::POST, &uri("/v1/leads/batch"), b"{}");
        assert_eq!(base.len(), 64);
        assert_ne!(
            base,
            fingerprint(&Method::PATCH, &uri("/v1/leads/batch"), b"{}")
        );
        assert_ne!(
            base,
            fingerprint(&Method::POST, &uri("/v1/leads/batch?x=1"), b"{}")
        );
        assert_ne!(
            base,
            fingerprint(&Method::POST, &uri("/v1/leads/batch"), b"{ }")
        );
    }

    #[test]
    fn server_errors_and_rate_limits_are_not_kept() {
        let ok = Bytes::from_static(br#"{"data":{"a":1}}"#);
        let internal = Bytes::from_static(
            br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"internal","status":500}}]}"#,
        );
        let duplicate = Bytes::from_static(
            br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"duplicate","status":409}}]}"#,
        );
        assert!(keeps(Surface::Graphql, StatusCode::OK, &ok));
        assert!(keeps(Surface::Graphql, StatusCode::OK, &duplicate));
        assert!(!keeps(Surface::Graphql, StatusCode::OK, &internal));
        assert!(keeps(Surface::V1, StatusCode::OK, &internal));
        assert!(!keeps(Surface::V1, StatusCode::INTERNAL_SERVER_ERROR, &ok));
        assert!(!keeps(Surface::V1, StatusCode::TOO_MANY_REQUESTS, &ok));
        assert!(keeps(Surface::V1, StatusCode::MULTI_STATUS, &ok));
    }
}
