//! HTTP surface: router, GraphQL endpoint, health and metrics.

pub mod graphql;
pub mod health;
pub mod metrics;
pub mod router;
pub mod v1;

pub use router::{AppState, router};
