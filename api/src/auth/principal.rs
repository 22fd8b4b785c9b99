//! Who is calling: the authenticated key, its scope and the acting user.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::Environment;

use super::{Op, OpSet};

/// The markets a key may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketScope {
    All,
    Only(BTreeSet<String>),
}

impl MarketScope {
    pub fn allows(&self, market: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(market),
        }
    }

    /// Every market of `self` is allowed by `other`.
    pub fn is_within(&self, other: &Self) -> bool {
        match (self, other) {
            (_, Self::All) => true,
            (Self::All, Self::Only(_)) => false,
            (Self::Only(mine), Self::Only(theirs)) => mine.is_subset(theirs),
        }
    }

    /// Storage form: `None` for all markets, else codes separated by spaces.
    pub fn to_storage(&self) -> Option<String> {
        match self {
            Self::All => None,
            Self::Only(set) => Some(set.iter().cloned().collect::<Vec<_>>().join(" ")),
        }
    }

    pub fn from_storage(stored: Option<&str>) -> Self {
        match stored {
            None => Self::All,
            Some(codes) => Self::Only(codes.split_whitespace().map(str::to_owned).collect()),
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: i64,
    pub environment: Environment,
    pub key_id: i64,
    /// The key's owner.
    pub owner_user_id: i64,
    /// Whom the request acts for: the owner, or the `X-On-Behalf-Of` user.
    pub acting_user_id: i64,
    pub ops: OpSet,
    pub markets: MarketScope,
    /// `None`: every team of the allowed markets (and leads without a team).
    pub teams: Option<BTreeSet<i64>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The request's id (for the audit log).
    pub request_id: String,
    /// The tenant's plan (rate limits and quota).
    pub plan: String,
}

impl Principal {
    pub fn can(&self, op: Op) -> bool {
        self.ops.contains(op)
    }

    /// Whether a lead placed in `market` and `team` is inside this key's scope.
    pub fn allows_placement(&self, market: &str, team: Option<i64>) -> bool {
        self.markets.allows(market)
            && match (&self.teams, team) {
                (None, _) => true,
                (Some(teams), Some(team)) => teams.contains(&team),
                (Some(_), None) => false,
            }
    }

    /// Parses the stored team-id list (space-separated).
    pub fn teams_from_storage(stored: Option<&str>) -> Option<BTreeSet<i64>> {
        stored.map(|ids| {
            ids.split_whitespace()
                .filter_map(|id| id.parse().ok())
                .collect()
        })
    }
}

/// A caller's scope as stored with a background job: the job runs later (on
/// any instance) with exactly the scope of the key that started it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub key_id: i64,
    pub owner_user_id: i64,
    pub acting_user_id: i64,
    /// [`OpSet::to_storage`].
    pub ops: String,
    /// [`MarketScope::to_storage`].
    pub markets: Option<String>,
    pub teams: Option<Vec<i64>>,
    pub plan: String,
}

impl Principal {
    /// The part of this caller a job needs to act as it later.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            key_id: self.key_id,
            owner_user_id: self.owner_user_id,
            acting_user_id: self.acting_user_id,
            ops: self.ops.to_storage(),
            markets: self.markets.to_storage(),
            teams: self.teams.as_ref().map(|t| t.iter().copied().collect()),
            plan: self.plan.clone(),
        }
    }

    /// The caller a job acts as: the snapshot's scope in the job's tenant and
    /// environment. `request_id` names the job in the audit log.
    pub fn from_snapshot(
        snapshot: &Snapshot,
        tenant_id: i64,
        environment: Environment,
        request_id: String,
    ) -> Self {
        Self {
            tenant_id,
            environment,
            key_id: snapshot.key_id,
            owner_user_id: snapshot.owner_user_id,
            acting_user_id: snapshot.acting_user_id,
            ops: OpSet::parse(snapshot.ops.split_whitespace()).unwrap_or_default(),
            markets: MarketScope::from_storage(snapshot.markets.as_deref()),
            teams: snapshot.teams.as_ref().map(|t| t.iter().copied().collect()),
            expires_at: None,
            request_id,
            plan: snapshot.plan.clone(),
        }
    }

    /// Whether this caller may read a job started with `starter`: the rule of
    /// [`crate::scope::jobs`] (a key with the whole environment in scope sees
    /// every job of it; a narrower key, the jobs it started).
    pub fn covers(&self, starter: &Snapshot, tenant_id: i64, environment: Environment) -> bool {
        self.tenant_id == tenant_id
            && self.environment == environment
            && ((self.markets == MarketScope::All && self.teams.is_none())
                || starter.key_id == self.key_id)
    }
}
