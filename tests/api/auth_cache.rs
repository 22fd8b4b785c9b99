//! The cache of verified API keys, seen from outside: repeated requests skip the
//! database; a revocation, a deactivation, a scope or plan change and an expiry
//! take effect on the very next request; a key refused as unknown works as soon
//! as it exists; across instances, Redis carries invalidations within a second
//! and without it the TTL bounds how long another instance trusts a key.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use entity::{api_key, tenant};
use leadgraph::{
    auth::{
        ApiKeySecret,
        cache::{AuthCache, Invalidation},
    },
    config::ServeArgs,
    ids::IdCodec,
    startup::App,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, NotSet,
    QueryFilter, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    auth::{assert_unauthenticated, create_key_with_id},
    helpers::{
        Answer, Seed, TestApp, TestDatabase, seed_tenant, spawn_app, spawn_app_with, test_database,
    },
    scopes::assert_refused,
};

const VIEWER: &str = "{ viewer { environment } }";
const LEADS: &str = "{ leads { totalCount } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }";
const DEACTIVATE: &str = "mutation($id: ID!) { deactivateUser(id: $id) { user { id } } }";

/// POSTs a GraphQL request to `base` with `key` and, if given, `X-On-Behalf-Of`.
async fn post(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    on_behalf_of: Option<&str>,
    query: &str,
    variables: Value,
) -> Answer {
    let mut req = client
        .post(format!("{base}/graphql"))
        .header("x-api-key", key)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(user) = on_behalf_of {
        req = req.header("x-on-behalf-of", user);
    }
    let resp = req.send().await.expect("request");
    Answer {
        status: resp.status().as_u16(),
        body: resp.json().await.expect("JSON body"),
    }
}

/// The counter `leadgraph_<name>_total` of the server at `base`.
async fn counter(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    let prefix = format!("leadgraph_{name}_total ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
}

async fn hits(app: &TestApp) -> u64 {
    counter(&app.client, &app.base, "auth_cache_hits").await
}

/// Uses `key` twice and asserts the second request was served from the cache.
async fn use_until_cached(client: &reqwest::Client, base: &str, key: &str) {
    post(client, base, key, None, VIEWER, json!({})).await.ok();
    let before = counter(client, base, "auth_cache_hits").await;
    post(client, base, key, None, VIEWER, json!({})).await.ok();
    assert_eq!(
        counter(client, base, "auth_cache_hits").await,
        before + 1,
        "the key is served from the cache"
    );
}

/// A user of acme and a key owned by them (minted while acting for them).
async fn user_with_key(app: &TestApp, email: &str) -> (String, String) {
    let user = app.create_user(&app.acme.live, email).await;
    let created = post(
        &app.client,
        &app.base,
        &app.acme.live,
        Some(&user),
        "mutation { createApiKey(input: { name: \"theirs\", operations: [\"full\"] }) { fullKey } }",
        json!({}),
    )
    .await;
    let key = created
        .ok()
        .data("createApiKey.fullKey")
        .as_str()
        .expect("key")
        .to_owned();
    (user, key)
}

#[tokio::test]
async fn repeated_requests_are_served_from_the_cache_without_touching_the_database() {
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 60_000).await;
    let key = &app.acme.live;
    // The first request verifies the key (and writes `lastUsedAt`).
    app.gql(key, VIEWER, json!({})).await.ok();
    let statements = counter(&app.client, &app.base, "db_statements").await;
    let (hits, misses) = (
        counter(&app.client, &app.base, "auth_cache_hits").await,
        counter(&app.client, &app.base, "auth_cache_misses").await,
    );
    for _ in 0..5 {
        app.gql(key, VIEWER, json!({})).await.ok();
    }
    assert_eq!(
        counter(&app.client, &app.base, "db_statements").await,
        statements,
        "cached authentication sends no statement"
    );
    assert_eq!(
        counter(&app.client, &app.base, "auth_cache_hits").await,
        hits + 5
    );
    assert_eq!(
        counter(&app.client, &app.base, "auth_cache_misses").await,
        misses
    );

    // With a TTL of 0 nothing is cached: every request reads the key, its
    // owner and the plan.
    let uncached = spawn_app_with(|a| a.auth_cache_ttl_ms = 0).await;
    let key = &uncached.acme.live;
    uncached.gql(key, VIEWER, json!({})).await.ok();
    let statements = counter(&uncached.client, &uncached.base, "db_statements").await;
    for _ in 0..5 {
        uncached.gql(key, VIEWER, json!({})).await.ok();
    }
    let spent = counter(&uncached.client, &uncached.base, "db_statements").await - statements;
    assert!(spent >= 15, "5 uncached requests sent {spent} statements");
    assert_eq!(
        counter(&uncached.client, &uncached.base, "auth_cache_hits").await,
        0
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_very_next_request() {
    let app = spawn_app().await;
    let (key, id) = create_key_with_id(&app, &app.acme.live, json!({})).await;
    use_until_cached(&app.client, &app.base, &key).await;
    app.gql(&app.acme.live, REVOKE, json!({ "id": id }))
        .await
        .ok();
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    // Other keys stay cached and valid.
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn a_deactivated_users_keys_and_impersonation_are_refused_at_once() {
    let app = spawn_app().await;
    let (user, key) = user_with_key(&app, "leaver@acme.example").await;
    use_until_cached(&app.client, &app.base, &key).await;
    // Acting for them is allowed (and cached) too.
    for _ in 0..2 {
        post(
            &app.client,
            &app.base,
            &app.acme.live,
            Some(&user),
            VIEWER,
            json!({}),
        )
        .await
        .ok();
    }

    app.gql(&app.acme.live, DEACTIVATE, json!({ "id": user }))
        .await
        .ok();
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    let acting = post(
        &app.client,
        &app.base,
        &app.acme.live,
        Some(&user),
        VIEWER,
        json!({}),
    )
    .await;
    assert_eq!(acting.status, 403, "{:#}", acting.body);
    assert_eq!(acting.code(), "forbidden");
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn a_key_that_expires_while_cached_is_refused_the_moment_it_expires() {
    // A long TTL: the entry outlives the key.
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 60_000).await;
    let expires_at = Utc::now() + TimeDelta::seconds(3);
    let key = app
        .create_key(
            &app.acme.live,
            json!({ "expiresAt": expires_at.to_rfc3339() }),
        )
        .await;
    use_until_cached(&app.client, &app.base, &key).await;
    let wait = (expires_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let before = hits(&app).await;
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    assert_eq!(hits(&app).await, before + 1, "refused from the cache");
}

#[tokio::test]
async fn a_key_refused_as_unknown_works_as_soon_as_it_exists() {
    let app = spawn_app().await;
    let secret = ApiKeySecret::generate(entity::Environment::Live);
    assert_unauthenticated(&app.gql(secret.expose(), VIEWER, json!({})).await);
    insert_key(&app.db, &app.acme, &secret).await;
    app.gql(secret.expose(), VIEWER, json!({})).await.ok();
}

/// Inserts a full-scope key row for `secret` owned by the seed's owner.
async fn insert_key(db: &DatabaseConnection, seed: &Seed, secret: &ApiKeySecret) {
    let owner = IdCodec::new(None)
        .expect("codec")
        .decode(&seed.owner_id)
        .expect("owner id")
        .1;
    api_key::ActiveModel {
        id: NotSet,
        tenant_id: Set(seed.tenant_id),
        environment: Set(entity::Environment::Live),
        owner_user_id: Set(owner),
        name: Set("inserted".into()),
        key_hash: Set(secret.hash()),
        display_prefix: Set(secret.display_prefix().to_owned()),
        operations: Set("full".into()),
        markets: Set(None),
        team_ids: Set(None),
        created_by_key_id: Set(None),
        created_at: Set(Utc::now()),
        expires_at: Set(None),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(db)
    .await
    .expect("insert a key");
}

/// A server started here rather than through `spawn_app`, so that the test
/// holds its auth cache, as code that changes a key or a plan does.
struct Server {
    base: String,
    db: DatabaseConnection,
    cache: AuthCache,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(url: &str, args: &ServeArgs) -> Server {
    let app = App::build(url, args).await.expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    let cache = app.auth_cache().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Server {
        base,
        db,
        cache,
        _stop: stop,
    }
}

fn args() -> ServeArgs {
    ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..ServeArgs::default()
    }
}

/// The stored hash of the key `key`.
fn hash_of(key: &str) -> String {
    ApiKeySecret::parse(key).expect("a key").hash()
}

#[tokio::test]
async fn a_scope_change_takes_effect_at_once() {
    let test_db = test_database().await;
    let url = test_db.url.clone();
    let server = start(
        &url,
        &ServeArgs {
            auth_cache_ttl_ms: 60_000,
            ..args()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let codec = IdCodec::new(None).expect("codec");
    let seed = seed_tenant(&server.db, &codec, "scoped", &["US"]).await;
    let secret = ApiKeySecret::generate(entity::Environment::Live);
    insert_key(&server.db, &seed, &secret).await;
    let key = secret.expose();
    use_until_cached(&client, &server.base, key).await;
    post(&client, &server.base, key, None, LEADS, json!({}))
        .await
        .ok();

    // Narrow the key to `leads:write`, as a scope change would...
    api_key::Entity::update_many()
        .col_expr(api_key::Column::Operations, Expr::value("leads:write"))
        .filter(api_key::Column::KeyHash.eq(hash_of(key)))
        .exec(&server.db)
        .await
        .expect("narrow the key");
    // ...which the cache hides until the change's invalidation...
    post(&client, &server.base, key, None, LEADS, json!({}))
        .await
        .ok();
    server
        .cache
        .invalidate(Invalidation::Key { hash: hash_of(key) })
        .await;
    // ...and not a request longer.
    let answer = post(&client, &server.base, key, None, LEADS, json!({})).await;
    assert_refused(&answer, "forbidden", 403);
}

#[tokio::test]
async fn a_plan_change_takes_effect_at_once() {
    let test_db = test_database().await;
    let url = test_db.url.clone();
    let server = start(
        &url,
        &ServeArgs {
            auth_cache_ttl_ms: 60_000,
            ..args()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let codec = IdCodec::new(None).expect("codec");
    let seed = seed_tenant(&server.db, &codec, "growing", &["US"]).await;
    let plan = async || {
        let answer = post(
            &client,
            &server.base,
            &seed.live,
            None,
            "{ rateLimit { plan } }",
            json!({}),
        )
        .await;
        answer.ok().data("rateLimit.plan").clone()
    };
    assert_eq!(plan().await, "enterprise");
    tenant::Entity::update_many()
        .col_expr(tenant::Column::Plan, Expr::value("free"))
        .filter(tenant::Column::Id.eq(seed.tenant_id))
        .exec(&server.db)
        .await
        .expect("change the plan");
    assert_eq!(plan().await, "enterprise", "cached until invalidated");
    server
        .cache
        .invalidate(Invalidation::Tenant {
            tenant_id: seed.tenant_id,
        })
        .await;
    assert_eq!(plan().await, "free");
}

/// Two servers on one database (and, with `redis`, one Redis) and a tenant.
struct Pair {
    a: Server,
    b: Server,
    seed: Seed,
    client: reqwest::Client,
    /// Last: dropped (with the PostgreSQL database) after both servers.
    _db: TestDatabase,
}

async fn pair(args: ServeArgs) -> Pair {
    let test_db = test_database().await;
    let url = test_db.url.clone();
    let a = start(&url, &args).await;
    let b = start(&url, &args).await;
    let seed = seed_tenant(&a.db, &IdCodec::new(None).expect("codec"), "acme", &["US"]).await;
    Pair {
        a,
        b,
        seed,
        client: reqwest::Client::new(),
        _db: test_db,
    }
}

impl Pair {
    /// Creates a key through instance A; returns `(full key, id)`.
    async fn create_key(&self) -> (String, String) {
        let created = post(
            &self.client,
            &self.a.base,
            &self.seed.live,
            None,
            "mutation { createApiKey(input: { name: \"k\", operations: [\"full\"] }) { fullKey apiKey { id } } }",
            json!({}),
        )
        .await;
        created.ok();
        let field = |path: &str| created.data(path).as_str().expect(path).to_owned();
        (
            field("createApiKey.fullKey"),
            field("createApiKey.apiKey.id"),
        )
    }

    /// Uses `key` on B until B serves it from its cache (B caches only once
    /// subscribed to invalidations, when Redis is used).
    async fn cached_on_b(&self, key: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let before = counter(&self.client, &self.b.base, "auth_cache_hits").await;
            post(&self.client, &self.b.base, key, None, VIEWER, json!({}))
                .await
                .ok();
            if counter(&self.client, &self.b.base, "auth_cache_hits").await > before {
                return;
            }
            assert!(Instant::now() < deadline, "B never cached the key");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls B with `key` until it is refused; returns how long that took.
    async fn refused_on_b_within(&self, key: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let answer = post(&self.client, &self.b.base, key, None, VIEWER, json!({})).await;
            if answer.status == 401 {
                assert_unauthenticated(&answer);
                return start.elapsed();
            }
            answer.ok();
            assert!(
                start.elapsed() < limit,
                "B still accepts the key after {:?}",
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `TEST_REDIS_URL`, when set (CI sets it); without it the Redis tests say so
/// and return.
fn test_redis() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("TEST_REDIS_URL is not set: skipping a Redis-backed auth cache test");
            None
        }
    }
}

fn redis_args(url: &str) -> ServeArgs {
    ServeArgs {
        redis_url: Some(url.to_owned()),
        redis_prefix: format!("lgtest:{}", uuid::Uuid::new_v4().simple()),
        auth_cache_ttl_ms: 60_000,
        ..args()
    }
}

#[tokio::test]
async fn with_redis_a_revoke_on_one_instance_is_refused_by_another_within_a_second() {
    let Some(url) = test_redis() else { return };
    let p = pair(redis_args(&url)).await;
    let (key, id) = p.create_key().await;
    p.cached_on_b(&key).await;
    post(
        &p.client,
        &p.a.base,
        &p.seed.live,
        None,
        REVOKE,
        json!({ "id": id }),
    )
    .await
    .ok();
    p.refused_on_b_within(&key, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn with_redis_a_deactivation_or_a_scope_change_reaches_every_instance() {
    let Some(url) = test_redis() else { return };
    let p = pair(redis_args(&url)).await;
    let codec = IdCodec::new(None).expect("codec");
    let user = post(
        &p.client,
        &p.a.base,
        &p.seed.live,
        None,
        "mutation { createUser(input: { email: \"x@acme.example\", name: \"X\" }) { user { id } } }",
        json!({}),
    )
    .await;
    let user = user
        .ok()
        .data("createUser.user.id")
        .as_str()
        .expect("id")
        .to_owned();
    let theirs = post(
        &p.client,
        &p.a.base,
        &p.seed.live,
        Some(&user),
        "mutation { createApiKey(input: { name: \"theirs\", operations: [\"full\"] }) { fullKey } }",
        json!({}),
    )
    .await;
    let theirs = theirs
        .ok()
        .data("createApiKey.fullKey")
        .as_str()
        .expect("key")
        .to_owned();
    p.cached_on_b(&theirs).await;
    post(
        &p.client,
        &p.a.base,
        &p.seed.live,
        None,
        DEACTIVATE,
        json!({ "id": user }),
    )
    .await
    .ok();
    p.refused_on_b_within(&theirs, Duration::from_secs(1)).await;

    // A scope change published by A (as its code path would) narrows the key on B.
    let (key, id) = p.create_key().await;
    p.cached_on_b(&key).await;
    api_key::Entity::update_many()
        .col_expr(api_key::Column::Operations, Expr::value("leads:write"))
        .filter(api_key::Column::Id.eq(codec.decode(&id).expect("id").1))
        .exec(&p.a.db)
        .await
        .expect("narrow the key");
    p.a.cache
        .invalidate(Invalidation::Key {
            hash: hash_of(&key),
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let answer = post(&p.client, &p.b.base, &key, None, LEADS, json!({})).await;
        if !answer.errors().is_empty() {
            assert_refused(&answer, "forbidden", 403);
            break;
        }
        answer.ok();
        assert!(Instant::now() < deadline, "B still has the old scope");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn without_redis_another_instance_sees_a_revoke_within_the_ttl() {
    let ttl = Duration::from_millis(500);
    let p = pair(ServeArgs {
        auth_cache_ttl_ms: ttl.as_millis() as u64,
        ..args()
    })
    .await;
    let (key, id) = p.create_key().await;
    p.cached_on_b(&key).await;
    post(
        &p.client,
        &p.a.base,
        &p.seed.live,
        None,
        REVOKE,
        json!({ "id": id }),
    )
    .await
    .ok();
    // Refused at once by A, which made the change...
    let on_a = post(&p.client, &p.a.base, &key, None, VIEWER, json!({})).await;
    assert_unauthenticated(&on_a);
    // ...and by B once its entry is older than the TTL.
    p.refused_on_b_within(&key, ttl + Duration::from_secs(1))
        .await;
}
