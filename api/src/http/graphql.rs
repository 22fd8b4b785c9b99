//! `POST /graphql` (authenticated) and `GET /graphql` (GraphiQL).
//!
//! A missing, malformed, unknown, revoked or expired key answers HTTP 401 with a
//! GraphQL-shaped body before anything executes.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::{
    auth::authenticate::{AuthenticateError, authenticate},
    error::ErrorCode,
    graphql::context::{Loaders, RequestId},
};

/// A GraphQL-shaped error body with an HTTP status.
pub fn error_response(code: ErrorCode, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "data": null,
        "errors": [{
            "message": message,
            "extensions": { "code": code.slug(), "status": code.status(), "requestId": request_id }
        }]
    });
    (status, Json(body)).into_response()
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> Response {
    let request_id = request_id(&headers);
    let principal = match authenticate(&state.db, &state.codec, &headers).await {
        Ok(p) => Arc::new(p),
        Err(AuthenticateError::Refused(err)) => {
            return error_response(err.code(), &err.to_string(), &request_id);
        }
        Err(AuthenticateError::Db(err)) => {
            tracing::error!(request.id = %request_id, error = %err, "authentication query failed");
            return error_response(
                ErrorCode::Internal,
                &format!("internal error (request id {request_id})"),
                &request_id,
            );
        }
    };
    tracing::Span::current().record("tenant.id", principal.tenant_id);
    let loaders = Loaders::new(&state.db, &principal);
    let request = req
        .into_inner()
        .data(principal)
        .data(loaders)
        .data(RequestId(request_id));
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
