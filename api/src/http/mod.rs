//! HTTP surface: router, GraphQL endpoint, health and metrics.

pub mod graphql;
pub mod health;
pub mod metrics;
pub mod router;

pub use router::{AppState, router};
