//! `POST /graphql` (authenticated) and `GET /graphql` (GraphiQL).
//!
//! A missing, malformed, unknown, revoked or expired key answers HTTP 401 with a
//! GraphQL-shaped body before anything executes.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use super::{AppState, v1::auth::set_rate_headers};
use crate::{
    auth::{
        Principal,
        authenticate::{AuthenticateError, authenticate},
    },
    domain::DomainError,
    error::{ErrorCode, server_failure, set_retry_after},
    graphql::{
        context::{Loaders, RequestId},
        rate_limit::{self, RateSlot, cost_value},
    },
};

/// A GraphQL-shaped error body with an HTTP status (503 adds `Retry-After`).
pub fn error_response(code: ErrorCode, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "data": null,
        "errors": [{
            "message": message,
            "extensions": { "code": code.slug(), "status": code.status(), "requestId": request_id }
        }]
    });
    let mut response = (status, Json(body)).into_response();
    set_retry_after(&mut response);
    response
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
    authenticated: Option<Extension<Principal>>,
    req: GraphQLRequest,
) -> Response {
    let request_id = request_id(&headers);
    // A middleware (idempotency) may have authenticated the request already.
    let authenticated = match authenticated {
        Some(Extension(p)) => Ok(p),
        None => authenticate(&state.db, &state.codec, &state.auth, &headers).await,
    };
    let principal = match authenticated {
        Ok(p) => Arc::new(p),
        Err(AuthenticateError::Refused(err)) => {
            return error_response(err.code(), &err.to_string(), &request_id);
        }
        Err(AuthenticateError::Db(err)) => {
            let (code, message) = server_failure(
                DomainError::is_busy(&err),
                &request_id,
                &err,
                "authentication query failed",
            );
            return error_response(code, &message, &request_id);
        }
    };
    tracing::Span::current().record("tenant.id", principal.tenant_id);
    let mut request = req.into_inner();
    state.documents.prepare(&mut request);
    // Parsed once (or taken from the cache) above, for the rate limit;
    // execution reuses the document.
    let variables = std::mem::take(&mut request.variables);
    let (decision, refusal) = match request.parsed_query() {
        Ok(doc) => rate_limit::check(&state.limiter, &principal, doc, &variables).await,
        // Execution answers the parse error (`bad_request`).
        Err(_) => (None, None),
    };
    request.variables = variables;
    // A request refused by the rate limit or quota answers HTTP 429 (with the
    // rate-limit headers and `Retry-After`); one too complex to weigh (no
    // decision) is a GraphQL error like the other `query_too_complex`.
    let limited = refusal.is_some() && decision.is_some();
    let mut response = match refusal {
        Some(refused) => async_graphql::Response::from_errors(vec![refused]),
        None => {
            let query = request.query.clone();
            let operation = request.operation_name.clone();
            let loaders = Loaders::new(&state.db, &principal);
            let request = request
                .data(principal)
                .data(loaders)
                .data(RateSlot(decision.clone()))
                .data(RequestId(request_id));
            let mut response = state.schema.execute(request).await;
            if !response.errors.is_empty() {
                state
                    .field_types
                    .finish(&query, operation.as_deref(), &mut response);
            }
            response
        }
    };
    if let Some(d) = &decision {
        response.extensions.insert("cost".into(), cost_value(d));
    }
    let mut http = GraphQLResponse::from(response).into_response();
    if limited {
        *http.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    }
    if let Some(d) = &decision {
        set_rate_headers(&mut http, d);
    }
    http
}

pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}
