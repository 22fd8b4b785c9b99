//! Webhooks: endpoints per tenant and environment, the event outbox, and
//! redelivery. Delivery itself is a job (`crate::jobs::webhooks`).
//!
//! Contract:
//! - A change and its event commit together: [`emit`] writes the event and one
//!   pending delivery per subscribed, enabled endpoint in the caller's
//!   transaction (nothing when no endpoint subscribes). A rolled-back change
//!   leaves no event and nothing to deliver.
//! - Deliveries are at least once: POST with `Leadgraph-Event-Id`,
//!   `Leadgraph-Event-Type` and `Leadgraph-Signature` ([`signing`]), 10 s timeout,
//!   retried with exponential backoff ([`Settings::backoff`]) for the retry window
//!   (24 h), each attempt recorded.
//! - Target URLs pass [`url_policy::check_url`] when saved and before each send.

mod deliveries;
mod endpoints;
mod outbox;
pub mod payload;
pub mod signing;
pub mod url_policy;

use std::time::Duration;

use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

pub use deliveries::redeliver;
pub use endpoints::{
    EndpointChanges, NewEndpoint, create_endpoint, delete_endpoint, update_endpoint,
};
/// A delivery as the outbox builds it, for the dispatcher's tests.
#[cfg(test)]
pub(crate) use outbox::delivery;
pub use outbox::{emit, emit_job, emit_lead, emit_leads, emit_status_changed};
pub use payload::EventData;

/// Every event type a webhook can subscribe to. The strings are public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
pub enum EventType {
    #[strum(serialize = "lead.created")]
    LeadCreated,
    #[strum(serialize = "lead.updated")]
    LeadUpdated,
    #[strum(serialize = "lead.deleted")]
    LeadDeleted,
    #[strum(serialize = "lead.status_changed")]
    LeadStatusChanged,
    #[strum(serialize = "lead.assigned")]
    LeadAssigned,
    #[strum(serialize = "lead.merged")]
    LeadMerged,
    #[strum(serialize = "import.completed")]
    ImportCompleted,
    #[strum(serialize = "dedupe.completed")]
    DedupeCompleted,
}

impl EventType {
    /// The wire name (`lead.created`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::iter().find(|t| t.as_str() == name)
    }
}

/// Timeout of one delivery attempt (connect, send and response).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery settings (from `LEADGRAPH_WEBHOOK_*`, see `config::WebhookArgs`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accept targets resolving to loopback/private addresses (development, tests).
    pub allow_private: bool,
    /// Delay after the first failed attempt; doubles after each further one.
    pub backoff_base: Duration,
    /// Longest delay between two attempts.
    pub backoff_max: Duration,
    /// How long after its creation a delivery is retried before it is given up.
    pub retry_window: Duration,
    /// How often the dispatcher looks for due deliveries.
    pub poll_interval: Duration,
    /// Whether this instance runs the dispatcher.
    pub dispatcher: bool,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            allow_private: false,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            retry_window: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_secs(1),
            dispatcher: true,
            timeout: ATTEMPT_TIMEOUT,
        }
    }
}

impl Settings {
    /// The wait after `failed` attempts (≥ 1): `base · 2^(failed−1)`, capped at
    /// `backoff_max`. With the defaults: 30 s, 1 min, 2 min, … 32 min, then hourly
    /// until the 24 h window ends (about 30 attempts).
    pub fn backoff(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(32);
        self.backoff_base
            .saturating_mul(1_u32 << doublings.min(31))
            .min(self.backoff_max)
    }

    /// How long a claimed delivery stays invisible to other dispatchers: longer
    /// than an attempt can take, so only a crashed sender's claim expires.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(20)
    }
}

/// Whether an endpoint subscribed to `event_types` (space-separated, empty = all)
/// receives `event`.
pub fn subscribes(event_types: &str, event: EventType) -> bool {
    let mut types = event_types.split_whitespace().peekable();
    types.peek().is_none() || types.any(|t| t == event.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_the_designed_ones() {
        let names: Vec<&str> = EventType::iter().map(EventType::as_str).collect();
        assert_eq!(
            names,
            [
                "lead.created",
                "lead.updated",
                "lead.deleted",
                "lead.status_changed",
                "lead.assigned",
                "lead.merged",
                "import.completed",
                "dedupe.completed"
            ]
        );
        for t in EventType::iter() {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("lead.exploded"), None);
    }

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let s = Settings::default();
        let secs: Vec<u64> = (1..=9).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(s.backoff(1000), Duration::from_secs(3600));
        // The default schedule keeps trying for the whole day, about 30 times.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while elapsed + s.backoff(attempts) <= s.retry_window {
            elapsed += s.backoff(attempts);
            attempts += 1;
        }
        assert!((28..=32).contains(&attempts), "{attempts}");
    }

    #[test]
    fn an_empty_filter_subscribes_to_everything() {
        assert!(subscribes("", EventType::LeadCreated));
        assert!(subscribes(
            "lead.created lead.deleted",
            EventType::LeadDeleted
        ));
        assert!(!subscribes("lead.deleted", EventType::LeadCreated));
    }
}
