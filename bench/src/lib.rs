#![doc = include_str!("../README.md")]

pub mod api;
pub mod batch_bench;
pub mod dedupe;
// `gen` is a reserved word in edition 2024, so the file keeps the short
// name and the module a usable one.
#[path = "gen.rs"]
pub mod generator;
pub mod import;
pub mod postgraphile;
pub mod report;
pub mod server;

pub use generator::{GenConfig, GenSummary, write_leads};

use clap::{Parser, Subcommand};

/// Leadgraph benchmarks.
#[derive(Debug, Parser)]
#[command(name = "leadgraph-bench", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per benchmark; each lives in its own module with an
/// `Args` struct and a `run(args)` function.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a deterministic leads CSV (near-duplicates and invalid rows included).
    Gen(generator::GenArgs),
    /// Measure the batch-only import path (parse, map, validate, in-file dedupe).
    Batch(batch_bench::BatchArgs),
    /// Time a whole import through the server against `psql \copy` / `sqlite3 .import`.
    Import(import::ImportArgs),
    /// Time a bulk dedupe run (GraphQL `startDedupe`) after an import.
    Dedupe(dedupe::DedupeArgs),
    /// GraphQL load on a seeded database: req/s, p50, p99 per probe (optionally vs PostGraphile).
    Api(api::ApiArgs),
    /// Server memory under a long mixed GraphQL load.
    Soak(api::soak::SoakArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Gen(args) => generator::run(&args),
        Command::Batch(args) => batch_bench::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Dedupe(args) => dedupe::run(&args),
        Command::Api(args) => api::run(&args),
        Command::Soak(args) => api::soak::run(&args),
    }
}
