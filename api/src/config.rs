//! Command line and configuration: every setting is a flag with an environment
//! variable fallback (`leadgraph --help` lists them).

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Default database: the embedded SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://leadgraph.db?mode=rwc";

/// Leadgraph: an API-first lead database.
#[derive(Debug, Parser)]
#[command(name = "leadgraph", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Log format on stderr.
    #[arg(long, env = "LEADGRAPH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, then serve the API (the default command).
    Serve(ServeArgs),
    /// Run pending migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
}

/// Settings of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEADGRAPH_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Alphabet of public ids (62 unique alphanumeric characters, shuffled per
    /// deployment). Default: the Sqids alphabet.
    #[arg(long, env = "LEADGRAPH_ID_ALPHABET")]
    pub id_alphabet: Option<String>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            id_alphabet: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, its owner and one full-scope key per environment.
    Create(TenantCreateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TenantCreateArgs {
    /// Tenant name.
    #[arg(long)]
    pub name: String,
    /// Plan: free, starter, pro, team or enterprise.
    #[arg(long, default_value = "free")]
    pub plan: String,
    /// Market codes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "US")]
    pub markets: Vec<String>,
    /// Email of the owner user (default: owner@<tenant>.example).
    #[arg(long)]
    pub owner_email: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["leadgraph"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn tenant_create_parses_markets() {
        let cli = Cli::try_parse_from([
            "leadgraph",
            "tenant",
            "create",
            "--name",
            "Acme",
            "--markets",
            "US,IN",
            "--json",
        ])
        .unwrap();
        let Some(Command::Tenant(TenantCommand::Create(args))) = cli.command else {
            panic!("expected tenant create");
        };
        assert_eq!(args.markets, vec!["US", "IN"]);
        assert!(args.json);
        assert_eq!(args.plan, "free");
    }
}
