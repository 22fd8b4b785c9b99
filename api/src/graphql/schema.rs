//! Schema assembly: limits and SDL export.
//!
//! No async-graphql extension is registered: any extension puts every field
//! of every request on async-graphql's slow path. Rate limiting and the
//! finishing of responses (error codes, `null` for failed fields) run in the
//! HTTP handler instead (`rate_limit`, `response`).

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::{mutation::Mutation, query::Query};
use crate::{ids::IdCodec, ratelimit::RateLimiter};

/// The Leadgraph schema type.
pub type LeadgraphSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest selection accepted (`query_too_complex` beyond).
pub const MAX_DEPTH: usize = 12;
/// Highest complexity accepted: a connection field costs its page size times its
/// selection, so 200 leads with ~30 fields each (nested objects included) fit.
pub const MAX_COMPLEXITY: usize = 10_000;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema with its shared data (database, id codec, rate limiter, webhook
/// settings, job handle, auth cache).
pub fn build_schema(
    db: DatabaseConnection,
    codec: IdCodec,
    limiter: RateLimiter,
    webhooks: crate::domain::webhooks::Settings,
    jobs: crate::jobs::Jobs,
    auth: crate::auth::cache::AuthCache,
) -> LeadgraphSchema {
    builder()
        .data(db)
        .data(codec)
        .data(limiter)
        .data(webhooks)
        .data(jobs.signal.clone())
        .data(jobs)
        .data(auth)
        .finish()
}

/// The SDL exported to `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
