//! Test harness: the real server on a random port, a fresh database per test
//! (a SQLite file in a temp dir, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` is set; either is removed when the test's [`TestApp`]
//! is dropped), a seeded tenant and a real HTTP client.

use std::{sync::Once, time::Duration};

use entity::Environment;
use leadgraph::{
    config::ServeArgs,
    domain::tenants::{TenantSpec, create_tenant},
    ids::{IdCodec, NodeType},
    startup::App,
};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

static TRACING: Once = Once::new();

/// A tenant created for a test, with one full-scope key per environment.
#[derive(Debug, Clone)]
pub struct Seed {
    pub tenant_id: i64,
    pub owner_id: String,
    pub live: String,
    pub sandbox: String,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub codec: IdCodec,
    /// Tenant `acme` with markets US and IN.
    pub acme: Seed,
    /// The database the server uses (kept for [`TestApp::restart_with`]).
    pub database_url: String,
    /// The running server; dropping it stops the server.
    server: Option<Running>,
    /// Dropped last: removes the database (see [`TestDatabase`]).
    _database: TestDatabase,
}

/// A server task and the switch that stops it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Builds and starts a server on `url`; returns its connection, port and handle.
async fn start(
    url: &str,
    configure: impl FnOnce(&mut ServeArgs),
) -> (DatabaseConnection, u16, Running) {
    let mut args = ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..ServeArgs::default()
    };
    configure(&mut args);
    let app = App::build(url, &args).await.expect("build app");
    let db = app.db().clone();
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (db, port, Running { stop, task })
}

/// A GraphQL answer: HTTP status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// `data` at a dotted path (`createLead.lead.id`).
    pub fn data(&self, path: &str) -> &Value {
        path.split('.')
            .fold(&self.body["data"], |v, k| match k.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[k],
            })
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// The `extensions.code` of each error.
    pub fn codes(&self) -> Vec<String> {
        self.errors()
            .iter()
            .map(|e| {
                e["extensions"]["code"]
                    .as_str()
                    .unwrap_or("<none>")
                    .to_owned()
            })
            .collect()
    }

    /// Asserts there are no errors and returns `self`.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(
            self.errors().is_empty(),
            "unexpected errors: {:#}",
            self.body
        );
        self
    }

    /// The single error's code.
    #[track_caller]
    pub fn code(&self) -> String {
        let codes = self.codes();
        assert_eq!(
            codes.len(),
            1,
            "expected exactly one error: {:#}",
            self.body
        );
        codes[0].clone()
    }
}

/// A fresh database for one test: a SQLite file in a temp dir, or, when
/// `TEST_DATABASE_URL` (an admin URL) is set, a new PostgreSQL database
/// `lg_test_<uuid>`. Dropping it removes the database (best effort), so keep it
/// alive as long as anything uses [`TestDatabase::url`].
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _postgres: Option<DropDatabase>,
}

/// Drops a PostgreSQL test database when dropped.
struct DropDatabase {
    admin: String,
    name: String,
}

/// `DROP DATABASE … WITH (FORCE)` (PostgreSQL 13+): the server under test may
/// still hold pooled connections, which this ends.
async fn drop_database(admin: &str, name: &str) -> Result<(), sea_orm::DbErr> {
    let mut options = ConnectOptions::new(admin);
    options.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(options).await?;
    let dropped = conn
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    conn.close().await.ok();
    dropped.map(|_| ())
}

impl Drop for DropDatabase {
    /// Runs on a thread of its own with its own runtime: `drop` is sync, and is
    /// often called on the test's runtime, which must not be blocked on. Never
    /// panics; a failure is a warning on stderr.
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("drop {name}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("starting a runtime: {e}"))?;
                runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), drop_database(&admin, &name))
                        .await
                        .map_err(|_| "timed out after 30 s".to_owned())?
                        .map_err(|e| e.to_string())
                })
            });
        let why = match spawned.map(std::thread::JoinHandle::join) {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(why))) => why,
            Ok(Err(_)) => "the dropping thread panicked".to_owned(),
            Err(e) => format!("starting a thread: {e}"),
        };
        eprintln!("warning: could not drop test database {}: {why}", self.name);
    }
}

/// Creates the database for one test (see [`TestDatabase`]).
pub async fn test_database() -> TestDatabase {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("lg_test_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(admin.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            conn.close().await.ok();
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            TestDatabase {
                url: format!("{base}/{name}"),
                _dir: None,
                _postgres: Some(DropDatabase { admin, name }),
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            TestDatabase {
                url,
                _dir: Some(dir),
                _postgres: None,
            }
        }
    }
}

/// Creates a tenant with a full-scope live and sandbox key.
pub async fn seed_tenant(
    db: &DatabaseConnection,
    codec: &IdCodec,
    name: &str,
    markets: &[&str],
) -> Seed {
    seed_tenant_on_plan(db, codec, name, markets, "enterprise").await
}

/// Creates a tenant on `plan` with a full-scope live and sandbox key.
pub async fn seed_tenant_on_plan(
    db: &DatabaseConnection,
    codec: &IdCodec,
    name: &str,
    markets: &[&str],
    plan: &str,
) -> Seed {
    let created = create_tenant(
        db,
        TenantSpec {
            name: name.into(),
            plan: plan.into(),
            markets: markets.iter().map(|m| m.to_string()).collect(),
            owner_email: format!("owner@{name}.example"),
            environments: vec![Environment::Live, Environment::Sandbox],
        },
    )
    .await
    .expect("create tenant");
    let key = |env| {
        created
            .keys
            .iter()
            .find(|(e, _)| *e == env)
            .map(|(_, k)| k.expose().to_owned())
            .expect("key")
    };
    Seed {
        tenant_id: created.tenant.id,
        owner_id: codec.encode(NodeType::User, created.owner.id),
        live: key(Environment::Live),
        sandbox: key(Environment::Sandbox),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `configure` (e.g. webhook ones).
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            leadgraph::telemetry::init(leadgraph::config::LogFormat::Text);
        }
    });
    let database = test_database().await;
    let url = database.url.clone();
    let (db, port, server) = start(&url, configure).await;
    let codec = IdCodec::new(None).expect("codec");
    let acme = seed_tenant(&db, &codec, "acme", &["US", "IN"]).await;
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        db,
        codec,
        acme,
        database_url: url,
        server: Some(server),
        _database: database,
    }
}

impl TestApp {
    /// Stops the server (it finishes in-flight work, then closes its database
    /// connections) and starts a new one on the same database with settings
    /// changed by `configure`: a restart. Seeds and keys stay valid.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut ServeArgs)) {
        if let Some(running) = self.server.take() {
            let _ = running.stop.send(());
            running
                .task
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        let (db, port, server) = start(&self.database_url, configure).await;
        self.base = format!("http://127.0.0.1:{port}");
        self.db = db;
        self.server = Some(server);
    }

    /// Kills the server as a crash would (its task is dropped mid-flight:
    /// open transactions roll back, leases stay held) and starts a new one on
    /// the same database with settings changed by `configure`.
    pub async fn crash_and_restart_with(&mut self, configure: impl FnOnce(&mut ServeArgs)) {
        if let Some(running) = self.server.take() {
            running.task.abort();
            let _ = running.task.await;
        }
        let (db, port, server) = start(&self.database_url, configure).await;
        self.base = format!("http://127.0.0.1:{port}");
        self.db = db;
        self.server = Some(server);
    }

    /// POSTs a GraphQL request with `X-API-Key`.
    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> Answer {
        self.gql_with(Some(("x-api-key", key.to_owned())), query, variables)
            .await
    }

    /// POSTs a GraphQL request with an arbitrary (or no) credential header.
    pub async fn gql_with(
        &self,
        header: Option<(&str, String)>,
        query: &str,
        variables: Value,
    ) -> Answer {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.json().await.expect("JSON body");
        Answer { status, body }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// Creates a lead with `input` merged over a valid default; returns its id.
    pub async fn create_lead(&self, key: &str, input: Value) -> String {
        let answer = self
            .gql(
                key,
                "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }",
                json!({ "i": lead_input(input) }),
            )
            .await;
        answer.ok();
        answer
            .data("createLead.lead.id")
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Creates a key with the given scope using `key`; returns the full key.
    pub async fn create_key(&self, key: &str, input: Value) -> String {
        let mut i = json!({ "name": "test key", "operations": ["full"] });
        merge(&mut i, input);
        let answer = self
            .gql(key, "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { fullKey apiKey { id } } }", json!({ "i": i }))
            .await;
        answer.ok();
        answer
            .data("createApiKey.fullKey")
            .as_str()
            .expect("key")
            .to_owned()
    }

    /// Creates a team; returns its id.
    pub async fn create_team(&self, key: &str, name: &str, market: &str) -> String {
        let answer = self
            .gql(
                key,
                "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
                json!({ "i": { "name": name, "market": market } }),
            )
            .await;
        answer.ok();
        answer
            .data("createTeam.team.id")
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Creates a user; returns its id.
    pub async fn create_user(&self, key: &str, email: &str) -> String {
        let answer = self
            .gql(
                key,
                "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                json!({ "i": { "email": email, "name": "Test User" } }),
            )
            .await;
        answer.ok();
        answer
            .data("createUser.user.id")
            .as_str()
            .expect("id")
            .to_owned()
    }
}

/// Merges `b`'s keys into `a` (objects only).
pub fn merge(a: &mut Value, b: Value) {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

/// A valid lead input with unique email, overridden by `over`.
pub fn lead_input(over: Value) -> Value {
    let mut input = json!({
        "email": format!("lead-{}@example.com", uuid::Uuid::new_v4().simple()),
        "firstName": "Ada",
        "lastName": "Lovelace",
        "market": "US",
    });
    merge(&mut input, over);
    input
}
