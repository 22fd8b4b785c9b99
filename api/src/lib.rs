//! Leadgraph's server: GraphQL API, HTTP routes, auth and scope, domain services
//! and the command line. `main.rs` only parses arguments and calls [`cli::run`].

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod middleware;
pub mod ratelimit;
pub mod scope;
pub mod setup_lock;
pub mod startup;
pub mod store;
pub mod telemetry;
#[cfg(test)]
mod test_support;

/// Webhook signatures for receivers written in Rust: [`webhooks::verify`].
pub use domain::webhooks::signing as webhooks;
