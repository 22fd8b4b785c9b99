//! `leadgraph-bench`: parse the command line and hand off to the library.

use clap::Parser;
use leadgraph_bench::Cli;

// The import pipeline allocates cells and leads on one thread and frees
// them on another; glibc's malloc serialises that on its arena locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match leadgraph_bench::run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
