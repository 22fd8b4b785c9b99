//! `GET /metrics` in the Prometheus text format, from a registry owned by the app
//! (no process-global state, so several apps in one process keep apart).

use std::sync::Arc;

use axum::{extract::State, http::header, response::IntoResponse};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

use super::AppState;

/// Labels of `leadgraph_http_requests`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

/// The app's metrics.
pub struct Metrics {
    registry: Registry,
    /// SQL statements sent to the database (every statement, reads and writes).
    pub db_statements: Counter,
    pub http_requests: Family<RequestLabels, Counter>,
    /// API key lookups answered from the auth cache, and those that were not.
    pub auth_cache_hits: Counter,
    pub auth_cache_misses: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("leadgraph");
        let db_statements = Counter::default();
        registry.register(
            "db_statements",
            "SQL statements sent to the database",
            db_statements.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let auth_cache_hits = Counter::default();
        registry.register(
            "auth_cache_hits",
            "API key lookups answered from the auth cache",
            auth_cache_hits.clone(),
        );
        let auth_cache_misses = Counter::default();
        registry.register(
            "auth_cache_misses",
            "API key lookups the auth cache could not answer (checked in the database)",
            auth_cache_misses.clone(),
        );
        Arc::new(Self {
            registry,
            db_statements,
            http_requests,
            auth_cache_hits,
            auth_cache_misses,
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
