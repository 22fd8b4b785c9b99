//! `leadgraph`: parse the command line, set up logging, hand off to the library.

use clap::Parser;
use leadgraph::{cli, config::Cli, telemetry};

/// mimalloc: the import pipeline allocates rows on worker threads and frees
/// them on another, which glibc's allocator handles poorly (the batch
/// benchmark runs about twice as fast with it).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.global.log_format);
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
