//! Routes and cross-cutting layers: request ids (`X-Request-Id`, generated when
//! absent and echoed back), tracing spans, body limits and metrics.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{MatchedPath, State},
    http::{HeaderName, Request},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use sea_orm::DatabaseConnection;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnFailure, TraceLayer},
};

use super::{
    graphql, health,
    metrics::{self, Metrics, RequestLabels},
    v1,
};
use crate::{graphql::LeadgraphSchema, middleware::idempotency};

/// Largest request body accepted (a batch of 500 leads with custom fields fits).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub codec: crate::ids::IdCodec,
    pub schema: LeadgraphSchema,
    /// The schema's field types, for finishing responses with errors.
    pub field_types: Arc<crate::graphql::response::FieldTypes>,
    /// Parsed documents by query text.
    pub documents: crate::graphql::documents::Documents,
    pub metrics: Arc<Metrics>,
    pub limiter: crate::ratelimit::RateLimiter,
    pub jobs: crate::jobs::Jobs,
    /// Verified API keys (see `crate::auth::cache`).
    pub auth: crate::auth::cache::AuthCache,
}

async fn count_requests(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // Import uploads: their own body limit (the configured file size, enforced
    // while streaming) and no request timeout (a large file takes a while).
    let uploads = Router::new().route(
        "/v1/imports",
        post(v1::imports::start).layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::v1_stream,
        )),
    );
    let api =
        Router::new()
            .route(
                "/graphql",
                get(graphql::graphiql).post(graphql::graphql).layer(
                    middleware::from_fn_with_state(state.clone(), idempotency::graphql),
                ),
            )
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
            .route("/metrics", get(metrics::metrics))
            .route(
                "/v1/leads/batch",
                post(v1::batch::create)
                    .patch(v1::batch::update)
                    .delete(v1::batch::delete)
                    .layer(middleware::from_fn_with_state(
                        state.clone(),
                        idempotency::v1,
                    )),
            )
            .route("/v1/leads/export", get(v1::export::export))
            .route("/v1/imports/{id}", get(v1::imports::get))
            .route("/v1/imports/{id}/results", get(v1::imports::results))
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ));
    api.merge(uploads)
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request.id = %id, tenant.id = tracing::field::Empty)
        })
        // The handlers log a failure's cause themselves (at error for a bug,
        // at warn for a busy server); this line only records the status.
        .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
