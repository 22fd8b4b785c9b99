//! Wall-clock time at the precision both databases store (microseconds).
//!
//! PostgreSQL keeps microseconds; truncating here keeps values identical on SQLite,
//! so keyset cursors built from a row compare equal to the stored row.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Now, truncated to whole microseconds.
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// Truncates a timestamp to whole microseconds.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
