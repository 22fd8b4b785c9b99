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
    /// Upload a CSV file to `POST /v1/imports` of a running server, follow the
    /// job, print its summary and write failed rows to `FILE.errors.csv`.
    Import(Box<ImportArgs>),
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
    /// Multiplier of every plan's rate limits and monthly quota (for
    /// deployments that meter elsewhere, and for load benchmarks).
    #[arg(long, env = "LEADGRAPH_RATE_LIMIT_SCALE", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit_scale: u64,
    /// Most database connections this instance's pool opens (requests, jobs
    /// and webhook delivery share them).
    #[arg(long, env = "LEADGRAPH_DB_MAX_CONNECTIONS", default_value_t = crate::startup::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// How long a request waits for a pooled database connection, in
    /// milliseconds; past it the request answers 503 `unavailable`.
    #[arg(long, env = "LEADGRAPH_DB_ACQUIRE_TIMEOUT_MS", default_value_t = crate::startup::DEFAULT_ACQUIRE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,
    /// SQLite only: how long a write waits for the database's one write lock
    /// (held by another write, here or in another process), in milliseconds;
    /// past it the request answers 503 `unavailable`.
    #[arg(long, env = "LEADGRAPH_DB_BUSY_TIMEOUT_MS", default_value_t = crate::startup::DEFAULT_BUSY_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_busy_timeout_ms: u64,
    /// How long a verified API key (and an `X-On-Behalf-Of` user) is cached,
    /// in milliseconds; 0 checks every request against the database.
    /// Revocations on this instance, and with Redis on every instance, take
    /// effect at once; without Redis other instances see them within this time.
    #[arg(long, env = "LEADGRAPH_AUTH_CACHE_TTL_MS", default_value_t = crate::auth::cache::DEFAULT_TTL_MS)]
    pub auth_cache_ttl_ms: u64,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            id_alphabet: None,
            redis_url: None,
            redis_prefix: "leadgraph".into(),
            rate_limit_period_secs: 60,
            rate_limit_scale: 1,
            db_max_connections: crate::startup::DEFAULT_MAX_CONNECTIONS,
            db_acquire_timeout_ms: crate::startup::DEFAULT_ACQUIRE_TIMEOUT_MS,
            db_busy_timeout_ms: crate::startup::DEFAULT_BUSY_TIMEOUT_MS,
            auth_cache_ttl_ms: crate::auth::cache::DEFAULT_TTL_MS,
            webhooks: WebhookArgs::default(),
            jobs: JobArgs::default(),
        }
    }
}

/// Import and dedupe job settings.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Largest import file, in bytes (413 `payload_too_large` beyond).
    #[arg(
        long = "import-max-bytes",
        env = "LEADGRAPH_IMPORT_MAX_BYTES",
        default_value_t = 1024 * 1024 * 1024
    )]
    pub import_max_bytes: u64,
    /// Most data rows in one import file (413 `payload_too_large` beyond).
    #[arg(
        long = "import-max-rows",
        env = "LEADGRAPH_IMPORT_MAX_ROWS",
        default_value_t = 5_000_000
    )]
    pub import_max_rows: u64,
    /// Rows per import chunk: each chunk is one transaction.
    #[arg(
        long = "import-chunk-rows",
        env = "LEADGRAPH_IMPORT_CHUNK_ROWS",
        default_value_t = 5_000
    )]
    pub import_chunk_rows: usize,
    /// How often an idle job runner looks for queued jobs, in milliseconds.
    #[arg(
        id = "job_poll_ms",
        long = "job-poll-ms",
        env = "LEADGRAPH_JOB_POLL_MS",
        default_value_t = 1_000
    )]
    pub poll_ms: u64,
    /// How long a claimed job stays with its runner without progress, in
    /// seconds; then another instance resumes it.
    #[arg(
        long = "job-lease-secs",
        env = "LEADGRAPH_JOB_LEASE_SECS",
        default_value_t = 60
    )]
    pub lease_secs: u64,
    /// Run import and dedupe jobs in this instance (`false` for API-only
    /// instances; jobs wait for an instance that runs them).
    #[arg(
        long = "job-runner",
        env = "LEADGRAPH_JOB_RUNNER",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub runner: bool,
}

impl Default for JobArgs {
    fn default() -> Self {
        let limits = crate::domain::imports::ImportLimits::default();
        Self {
            import_max_bytes: limits.max_file_bytes,
            import_max_rows: limits.max_rows,
            import_chunk_rows: limits.chunk_rows,
            poll_ms: 1_000,
            lease_secs: 60,
            runner: true,
        }
    }
}

impl JobArgs {
    /// The import limits requests and runners apply.
    pub fn limits(&self) -> crate::domain::imports::ImportLimits {
        crate::domain::imports::ImportLimits {
            max_file_bytes: self.import_max_bytes,
            max_rows: self.import_max_rows,
            chunk_rows: self.import_chunk_rows.clamp(1, 50_000),
            ..Default::default()
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

/// What `leadgraph import` does with a row whose email matches an existing lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicate {
    /// Keep the existing lead; the row counts as skipped.
    Skip,
    /// Fill the existing lead from the row.
    Update,
    /// The row fails with `duplicate`.
    Error,
}

/// Where `leadgraph import` puts columns that map to no lead field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unmapped {
    /// Into the lead's `customFields`.
    Custom,
    /// Nowhere.
    Ignore,
}

/// `leadgraph import`: the file, the server, the key and the options of
/// `POST /v1/imports` (options given are sent as is; the server validates them
/// and applies its defaults to the others).
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// CSV file with a header row (UTF-8; `,`, `;` or tab delimited).
    pub file: std::path::PathBuf,
    /// Base URL of the Leadgraph server, e.g. `http://127.0.0.1:8000`.
    #[arg(long, env = "LEADGRAPH_API_URL")]
    pub api_url: String,
    /// API key with `imports:run`.
    #[arg(long, env = "LEADGRAPH_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// What to do with a row whose email matches an existing lead (server
    /// default: error).
    #[arg(long, value_enum)]
    pub on_duplicate: Option<OnDuplicate>,
    /// Validate and count only: nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Header-to-field mapping, e.g. `"E-mail=email,Given=firstName"` (the server
    /// maps the other headers by name and synonyms).
    #[arg(long)]
    pub mapping: Option<String>,
    /// Where columns that map to no field go (not given: the server's default).
    #[arg(long, value_enum)]
    pub unmapped: Option<Unmapped>,
    /// Market code of the rows, e.g. `US` (the default region of phone numbers).
    #[arg(long)]
    pub market: Option<String>,
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
    fn import_parses_the_file_and_options() {
        let cli = Cli::try_parse_from([
            "leadgraph",
            "import",
            "leads.csv",
            "--api-url",
            "http://127.0.0.1:8000",
            "--api-key",
            "k",
            "--on-duplicate",
            "update",
            "--dry-run",
            "--unmapped",
            "ignore",
        ])
        .unwrap();
        let Some(Command::Import(args)) = cli.command else {
            panic!("expected import");
        };
        assert_eq!(args.file, std::path::PathBuf::from("leads.csv"));
        assert_eq!(args.on_duplicate, Some(OnDuplicate::Update));
        assert_eq!(args.unmapped, Some(Unmapped::Ignore));
        assert!(args.dry_run);
        assert_eq!(args.mapping, None);
        assert_eq!(args.market, None);
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
