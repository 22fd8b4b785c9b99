//! Black-box tests: one binary (fast to link), one module per capability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod http;
mod loaders;
mod schema;
