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
pub mod scope;
pub mod startup;
pub mod store;
pub mod telemetry;
