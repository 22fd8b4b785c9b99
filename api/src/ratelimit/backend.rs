//! Where budgets live: process memory (one instance) or Redis (shared by every
//! instance). Both apply the same GCRA formula atomically.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use anyhow::Context;
use chrono::Utc;
use redis::{AsyncCommands, Script, aio::ConnectionManager};

use super::gcra::{Gcra, GcraOutcome, GcraState};

/// Budget storage.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// One request's whole check, atomically: with a `quota` (live keys),
    /// refuses without spending when the usage counter has reached it; else
    /// applies the GCRA step and, when allowed and metered, counts one
    /// request of usage.
    async fn check(&self, req: &CheckRequest<'_>) -> anyhow::Result<Checked>;
    /// A bucket's TAT without spending from it.
    async fn peek(&self, key: &str) -> anyhow::Result<GcraState>;
    /// A usage counter's value.
    async fn usage(&self, key: &str) -> anyhow::Result<u64>;
}

/// What [`Backend::check`] is asked.
pub struct CheckRequest<'a> {
    /// The GCRA bucket of the key and class.
    pub bucket: &'a str,
    pub gcra: &'a Gcra,
    pub cost: u64,
    /// The tenant's usage counter of the month.
    pub usage_key: &'a str,
    /// The monthly quota when the request is metered (live keys), else `None`.
    pub quota: Option<u64>,
    /// How long the usage counter is kept.
    pub usage_ttl_secs: u64,
}

/// What [`Backend::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The quota is used up: nothing was spent; the bucket as it stands.
    QuotaExceeded { state: GcraState, usage: u64 },
    /// The GCRA step ran (allowed or refused); `usage` after counting.
    Applied { outcome: GcraOutcome, usage: u64 },
}

/// Budgets in this process: right for a single instance; restarts reset them.
#[derive(Default)]
pub struct MemoryBackend {
    buckets: Mutex<HashMap<String, i64>>,
    usage: Mutex<HashMap<String, u64>>,
}

#[async_trait::async_trait]
impl Backend for MemoryBackend {
    async fn check(&self, req: &CheckRequest<'_>) -> anyhow::Result<Checked> {
        // Usage lock first, then the bucket's: the same order everywhere.
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let used = usage.get(req.usage_key).copied().unwrap_or(0);
        let state = buckets.get(req.bucket).copied();
        if req.quota.is_some_and(|quota| used >= quota) {
            return Ok(Checked::QuotaExceeded { state, usage: used });
        }
        let outcome = req
            .gcra
            .apply(state, Utc::now().timestamp_micros(), req.cost);
        let mut used = used;
        if outcome.allowed {
            buckets.insert(req.bucket.to_owned(), outcome.new_tat);
            if req.quota.is_some() {
                used += 1;
                usage.insert(req.usage_key.to_owned(), used);
            }
        }
        Ok(Checked::Applied {
            outcome,
            usage: used,
        })
    }

    async fn peek(&self, key: &str) -> anyhow::Result<GcraState> {
        Ok(self
            .buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied())
    }

    async fn usage(&self, key: &str) -> anyhow::Result<u64> {
        Ok(self
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0))
    }
}

/// [`Backend::check`] as one Redis script: quota, GCRA step and usage count
/// in one round trip. KEYS: bucket, usage counter. ARGV: cost, interval (µs),
/// tau (µs), quota ('' when not metered), usage TTL (s). Returns
/// {quota exceeded (0/1), TAT before the request, now, usage}.
const CHECK_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local usage = tonumber(redis.call('GET', KEYS[2]) or '0')
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local metered = ARGV[4] ~= ''
if metered and usage >= tonumber(ARGV[4]) then
  return {1, string.format('%.0f', tat), string.format('%.0f', now), usage}
end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
if new_tat - now <= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
  if metered then
    usage = redis.call('INCR', KEYS[2])
    redis.call('EXPIRE', KEYS[2], ARGV[5])
  end
end
return {0, string.format('%.0f', tat), string.format('%.0f', now), usage}
";

/// Budgets in Redis, shared by every instance using the same `prefix`.
pub struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    check: Script,
}

impl RedisBackend {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let conn = ConnectionManager::new(client)
            .await
            .context("connecting to Redis")?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            check: Script::new(CHECK_LUA),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }
}

#[async_trait::async_trait]
impl Backend for RedisBackend {
    async fn peek(&self, key: &str) -> anyhow::Result<GcraState> {
        let mut conn = self.conn.clone();
        let tat: Option<String> = conn.get(self.key(key)).await.context("reading a bucket")?;
        Ok(tat.and_then(|t| t.parse().ok()))
    }

    async fn usage(&self, key: &str) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        let v: Option<u64> = conn.get(self.key(key)).await.context("reading usage")?;
        Ok(v.unwrap_or(0))
    }

    async fn check(&self, req: &CheckRequest<'_>) -> anyhow::Result<Checked> {
        let mut conn = self.conn.clone();
        let (exceeded, tat, now, usage): (u8, String, String, u64) = self
            .check
            .key(self.key(req.bucket))
            .key(self.key(req.usage_key))
            .arg(req.cost)
            .arg(req.gcra.interval_us)
            .arg(req.gcra.tau_us)
            .arg(req.quota.map(|q| q.to_string()).unwrap_or_default())
            .arg(req.usage_ttl_secs)
            .invoke_async(&mut conn)
            .await
            .context("running the rate-limit check")?;
        let tat: i64 = tat.parse().context("reading the TAT")?;
        let now: i64 = now.parse().context("reading Redis time")?;
        Ok(if exceeded == 1 {
            Checked::QuotaExceeded {
                state: Some(tat),
                usage,
            }
        } else {
            Checked::Applied {
                outcome: req.gcra.apply(Some(tat), now, req.cost),
                usage,
            }
        })
    }
}
