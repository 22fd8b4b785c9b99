//! GCRA (generic cell rate algorithm): one timestamp per bucket, the theoretical
//! arrival time (TAT). A request of cost `n` moves the TAT `n` emission intervals
//! forward; it is refused when the TAT would run more than one period ahead.
//! Pure arithmetic on microseconds, shared by the memory and Redis backends (the
//! Redis script is the same formula).

use std::time::Duration;

/// Limits of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Microseconds per point.
    pub interval_us: i64,
    /// Burst tolerance: one whole period, in microseconds.
    pub tau_us: i64,
}

/// A bucket's stored state: its TAT in unix microseconds (absent = full bucket).
pub type GcraState = Option<i64>;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraOutcome {
    pub allowed: bool,
    pub remaining: u64,
    /// Time until the bucket is full again.
    pub full_in: Duration,
    /// When refused: time until the request would be allowed.
    pub retry_in: Duration,
    /// The TAT to store (unchanged when refused).
    pub new_tat: i64,
}

/// A read-only look at a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraView {
    pub remaining: u64,
    pub full_in: Duration,
}

fn micros(d: i64) -> Duration {
    Duration::from_micros(u64::try_from(d.max(0)).unwrap_or(0))
}

impl Gcra {
    /// `limit` points per `period`. The interval is whole microseconds, so
    /// the burst tolerance is `limit` whole intervals (a hair under the period
    /// when it does not divide evenly): a full bucket holds exactly `limit`.
    pub fn new(limit: u64, period: Duration) -> Self {
        let period_us = i64::try_from(period.as_micros()).unwrap_or(i64::MAX).max(1);
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let interval_us = (period_us / limit).max(1);
        Self {
            interval_us,
            tau_us: interval_us.saturating_mul(limit),
        }
    }

    fn remaining_at(&self, tat: i64, now: i64) -> u64 {
        u64::try_from((self.tau_us - (tat - now).max(0)) / self.interval_us).unwrap_or(0)
    }

    /// Applies a request of `cost` points at `now` (unix microseconds).
    pub fn apply(&self, state: GcraState, now: i64, cost: u64) -> GcraOutcome {
        let tat = state.unwrap_or(now).max(now);
        let cost = i64::try_from(cost).unwrap_or(i64::MAX / 2);
        let new_tat = tat.saturating_add(cost.saturating_mul(self.interval_us));
        if new_tat - now > self.tau_us {
            GcraOutcome {
                allowed: false,
                remaining: self.remaining_at(tat, now),
                full_in: micros(tat - now),
                retry_in: micros(new_tat - now - self.tau_us),
                new_tat: tat,
            }
        } else {
            GcraOutcome {
                allowed: true,
                remaining: self.remaining_at(new_tat, now),
                full_in: micros(new_tat - now),
                retry_in: Duration::ZERO,
                new_tat,
            }
        }
    }

    /// Looks at a bucket without spending from it.
    pub fn view(&self, state: GcraState, now: i64) -> GcraView {
        let tat = state.unwrap_or(now).max(now);
        GcraView {
            remaining: self.remaining_at(tat, now),
            full_in: micros(tat - now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_a_burst_of_the_limit_then_refuses() {
        let g = Gcra::new(10, Duration::from_secs(60));
        let mut state = None;
        let now = 1_000_000_000;
        for i in 0..10 {
            let o = g.apply(state, now, 1);
            assert!(o.allowed, "request {i}");
            assert_eq!(o.remaining, 9 - i);
            state = Some(o.new_tat);
        }
        let refused = g.apply(state, now, 1);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_in, Duration::from_secs(6));
        assert_eq!(refused.new_tat, state.unwrap());
    }

    #[test]
    fn the_bucket_refills_one_point_per_interval() {
        let g = Gcra::new(10, Duration::from_secs(60));
        let now = 0;
        let mut state = None;
        for _ in 0..10 {
            state = Some(g.apply(state, now, 1).new_tat);
        }
        assert!(!g.apply(state, now + 5_999_999, 1).allowed);
        assert!(g.apply(state, now + 6_000_000, 1).allowed);
        assert_eq!(g.view(state, now + 60_000_000).remaining, 10);
    }

    #[test]
    fn a_full_bucket_never_reports_more_than_the_limit() {
        // 60 s / 45,000 is not a whole number of microseconds.
        let g = Gcra::new(45_000, Duration::from_secs(60));
        assert_eq!(g.view(None, 0).remaining, 45_000);
        assert_eq!(g.apply(None, 0, 1).remaining, 44_999);
        let mut state = None;
        for _ in 0..45_000 {
            let o = g.apply(state, 0, 1);
            assert!(o.allowed);
            state = Some(o.new_tat);
        }
        assert!(!g.apply(state, 0, 1).allowed);
    }

    #[test]
    fn costs_spend_several_points() {
        let g = Gcra::new(600, Duration::from_secs(60));
        let o = g.apply(None, 0, 100);
        assert!(o.allowed);
        assert_eq!(o.remaining, 500);
        assert!(!g.apply(Some(o.new_tat), 0, 501).allowed);
    }
}
