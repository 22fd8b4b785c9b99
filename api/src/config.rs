//! Command line and configuration: every setting is a flag with an environment
//! variable fallback (`leadgraph --help` lists them).

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Default database: the embedded SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://leadgraph.db?mode=rwc";

/// Leadgraph: an API-first lead database.
#[derive(Debug, Parser)]
#[command(
    name = "leadgraph",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Server settings when no subcommand is given (`leadgraph` = `leadgraph serve`).
    #[command(flatten)]
    pub serve: ServeArgs,
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
    /// Stream `GET /v1/leads/export` of a running server to stdout.
    Export(Box<ExportArgs>),
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
    /// Redis for shared rate-limit and quota counters (several instances share
    /// one budget). Without it, counters live in this process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (one per deployment).
    #[arg(long, env = "LEADGRAPH_REDIS_PREFIX", default_value = "leadgraph")]
    pub redis_prefix: String,
    /// Refill period of the per-class rate limits, in seconds (limits are per
    /// minute in production; tests shorten it).
    #[arg(long, env = "LEADGRAPH_RATE_LIMIT_PERIOD_SECS", default_value_t = 60)]
    pub rate_limit_period_secs: u64,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            id_alphabet: None,
            redis_url: None,
            redis_prefix: "leadgraph".into(),
            rate_limit_period_secs: 60,
            webhooks: WebhookArgs::default(),
        }
    }
}

/// Webhook delivery settings.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Allow webhook URLs that resolve to loopback or private addresses (for
    /// development and tests; never in production).
    #[arg(
        long = "webhook-allow-private",
        env = "LEADGRAPH_WEBHOOK_ALLOW_PRIVATE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_private: bool,
    /// Wait after a failed delivery attempt, in milliseconds; doubles after each
    /// further failure.
    #[arg(
        long = "webhook-backoff-base-ms",
        env = "LEADGRAPH_WEBHOOK_BACKOFF_BASE_MS",
        default_value_t = 30_000
    )]
    pub backoff_base_ms: u64,
    /// Longest wait between two delivery attempts, in milliseconds.
    #[arg(
        long = "webhook-backoff-max-ms",
        env = "LEADGRAPH_WEBHOOK_BACKOFF_MAX_MS",
        default_value_t = 3_600_000
    )]
    pub backoff_max_ms: u64,
    /// How long a delivery is retried before it is given up, in seconds.
    #[arg(
        long = "webhook-retry-window-secs",
        env = "LEADGRAPH_WEBHOOK_RETRY_WINDOW_SECS",
        default_value_t = 86_400
    )]
    pub retry_window_secs: u64,
    /// How often the dispatcher looks for due deliveries, in milliseconds.
    #[arg(
        long = "webhook-poll-ms",
        env = "LEADGRAPH_WEBHOOK_POLL_MS",
        default_value_t = 1_000
    )]
    pub poll_ms: u64,
    /// Run the webhook dispatcher in this instance (`false` for API-only
    /// instances; deliveries wait for an instance that runs it).
    #[arg(
        long = "webhook-dispatcher",
        env = "LEADGRAPH_WEBHOOK_DISPATCHER",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dispatcher: bool,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        Self {
            allow_private: false,
            backoff_base_ms: 30_000,
            backoff_max_ms: 3_600_000,
            retry_window_secs: 86_400,
            poll_ms: 1_000,
            dispatcher: true,
        }
    }
}

impl WebhookArgs {
    /// The settings the webhook services and dispatcher use.
    pub fn settings(&self) -> crate::domain::webhooks::Settings {
        use std::time::Duration;
        crate::domain::webhooks::Settings {
            allow_private: self.allow_private,
            backoff_base: Duration::from_millis(self.backoff_base_ms.max(1)),
            backoff_max: Duration::from_millis(self.backoff_max_ms.max(1)),
            retry_window: Duration::from_secs(self.retry_window_secs),
            poll_interval: Duration::from_millis(self.poll_ms.max(1)),
            dispatcher: self.dispatcher,
            ..Default::default()
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

/// Body format of `leadgraph export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// `leadgraph export`: the server, the key and the filters of `/v1/leads/export`
/// (given filters are sent as is; the server validates them).
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Base URL of the Leadgraph server, e.g. `http://127.0.0.1:8000`.
    #[arg(long, env = "LEADGRAPH_API_URL")]
    pub api_url: String,
    /// API key with `leads:read` (and `pii:read` for the email, phone and
    /// customFields columns).
    #[arg(long, env = "LEADGRAPH_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Statuses, comma-separated (NEW, CONTACTED, QUALIFIED, UNQUALIFIED).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Sources, comma-separated (WEB, REFERRAL, API, IMPORT, MANUAL).
    #[arg(long, value_delimiter = ',')]
    pub source: Vec<String>,
    /// Market codes, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub market: Vec<String>,
    /// Only leads of this team (public id).
    #[arg(long)]
    pub team_id: Option<String>,
    /// Only leads assigned to this user (public id).
    #[arg(long)]
    pub assigned_to_id: Option<String>,
    /// `true`: only unassigned leads; `false`: only assigned ones.
    #[arg(long)]
    pub unassigned: Option<bool>,
    /// Lowest score (inclusive).
    #[arg(long)]
    pub score_min: Option<i32>,
    /// Highest score (inclusive).
    #[arg(long)]
    pub score_max: Option<i32>,
    /// Created at or after this RFC 3339 time.
    #[arg(long)]
    pub created_after: Option<String>,
    /// Created before this RFC 3339 time.
    #[arg(long)]
    pub created_before: Option<String>,
    /// Updated at or after this RFC 3339 time (incremental sync with
    /// `--order-by updated_at`).
    #[arg(long)]
    pub updated_after: Option<String>,
    /// Updated before this RFC 3339 time.
    #[arg(long)]
    pub updated_before: Option<String>,
    /// Exact (canonical) email; needs `pii:read`.
    #[arg(long)]
    pub email: Option<String>,
    /// Case-insensitive prefix of name, company or (with `pii:read`) email.
    #[arg(long)]
    pub search: Option<String>,
    /// Sort field: created_at (default), updated_at, score or last_name.
    #[arg(long)]
    pub order_by: Option<String>,
    /// Sort direction: asc (default) or desc.
    #[arg(long)]
    pub direction: Option<String>,
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
    fn export_parses_filter_lists() {
        let cli = Cli::try_parse_from([
            "leadgraph",
            "export",
            "--api-url",
            "http://127.0.0.1:8000",
            "--api-key",
            "k",
            "--status",
            "NEW,CONTACTED",
            "--score-min",
            "10",
            "--format",
            "jsonl",
        ])
        .unwrap();
        let Some(Command::Export(args)) = cli.command else {
            panic!("expected export");
        };
        assert_eq!(args.status, vec!["NEW", "CONTACTED"]);
        assert_eq!(args.score_min, Some(10));
        assert_eq!(args.format, ExportFormat::Jsonl);
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
