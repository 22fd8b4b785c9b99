//! Bulk dedupe: blocking keys, union-find clustering, survivor and fill rules.
//!
//! The server loads every lead in scope as a [`DedupeRecord`], calls
//! [`cluster_with_report`] (CPU work on the rayon pool, so call it off the
//! async runtime), and for each [`Cluster`] merges the members into the
//! survivor, writing the values [`fill_survivor`] returns.
//!
//! Two records are linked when they share a blocking key ([`blocking_keys`]);
//! clusters are the connected components of those links, so A~B by phone and
//! B~C by email put A, B and C in one cluster. A key shared by more than
//! [`MAX_BLOCK`] records is junk (`+10000000000`, "test test" at "test") and
//! links nothing; it is reported in [`ClusterReport::skipped_blocks`] instead.

mod blocking;
mod cluster;
mod survivor;
mod union_find;

#[cfg(test)]
mod planted_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::{Map, Value};

pub use blocking::{blocking_keys, is_free_mail_domain, normalize_company};
pub use cluster::{Cluster, ClusterReport, cluster, cluster_with_report};
pub use survivor::{Fill, fill_survivor, survivor_of};

/// A blocking key shared by more than this many records is skipped: no real
/// person has 50 lead records, but a junk value easily has thousands.
pub const MAX_BLOCK: usize = 50;

/// What dedupe needs of one lead (the server loads these from the database).
///
/// Values are expected in their stored, canonical form: `email_key` is the
/// [`CanonicalEmail`](crate::CanonicalEmail) key and `phone` an
/// [`E164`](crate::E164) string. Ids are expected to be unique.
#[derive(Debug, Clone)]
pub struct DedupeRecord {
    /// Lead id.
    pub id: i64,
    /// Creation time; the survivor is the oldest member (ties: lowest id).
    pub created_at_micros: i64,
    /// Canonical email key.
    pub email_key: String,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// First name as stored.
    pub first_name: String,
    /// Last name as stored.
    pub last_name: String,
    /// Company as stored.
    pub company: Option<String>,
    /// Job title as stored.
    pub job_title: Option<String>,
    /// Custom fields as stored.
    pub custom_fields: Map<String, Value>,
    /// Team id, if assigned to a team.
    pub team_id: Option<i64>,
    /// Assigned user id, if any.
    pub assigned_to_id: Option<i64>,
}

/// Why two records were linked; serialized as `SAME_EMAIL`, `SAME_PHONE`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchReason {
    /// Same canonical email key.
    SameEmail,
    /// Same E.164 phone.
    SamePhone,
    /// Same normalized full name and normalized company.
    SameNameAndCompany,
    /// Same normalized full name and the same (non free-mail) email domain.
    SameNameAndEmailDomain,
}

impl MatchReason {
    /// Every reason, in order.
    pub const ALL: [MatchReason; 4] = [
        MatchReason::SameEmail,
        MatchReason::SamePhone,
        MatchReason::SameNameAndCompany,
        MatchReason::SameNameAndEmailDomain,
    ];

    /// One bit per reason, for sets of reasons.
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}
