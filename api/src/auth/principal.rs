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
