//! The `/v1` response envelope:
//! `{ success, status, message, data, errors?, meta: { timestamp, version, requestId } }`.

use axum::{
    Json,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    domain::DomainError,
    error::{ErrorCode, server_failure, set_retry_after},
};

#[derive(Debug, Serialize)]
pub struct Meta {
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub version: &'static str,
    #[serde(rename = "requestId")]
    pub request_id: String,
}

#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    pub success: bool,
    pub status: u16,
    pub message: String,
    pub data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<serde_json::Value>>,
    pub meta: Meta,
}

/// The request id set by the request-id layer.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn meta(request_id: String) -> Meta {
    Meta {
        timestamp: crate::clock::now(),
        version: env!("CARGO_PKG_VERSION"),
        request_id,
    }
}

/// A successful (or multi-status) envelope.
pub fn ok<T: Serialize>(
    status: StatusCode,
    message: &str,
    data: T,
    request_id: String,
) -> Response {
    let body = Envelope {
        success: status.is_success(),
        status: status.as_u16(),
        message: message.to_owned(),
        data: Some(data),
        errors: None,
        meta: meta(request_id),
    };
    (status, Json(body)).into_response()
}

/// An error envelope with the code table's status (503 adds `Retry-After`).
pub fn error(code: ErrorCode, message: &str, request_id: String) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body: Envelope<()> = Envelope {
        success: false,
        status: status.as_u16(),
        message: message.to_owned(),
        data: None,
        errors: Some(vec![
            serde_json::json!({ "code": code.slug(), "message": message }),
        ]),
        meta: meta(request_id),
    };
    let mut response = (status, Json(body)).into_response();
    set_retry_after(&mut response);
    response
}

/// A domain error as an envelope; internal causes are logged, not shown
/// (database overload is `unavailable`).
pub fn domain_error(err: &DomainError, request_id: String) -> Response {
    match err {
        DomainError::Db(_) | DomainError::Internal(_) => {
            let (code, message) = server_failure(err.busy(), &request_id, err, "request failed");
            error(code, &message, request_id)
        }
        other => error(other.code(), &other.to_string(), request_id),
    }
}
