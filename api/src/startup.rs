//! Building and running the server: connect, migrate, (bootstrap), bind.
//!
//! `App::build` binds the listener and reports the port, so tests bind port 0 and
//! talk to the real server.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tokio::net::TcpListener;

use crate::{
    auth::cache::AuthCache,
    config::ServeArgs,
    domain::{
        DomainError,
        tenants::{self, CreatedTenant},
    },
    graphql::{build_schema, documents::Documents, response::FieldTypes},
    http::{AppState, metrics::Metrics, router},
    ids::IdCodec,
    jobs::{JobSignal, Jobs, RunnerSettings},
    ratelimit::{Backend, MemoryBackend, RateLimiter, RedisBackend},
    setup_lock::SetupLock,
};

/// Connections of a pool unless configured (`LEADGRAPH_DB_MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How long a pooled connection is waited for unless configured
/// (`LEADGRAPH_DB_ACQUIRE_TIMEOUT_MS`), in milliseconds.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 10_000;

/// How long a SQLite write waits for the write lock unless configured
/// (`LEADGRAPH_DB_BUSY_TIMEOUT_MS`), in milliseconds.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

/// How long opening the first connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle this long is pinged before it is handed out;
/// one used more recently is not (see [`connect_pool`]).
const POOL_PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);
/// SQLite checkpoints its WAL into the database file when a commit leaves the
/// WAL at this many pages or more (4 KiB each: 64 MiB). SQLite's default of
/// 1,000 pages made every 5,000-row import chunk pay a checkpoint (rewrite its
/// pages in the database file, then `fsync` it). A page changed by several
/// commits in between is now written to the file once. Measured on 2 cores
/// (README, "Benchmarks"): a million-row import and the dedupe's real run over
/// a million leads took about 15-20% less time. The price: a WAL file of up
/// to about 64 MiB, and the commit that does checkpoint copies up to that
/// much.
pub const SQLITE_WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// The database pool's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before `unavailable`.
    pub acquire_timeout: Duration,
    /// SQLite: how long a write waits for the write lock before `unavailable`.
    pub busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
            busy_timeout: Duration::from_millis(DEFAULT_BUSY_TIMEOUT_MS),
        }
    }
}

impl PoolSettings {
    /// The pool `serve` configures.
    pub fn of(args: &ServeArgs) -> Self {
        Self {
            max_connections: args.db_max_connections,
            acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms.max(1)),
            busy_timeout: Duration::from_millis(args.db_busy_timeout_ms.max(1)),
        }
    }
}

/// Opens the database with the default pool.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_pool(url, PoolSettings::default()).await
}

/// Opens the database with a pool of up to `max_connections` (default acquire
/// timeout).
pub async fn connect_with(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_pool(
        url,
        PoolSettings {
            max_connections,
            ..PoolSettings::default()
        },
    )
    .await
}

/// Opens the database with the pool `pool` and tunes every connection (WAL for
/// SQLite).
pub async fn connect_pool(url: &str, pool: PoolSettings) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(pool.max_connections.max(1))
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(pool.acquire_timeout)
        // sqlx pings every connection it hands out by default: one more
        // round trip per request (and per statement outside a transaction).
        // Only a connection idle for `POOL_PING_IF_IDLE_FOR` is pinged, as
        // HikariCP does; a connection that broke within that time fails the
        // statement that gets it.
        .test_before_acquire_if_idle_for(POOL_PING_IF_IDLE_FOR)
        .sqlx_logging(false)
        // On every pooled connection (pragmas are per connection): WAL with
        // `synchronous=NORMAL` (durable across application crashes; a power
        // loss may drop the last commits), an 8 MiB page cache, the busy
        // timeout writers queue on for the write lock, and a WAL checkpoint
        // every 64 MiB instead of every 4 MiB.
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(pool.busy_timeout)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .pragma("cache_size", "-8192")
                .pragma(
                    "wal_autocheckpoint",
                    SQLITE_WAL_AUTOCHECKPOINT_PAGES.to_string(),
                )
        });
    // sqlx bounds opening a connection by the acquire timeout too: the first
    // connection gets `CONNECT_TIMEOUT`, however short the acquire timeout is.
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let db = loop {
        match Database::connect(opts.clone()).await {
            Err(err) if DomainError::is_busy(&err) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    }
    .with_context(|| format!("connecting to the database ({})", redact(url)))?;
    Ok(db)
}

/// Hides a password in a database URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Connects and runs pending migrations.
pub async fn migrate(url: &str) -> anyhow::Result<DatabaseConnection> {
    migrate_with(url, PoolSettings::default()).await
}

/// Connects with the pool `pool` and runs pending migrations. Instances
/// starting together take turns ([`SetupLock`]).
pub async fn migrate_with(url: &str, pool: PoolSettings) -> anyhow::Result<DatabaseConnection> {
    let db = connect_pool(url, pool).await?;
    let lock = SetupLock::acquire(url).await?;
    let migrated = Migrator::up(&db, None).await.context("running migrations");
    lock.release().await?;
    migrated?;
    Ok(db)
}

/// Rate-limit counters in Redis when `REDIS_URL` is set, else in memory.
async fn rate_limiter(args: &ServeArgs) -> anyhow::Result<RateLimiter> {
    let period = Duration::from_secs(args.rate_limit_period_secs.max(1));
    let backend: Arc<dyn Backend> = match &args.redis_url {
        Some(url) if !url.is_empty() => {
            Arc::new(RedisBackend::connect(url, &args.redis_prefix).await?)
        }
        _ => Arc::new(MemoryBackend::default()),
    };
    Ok(RateLimiter::new(backend, period, args.rate_limit_scale))
}

/// Verified keys cached for `--auth-cache-ttl-ms`; invalidations are shared
/// through Redis when `REDIS_URL` is set.
async fn auth_cache(args: &ServeArgs, metrics: &Metrics) -> anyhow::Result<AuthCache> {
    let ttl = Duration::from_millis(args.auth_cache_ttl_ms);
    let (hits, misses) = (
        metrics.auth_cache_hits.clone(),
        metrics.auth_cache_misses.clone(),
    );
    match &args.redis_url {
        Some(url) if !url.is_empty() => {
            AuthCache::with_redis(ttl, hits, misses, url, &args.redis_prefix).await
        }
        _ => Ok(AuthCache::new(ttl, hits, misses)),
    }
}

/// A bound, ready-to-run server.
pub struct App {
    /// The database it was built on (the bootstrap takes the setup lock).
    database_url: String,
    listener: TcpListener,
    port: u16,
    state: AppState,
    /// The webhook dispatcher, unless this instance runs none.
    dispatcher: Option<crate::jobs::webhooks::Dispatcher>,
    /// The import/dedupe job runner, unless this instance runs none.
    runner: Option<crate::jobs::JobRunner>,
}

impl App {
    /// Migrates the database, binds the address, and builds the router.
    pub async fn build(database_url: &str, args: &ServeArgs) -> anyhow::Result<Self> {
        let mut db = migrate_with(database_url, PoolSettings::of(args)).await?;
        // Background jobs share the pool without the statement counter, which
        // counts the statements made for requests.
        let jobs_db = db.clone();
        let metrics = Metrics::new();
        let statements = metrics.db_statements.clone();
        db.set_metric_callback(move |_| {
            statements.inc();
        });
        let codec = IdCodec::new(args.id_alphabet.as_deref())
            .context("LEADGRAPH_ID_ALPHABET must be unique alphanumeric characters")?;
        if let Some(alphabet) = &args.id_alphabet
            && (alphabet.chars().count() < 16
                || !alphabet.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            anyhow::bail!(
                "LEADGRAPH_ID_ALPHABET must be at least 16 unique ASCII letters and digits"
            );
        }
        let listener = TcpListener::bind(&args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let limiter = rate_limiter(args).await?;
        let auth = auth_cache(args, &metrics).await?;
        let webhooks = args.webhooks.settings();
        let dispatcher = webhooks
            .dispatcher
            .then(|| {
                crate::jobs::webhooks::Dispatcher::new(
                    jobs_db.clone(),
                    codec.clone(),
                    webhooks.clone(),
                )
            })
            .transpose()?;
        let signal = JobSignal::default();
        let instance = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let jobs = Jobs {
            signal: signal.clone(),
            limits: args.jobs.limits(),
            instance: instance.clone(),
        };
        let runner = args.jobs.runner.then(|| crate::jobs::JobRunner {
            db: jobs_db.clone(),
            codec: codec.clone(),
            limits: jobs.limits.clone(),
            settings: RunnerSettings {
                instance,
                poll_interval: Duration::from_millis(args.jobs.poll_ms.max(1)),
                lease: Duration::from_secs(args.jobs.lease_secs.max(1)),
            },
            signal,
        });
        let schema = build_schema(
            db.clone(),
            codec.clone(),
            limiter.clone(),
            webhooks,
            jobs.clone(),
            auth.clone(),
        );
        let field_types = FieldTypes::from_sdl(&schema.sdl())
            .map_err(|e| anyhow::anyhow!("reading the schema's field types: {}", e.message))?;
        Ok(Self {
            database_url: database_url.to_owned(),
            listener,
            port,
            dispatcher,
            runner,
            state: AppState {
                db,
                codec,
                schema,
                field_types: Arc::new(field_types),
                documents: Documents::default(),
                metrics,
                limiter,
                jobs,
                auth,
            },
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database connection the server uses.
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// The server's cache of verified keys.
    pub fn auth_cache(&self) -> &AuthCache {
        &self.state.auth
    }

    /// On an empty database, creates the `default` tenant and its live key.
    /// Instances starting together take turns, so only one creates it.
    pub async fn bootstrap(&self) -> anyhow::Result<Option<CreatedTenant>> {
        let lock = SetupLock::acquire(&self.database_url).await?;
        let created = tenants::bootstrap(&self.state.db)
            .await
            .map_err(|e| anyhow::anyhow!("bootstrapping: {e}"));
        lock.release().await?;
        created
    }

    /// Serves (and runs the webhook dispatcher) until `shutdown` resolves, then
    /// finishes in-flight requests and the dispatcher's round in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // Aborted with the server if this future is dropped (a crash, or a
        // test killing the server): background work never outlives it.
        let dispatcher = self
            .dispatcher
            .map(|d| AbortOnDrop(tokio::spawn(d.run(stopped.clone()))));
        let runner = self
            .runner
            .map(|r| AbortOnDrop(tokio::spawn(r.run(stopped))));
        // Evicts keys revoked on other instances (with Redis) while serving.
        let _auth = self
            .state
            .auth
            .subscriber()
            .map(|s| AbortOnDrop(tokio::spawn(s)));
        let served = axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving");
        let _ = stop.send(true);
        if let Some(mut handle) = dispatcher {
            (&mut handle.0)
                .await
                .context("stopping the webhook dispatcher")?;
        }
        if let Some(mut handle) = runner {
            (&mut handle.0).await.context("stopping the job runner")?;
        }
        served?;
        db.close().await.context("closing the database")?;
        Ok(())
    }
}

/// A background task that is aborted when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
