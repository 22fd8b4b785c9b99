#![doc = include_str!("../README.md")]

pub mod batch_bench;
pub mod dedupe;
// `gen` is a reserved word in edition 2024, so the file keeps the short
// name and the module a usable one.
#[path = "gen.rs"]
pub mod generator;
pub mod import;
pub mod report;

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
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Gen(args) => generator::run(&args),
        Command::Batch(args) => batch_bench::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Dedupe(args) => dedupe::run(&args),
    }
}
