//! Command implementations (`serve`, `migrate`, `tenant create`, `export`,
//! `import`).

pub mod export;
pub mod import;
mod serve;
mod tenant;

use crate::config::{Cli, Command, TenantCommand};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = cli.global.database_url;
    match cli.command {
        None => serve::run(&url, &cli.serve).await,
        Some(Command::Serve(args)) => serve::run(&url, &args).await,
        Some(Command::Migrate) => {
            crate::startup::migrate(&url).await?;
            tracing::info!("migrations are up to date");
            Ok(())
        }
        Some(Command::Tenant(TenantCommand::Create(args))) => tenant::create(&url, args).await,
        Some(Command::Export(args)) => export::run(*args).await,
        Some(Command::Import(args)) => import::run(*args).await,
    }
}
