//! Command implementations (`serve`, `migrate`, `tenant create`).

mod serve;
mod tenant;

use crate::config::{Cli, Command, ServeArgs, TenantCommand};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let url = cli.global.database_url;
    match cli.command {
        None => serve::run(&url, &ServeArgs::default_from_env()).await,
        Some(Command::Serve(args)) => serve::run(&url, &args).await,
        Some(Command::Migrate) => {
            crate::startup::migrate(&url).await?;
            tracing::info!("migrations are up to date");
            Ok(())
        }
        Some(Command::Tenant(TenantCommand::Create(args))) => tenant::create(&url, args).await,
    }
}

impl ServeArgs {
    /// Serve settings when no subcommand was given: flags are not available, but
    /// the environment variables are.
    fn default_from_env() -> Self {
        let default = Self::default();
        Self {
            bind: std::env::var("LEADGRAPH_BIND").unwrap_or(default.bind),
            id_alphabet: std::env::var("LEADGRAPH_ID_ALPHABET").ok(),
        }
    }
}
