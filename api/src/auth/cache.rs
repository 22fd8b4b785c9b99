//! Verified API keys, kept in this process for a short TTL.
//!
//! Authenticating a request reads the key, its owner and the tenant's plan (and
//! the `X-On-Behalf-Of` user). [`AuthCache`] keeps what a [`super::Principal`]
//! needs of a key that passed every check, keyed by the key's SHA-256, and the
//! `X-On-Behalf-Of` users found active, each for at most the TTL
//! (`LEADGRAPH_AUTH_CACHE_TTL_MS`, default 5 s; 0 caches nothing) and at most
//! [`MAX_ENTRIES`] of each (moka evicts the least useful first).
//!
//! Only successes are cached, so a key or user created a moment ago is never
//! refused. A cached key's `expiresAt` is still checked on every request.
//!
//! Invalidation: code that revokes or rotates a key, changes its scope,
//! deactivates or reactivates a user, or changes a tenant's plan calls
//! [`AuthCache::invalidate`] once its transaction has committed. This instance
//! evicts the entries at once; with Redis the invalidation is also published on
//! `{LEADGRAPH_REDIS_PREFIX}:auth:invalidate`, to which every instance
//! subscribes. While an instance's subscription is down it caches nothing (every
//! request is checked against the database), and it empties its cache when the
//! subscription is back, since it may have missed messages. Without Redis, other
//! instances see a change once their entry's TTL runs out.
//!
//! A lookup takes a [`Ticket`] before reading the database and stores what it
//! read only if no invalidation came in between, so a row read just before a
//! revoke commits is never cached after the revoke's eviction.

use std::{
    collections::BTreeSet,
    convert::Infallible,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use entity::{Environment, api_key};
use futures::StreamExt;
use moka::sync::Cache;
use prometheus_client::metrics::counter::Counter;
use redis::{AsyncCommands, aio::ConnectionManager};

use super::{MarketScope, OpSet};
use crate::domain::keys::KeyScope;

/// The TTL unless configured (`LEADGRAPH_AUTH_CACHE_TTL_MS`).
pub const DEFAULT_TTL_MS: u64 = 5_000;
/// Most keys, and most `X-On-Behalf-Of` users, kept at once.
pub const MAX_ENTRIES: u64 = 10_000;

/// Longest wait for Redis to take an invalidation (the change is committed and
/// evicted here either way; other instances then see it within their TTL).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait to connect and subscribe.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a quiet subscription pings Redis, and how long it waits for the
/// answer: a silently dead connection is noticed within their sum.
const HEARTBEAT: Duration = Duration::from_secs(5);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pauses between resubscription attempts (doubling from the first to the last).
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LAST: Duration = Duration::from_secs(5);
/// `last_used_us` of a key never used.
const NEVER: i64 = i64::MIN;

/// A key that passed every check: the row fields a `Principal` needs, its
/// tenant's plan, and when it was read (its owner was active then).
#[derive(Debug)]
pub struct VerifiedKey {
    pub key_id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    pub owner_user_id: i64,
    pub ops: OpSet,
    pub markets: MarketScope,
    pub teams: Option<BTreeSet<i64>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub plan: String,
    /// When the key, its owner and the plan were read from the database.
    pub verified_at: Instant,
    /// `lastUsedAt` as last seen or written, in µs since the Unix epoch.
    last_used_us: AtomicI64,
}

impl VerifiedKey {
    /// A key row that is neither revoked nor expired and whose owner is active,
    /// with its tenant's plan, read from the database since `verified_at`.
    pub fn new(key: &api_key::Model, plan: String, verified_at: Instant) -> Self {
        let KeyScope {
            ops,
            markets,
            teams,
        } = KeyScope::of(key);
        Self {
            key_id: key.id,
            tenant_id: key.tenant_id,
            environment: key.environment,
            owner_user_id: key.owner_user_id,
            ops,
            markets,
            teams,
            expires_at: key.expires_at,
            plan,
            verified_at,
            last_used_us: AtomicI64::new(key.last_used_at.map_or(NEVER, |t| t.timestamp_micros())),
        }
    }

    /// Expired at `now` (checked on every request, cached or not).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Whether this request should write `lastUsedAt`: yes when the last write
    /// is at least `every` old. Claims the write, so that concurrent requests
    /// of this instance do not repeat it.
    pub fn claim_last_used(&self, now: DateTime<Utc>, every: TimeDelta) -> bool {
        let now_us = now.timestamp_micros();
        let every_us = every.num_microseconds().unwrap_or(i64::MAX);
        let last = self.last_used_us.load(Ordering::Acquire);
        if last != NEVER && now_us.saturating_sub(last) < every_us {
            return false;
        }
        self.last_used_us
            .compare_exchange(last, now_us, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// What to evict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A key revoked, rotated or re-scoped, by its hash (`api_keys.key_hash`).
    Key { hash: String },
    /// A user deactivated or reactivated: the keys they own and their
    /// `X-On-Behalf-Of` entry.
    User { tenant_id: i64, user_id: i64 },
    /// A tenant's plan changed: every key and user of the tenant.
    Tenant { tenant_id: i64 },
}

impl Invalidation {
    /// The pub/sub message: `key <hash>`, `user <tenant> <user>`, `tenant <tenant>`.
    fn encode(&self) -> String {
        match self {
            Self::Key { hash } => format!("key {hash}"),
            Self::User { tenant_id, user_id } => format!("user {tenant_id} {user_id}"),
            Self::Tenant { tenant_id } => format!("tenant {tenant_id}"),
        }
    }

    fn decode(message: &str) -> Option<Self> {
        let mut words = message.split(' ');
        let decoded = match (words.next()?, words.next()?, words.next()) {
            ("key", hash, None) if !hash.is_empty() => Self::Key {
                hash: hash.to_owned(),
            },
            ("user", tenant, Some(user)) => Self::User {
                tenant_id: tenant.parse().ok()?,
                user_id: user.parse().ok()?,
            },
            ("tenant", tenant, None) => Self::Tenant {
                tenant_id: tenant.parse().ok()?,
            },
            _ => return None,
        };
        words.next().is_none().then_some(decoded)
    }
}

/// The pub/sub channel of invalidations for a Redis key prefix.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:auth:invalidate")
}

/// The epoch a lookup saw before reading the database (see [`AuthCache::ticket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The verified-key cache of one instance; cheap to clone (shared).
#[derive(Clone)]
pub struct AuthCache(Arc<Inner>);

struct Inner {
    ttl: Duration,
    /// `None` when the TTL is zero: nothing is cached.
    entries: Option<Entries>,
    /// Invalidations (and subscription changes) so far. Its lock also orders
    /// every store against every eviction.
    epoch: Mutex<u64>,
    /// Whether this instance hears every invalidation: always without Redis;
    /// with Redis, while subscribed. Nothing is cached or served otherwise.
    live: AtomicBool,
    bus: Option<Bus>,
    /// Key lookups answered from the cache, and those that went to the database.
    hits: Counter,
    misses: Counter,
}

struct Entries {
    keys: Cache<String, Arc<VerifiedKey>>,
    /// Active users by (tenant, user), with when they were read.
    users: Cache<(i64, i64), Instant>,
}

/// Invalidations across instances.
struct Bus {
    client: redis::Client,
    publisher: ConnectionManager,
    channel: String,
}

impl AuthCache {
    /// A cache of this instance only, whose entries live at most `ttl` (zero:
    /// caches nothing). `hits` and `misses` count key lookups.
    pub fn new(ttl: Duration, hits: Counter, misses: Counter) -> Self {
        Self::build(ttl, hits, misses, None)
    }

    /// Like [`AuthCache::new`], with invalidations shared through Redis
    /// (`prefix` as `LEADGRAPH_REDIS_PREFIX`). Nothing is cached until
    /// [`AuthCache::subscriber`] runs and has subscribed.
    pub async fn with_redis(
        ttl: Duration,
        hits: Counter,
        misses: Counter,
        url: &str,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let publisher = ConnectionManager::new(client.clone())
            .await
            .context("connecting to Redis")?;
        let bus = Bus {
            client,
            publisher,
            channel: channel(prefix),
        };
        Ok(Self::build(ttl, hits, misses, Some(bus)))
    }

    fn build(ttl: Duration, hits: Counter, misses: Counter, bus: Option<Bus>) -> Self {
        let entries = (!ttl.is_zero()).then(|| Entries {
            keys: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
            users: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
        });
        Self(Arc::new(Inner {
            ttl,
            entries,
            epoch: Mutex::new(0),
            live: AtomicBool::new(bus.is_none()),
            bus,
            hits,
            misses,
        }))
    }

    /// Whether anything is cached at all (a non-zero TTL).
    pub fn enabled(&self) -> bool {
        self.0.entries.is_some()
    }

    fn epoch(&self) -> MutexGuard<'_, u64> {
        self.0.epoch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entries, while they may be used.
    fn live_entries(&self) -> Option<&Entries> {
        self.0
            .entries
            .as_ref()
            .filter(|_| self.0.live.load(Ordering::Acquire))
    }

    fn fresh(&self, verified_at: Instant) -> bool {
        verified_at.elapsed() < self.0.ttl
    }

    /// Take before reading the database; pass to `store_*` afterwards.
    pub fn ticket(&self) -> Ticket {
        Ticket(*self.epoch())
    }

    /// The verified key with this hash, if cached (and younger than the TTL).
    pub fn key(&self, hash: &str) -> Option<Arc<VerifiedKey>> {
        if !self.enabled() {
            return None;
        }
        let found = self
            .live_entries()
            .and_then(|e| e.keys.get(hash))
            .filter(|k| self.fresh(k.verified_at));
        if found.is_some() {
            self.0.hits.inc();
        } else {
            self.0.misses.inc();
        }
        found
    }

    /// Caches a key verified since `ticket` was taken, unless an invalidation
    /// came in between.
    pub fn store_key(&self, ticket: Ticket, hash: String, key: Arc<VerifiedKey>) {
        let Some(entries) = self.0.entries.as_ref() else {
            return;
        };
        let epoch = self.epoch();
        if *epoch == ticket.0 && self.0.live.load(Ordering::Acquire) {
            entries.keys.insert(hash, key);
        }
    }

    /// Whether this user of this tenant was found active within the TTL.
    pub fn user_active(&self, tenant_id: i64, user_id: i64) -> bool {
        self.live_entries()
            .and_then(|e| e.users.get(&(tenant_id, user_id)))
            .is_some_and(|verified_at| self.fresh(verified_at))
    }

    /// Records a user found active since `ticket` was taken, unless an
    /// invalidation came in between.
    pub fn store_user(&self, ticket: Ticket, tenant_id: i64, user_id: i64, verified_at: Instant) {
        let Some(entries) = self.0.entries.as_ref() else {
            return;
        };
        let epoch = self.epoch();
        if *epoch == ticket.0 && self.0.live.load(Ordering::Acquire) {
            entries.users.insert((tenant_id, user_id), verified_at);
        }
    }

    /// Evicts what `what` names from this instance's cache, at once.
    pub fn evict(&self, what: &Invalidation) {
        let mut epoch = self.epoch();
        *epoch = epoch.wrapping_add(1);
        let Some(entries) = self.0.entries.as_ref() else {
            return;
        };
        match *what {
            Invalidation::Key { ref hash } => entries.keys.invalidate(hash.as_str()),
            Invalidation::User { tenant_id, user_id } => {
                entries.users.invalidate(&(tenant_id, user_id));
                entries.evict_keys(|k| k.tenant_id == tenant_id && k.owner_user_id == user_id);
            }
            Invalidation::Tenant { tenant_id } => {
                entries.evict_keys(|k| k.tenant_id == tenant_id);
                let users: Vec<(i64, i64)> = entries
                    .users
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|(tenant, _)| *tenant == tenant_id)
                    .collect();
                for user in users {
                    entries.users.invalidate(&user);
                }
            }
        }
    }

    /// Empties the cache and sets whether it may be used from now on.
    fn reset(&self, live: bool) {
        let mut epoch = self.epoch();
        *epoch = epoch.wrapping_add(1);
        if let Some(entries) = self.0.entries.as_ref() {
            entries.keys.invalidate_all();
            entries.users.invalidate_all();
        }
        self.0.live.store(live, Ordering::Release);
    }

    /// Evicts `what` here at once and, with Redis, tells every other instance.
    /// Call it after the change has committed.
    pub async fn invalidate(&self, what: Invalidation) {
        self.evict(&what);
        let Some(bus) = self.0.bus.as_ref() else {
            return;
        };
        let mut conn = bus.publisher.clone();
        let message = what.encode();
        match tokio::time::timeout(
            PUBLISH_TIMEOUT,
            conn.publish::<_, _, i64>(&bus.channel, &message),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, %message, "auth cache: publishing an invalidation failed; other instances see it within their TTL");
            }
            Err(_) => {
                tracing::warn!(%message, "auth cache: publishing an invalidation timed out; other instances see it within their TTL");
            }
        }
    }

    /// The task that keeps this instance subscribed to invalidations from other
    /// instances, reconnecting for ever; `None` without Redis or when nothing is
    /// cached. Run it for as long as the server serves.
    pub fn subscriber(&self) -> Option<impl Future<Output = ()> + Send + 'static> {
        self.0.bus.as_ref()?;
        self.0.entries.as_ref()?;
        let cache = self.clone();
        Some(async move { cache.subscribe().await })
    }

    async fn subscribe(self) {
        let Some(bus) = self.0.bus.as_ref() else {
            return;
        };
        let mut retry = RETRY_FIRST;
        loop {
            let Err(err) = self.listen(bus, &mut retry).await;
            if self.0.live.load(Ordering::Acquire) {
                tracing::warn!(error = %format!("{err:#}"), "auth cache: the invalidation subscription is down; caching nothing until it is back");
            } else {
                tracing::debug!(error = %format!("{err:#}"), "auth cache: subscribing to invalidations failed; retrying");
            }
            self.reset(false);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_LAST);
        }
    }

    /// Subscribes, then applies invalidations until the subscription fails.
    async fn listen(&self, bus: &Bus, retry: &mut Duration) -> anyhow::Result<Infallible> {
        let pubsub = tokio::time::timeout(SUBSCRIBE_TIMEOUT, bus.client.get_async_pubsub())
            .await
            .context("connecting to Redis timed out")?
            .context("connecting to Redis")?;
        let (mut sink, mut messages) = pubsub.split();
        tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.subscribe(bus.channel.as_str()))
            .await
            .context("subscribing timed out")?
            .context("subscribing")?;
        // Invalidations sent while unsubscribed were missed: start empty.
        self.reset(true);
        *retry = RETRY_FIRST;
        tracing::info!(channel = %bus.channel, "auth cache: subscribed to invalidations");
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = message.context("the subscription closed")?;
                    let payload = message.get_payload::<String>().ok();
                    match payload.as_deref().and_then(Invalidation::decode) {
                        Some(what) => self.evict(&what),
                        None => {
                            tracing::warn!(?payload, "auth cache: unreadable invalidation; emptying the cache");
                            self.reset(true);
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    tokio::time::timeout(HEARTBEAT_TIMEOUT, sink.ping::<redis::Value>())
                        .await
                        .context("Redis did not answer a ping")?
                        .context("pinging Redis")?;
                }
            }
        }
    }
}

impl Entries {
    /// Evicts every cached key for which `doomed` holds.
    fn evict_keys(&self, doomed: impl Fn(&VerifiedKey) -> bool) {
        let hashes: Vec<Arc<String>> = self
            .keys
            .iter()
            .filter(|(_, key)| doomed(key))
            .map(|(hash, _)| hash)
            .collect();
        for hash in hashes {
            self.keys.invalidate(hash.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl_ms: u64) -> AuthCache {
        AuthCache::new(
            Duration::from_millis(ttl_ms),
            Counter::default(),
            Counter::default(),
        )
    }

    fn row(id: i64, tenant_id: i64, owner_user_id: i64) -> api_key::Model {
        let now = Utc::now();
        api_key::Model {
            id,
            tenant_id,
            environment: Environment::Live,
            owner_user_id,
            name: "k".into(),
            key_hash: format!("hash{id}"),
            display_prefix: "lg_live_sk_abcd".into(),
            operations: "leads:read".into(),
            markets: Some("US".into()),
            team_ids: None,
            created_by_key_id: None,
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    fn put(cache: &AuthCache, id: i64, tenant_id: i64, owner: i64) {
        let ticket = cache.ticket();
        let key = Arc::new(VerifiedKey::new(
            &row(id, tenant_id, owner),
            "pro".into(),
            Instant::now(),
        ));
        cache.store_key(ticket, format!("hash{id}"), key);
    }

    #[test]
    fn a_stored_key_is_served_with_its_scope_and_plan() {
        let cache = cache(60_000);
        assert!(cache.key("hash1").is_none(), "unknown keys are misses");
        put(&cache, 1, 10, 100);
        let key = cache.key("hash1").expect("cached");
        assert_eq!((key.key_id, key.tenant_id, key.owner_user_id), (1, 10, 100));
        assert_eq!(key.plan, "pro");
        assert!(key.markets.allows("US") && !key.markets.allows("IN"));
        assert_eq!(cache.0.hits.get(), 1);
        assert_eq!(cache.0.misses.get(), 1);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = cache(50);
        put(&cache, 1, 10, 100);
        let ticket = cache.ticket();
        cache.store_user(ticket, 10, 100, Instant::now());
        assert!(cache.key("hash1").is_some());
        assert!(cache.user_active(10, 100));
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.key("hash1").is_none());
        assert!(!cache.user_active(10, 100));
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = cache(0);
        assert!(!cache.enabled());
        put(&cache, 1, 10, 100);
        cache.store_user(cache.ticket(), 10, 100, Instant::now());
        assert!(cache.key("hash1").is_none());
        assert!(!cache.user_active(10, 100));
        assert_eq!(cache.0.misses.get(), 0, "no cache, no misses");
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = cache(60_000);
        let entries = cache.0.entries.as_ref().expect("enabled");
        for id in 0..(MAX_ENTRIES as i64 + 500) {
            put(&cache, id, 1, 1);
        }
        entries.keys.run_pending_tasks();
        assert!(entries.keys.entry_count() <= MAX_ENTRIES);
    }

    #[test]
    fn a_key_invalidation_evicts_that_key_only() {
        let cache = cache(60_000);
        put(&cache, 1, 10, 100);
        put(&cache, 2, 10, 100);
        cache.evict(&Invalidation::Key {
            hash: "hash1".into(),
        });
        assert!(cache.key("hash1").is_none());
        assert!(cache.key("hash2").is_some());
    }

    #[test]
    fn a_user_invalidation_evicts_their_keys_and_their_on_behalf_of_entry() {
        let cache = cache(60_000);
        put(&cache, 1, 10, 100);
        put(&cache, 2, 10, 200);
        put(&cache, 3, 11, 100);
        for (tenant, user) in [(10, 100), (10, 200), (11, 100)] {
            cache.store_user(cache.ticket(), tenant, user, Instant::now());
        }
        cache.evict(&Invalidation::User {
            tenant_id: 10,
            user_id: 100,
        });
        assert!(cache.key("hash1").is_none());
        assert!(!cache.user_active(10, 100));
        assert!(cache.key("hash2").is_some(), "another owner's key stays");
        assert!(cache.user_active(10, 200));
        assert!(cache.key("hash3").is_some(), "another tenant's user stays");
        assert!(cache.user_active(11, 100));
    }

    #[test]
    fn a_tenant_invalidation_evicts_the_whole_tenant() {
        let cache = cache(60_000);
        put(&cache, 1, 10, 100);
        put(&cache, 2, 10, 200);
        put(&cache, 3, 11, 300);
        cache.store_user(cache.ticket(), 10, 200, Instant::now());
        cache.store_user(cache.ticket(), 11, 300, Instant::now());
        cache.evict(&Invalidation::Tenant { tenant_id: 10 });
        assert!(cache.key("hash1").is_none() && cache.key("hash2").is_none());
        assert!(!cache.user_active(10, 200));
        assert!(cache.key("hash3").is_some());
        assert!(cache.user_active(11, 300));
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_stored() {
        let cache = cache(60_000);
        let ticket = cache.ticket();
        // A revoke commits and evicts while the lookup reads the old row...
        cache.evict(&Invalidation::Key {
            hash: "hash1".into(),
        });
        // ...so what the lookup read is not cached.
        let key = Arc::new(VerifiedKey::new(
            &row(1, 10, 100),
            "pro".into(),
            Instant::now(),
        ));
        cache.store_key(ticket, "hash1".into(), key);
        assert!(cache.key("hash1").is_none());
        cache.store_user(ticket, 10, 100, Instant::now());
        assert!(!cache.user_active(10, 100));
    }

    #[test]
    fn nothing_is_cached_while_invalidations_may_be_missed() {
        let cache = cache(60_000);
        put(&cache, 1, 10, 100);
        cache.reset(false);
        assert!(cache.key("hash1").is_none(), "emptied");
        put(&cache, 1, 10, 100);
        assert!(cache.key("hash1").is_none(), "not stored while down");
        cache.reset(true);
        put(&cache, 1, 10, 100);
        assert!(cache.key("hash1").is_some());
    }

    #[test]
    fn last_used_is_claimed_once_per_resolution() {
        let key = VerifiedKey::new(&row(1, 10, 100), "pro".into(), Instant::now());
        let every = TimeDelta::seconds(60);
        let t0 = Utc::now();
        assert!(key.claim_last_used(t0, every), "never used: write");
        assert!(!key.claim_last_used(t0 + TimeDelta::seconds(59), every));
        assert!(key.claim_last_used(t0 + TimeDelta::seconds(60), every));
    }

    #[test]
    fn expiry_is_checked_against_the_clock() {
        let mut model = row(1, 10, 100);
        let now = Utc::now();
        model.expires_at = Some(now + TimeDelta::seconds(1));
        let key = VerifiedKey::new(&model, "pro".into(), Instant::now());
        assert!(!key.is_expired(now));
        assert!(key.is_expired(now + TimeDelta::seconds(1)));
    }

    #[test]
    fn invalidations_round_trip_through_their_message() {
        for what in [
            Invalidation::Key {
                hash: "ab12".into(),
            },
            Invalidation::User {
                tenant_id: 3,
                user_id: 9,
            },
            Invalidation::Tenant { tenant_id: 3 },
        ] {
            assert_eq!(Invalidation::decode(&what.encode()), Some(what));
        }
        for bad in [
            "",
            "key",
            "key ",
            "user 1",
            "tenant x",
            "tenant 1 2",
            "nope 1",
        ] {
            assert_eq!(Invalidation::decode(bad), None, "{bad:?}");
        }
    }
}
