//! The GraphQL API: schema, types, queries, mutations, connections and guards.
//!
//! Resolvers are thin: they take the `Principal` and loaders from the request
//! context, call one `domain`/`store` function and convert its error.

pub mod connection;
pub mod context;
pub mod documents;
pub mod errors;
pub mod guards;
pub mod mutation;
pub mod query;
pub mod rate_limit;
pub mod response;
pub mod schema;
pub mod types;

pub use schema::{LeadgraphSchema, build_schema, sdl};
