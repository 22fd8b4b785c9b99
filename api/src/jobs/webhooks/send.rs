//! One delivery attempt: the URL policy again, the signature, the POST (10 s
//! timeout, no redirects, no proxy, connections only to addresses the policy
//! allows), and a bounded excerpt of the answer.

use std::time::Instant;

use chrono::{DateTime, Utc};
use entity::{webhook_endpoint, webhook_event};

use crate::{
    clock,
    domain::DomainError,
    domain::webhooks::{
        Settings,
        payload::{self, event_public_id},
        signing::{self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER},
        url_policy::{PolicyResolver, check_url},
    },
    ids::IdCodec,
};

/// Bytes of a response body kept with an attempt.
const EXCERPT_BYTES: usize = 1024;
/// Characters of an error message kept with an attempt.
const ERROR_CHARS: usize = 500;

/// How one attempt ended.
pub(super) struct Outcome {
    pub(super) started_at: DateTime<Utc>,
    pub(super) duration_ms: i64,
    pub(super) response_status: Option<i32>,
    pub(super) excerpt: Option<String>,
    pub(super) error: Option<String>,
}

impl Outcome {
    pub(super) fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .response_status
                .is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(started_at: DateTime<Utc>, error: String) -> Self {
        Self {
            started_at,
            duration_ms: 0,
            response_status: None,
            excerpt: None,
            error: Some(error),
        }
    }
}

pub(super) fn to_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn clip(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// An error and its causes, on one line (`error sending request: connection
/// refused`).
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    clip(&text, ERROR_CHARS)
}

/// Sends attempts; one HTTP client (and connection pool) for all of them.
pub(super) struct Sender {
    client: reqwest::Client,
    codec: IdCodec,
    settings: Settings,
}

impl Sender {
    pub(super) fn new(codec: IdCodec, settings: Settings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect could lead anywhere, past the URL policy: a 3xx is a failure.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(PolicyResolver::shared(settings.allow_private))
            .user_agent(concat!("Leadgraph-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            codec,
            settings,
        })
    }

    /// One POST: policy check, signature, send, read a bounded excerpt.
    pub(super) async fn attempt(
        &self,
        endpoint: &webhook_endpoint::Model,
        event: &webhook_event::Model,
    ) -> Outcome {
        let started_at = clock::now();
        // Resolution is bounded too, so an attempt always ends within the lease.
        let checked = tokio::time::timeout(
            self.settings.timeout,
            check_url(&endpoint.url, self.settings.allow_private),
        )
        .await
        .unwrap_or_else(|_| {
            Err(DomainError::field(
                "url",
                batch::FieldCode::InvalidValue,
                "resolving the host timed out",
            ))
        });
        let url = match checked {
            Ok(url) => url,
            Err(err) => {
                let why = match &err {
                    DomainError::Validation(fields) => fields
                        .iter()
                        .map(|f| f.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                };
                return Outcome::failed(started_at, format!("refused by the URL policy: {why}"));
            }
        };
        let body = match payload::render(event, &self.codec) {
            Ok(body) => body,
            Err(err) => {
                return Outcome::failed(started_at, format!("rendering the payload: {err}"));
            }
        };
        let timestamp = Utc::now().timestamp();
        let signature = signing::sign(&endpoint.secret, timestamp, &body);
        let clock = Instant::now();
        let sent = self
            .client
            .post(url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, event_public_id(&self.codec, event.id))
            .header(EVENT_TYPE_HEADER, &event.event_type)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        let mut outcome = match sent {
            Err(err) => Outcome::failed(started_at, describe(&err)),
            Ok(mut resp) => {
                let status = i32::from(resp.status().as_u16());
                let mut excerpt = Vec::new();
                let mut error = None;
                while excerpt.len() < EXCERPT_BYTES {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Err(err) => {
                            // The status arrived; a body cut short does not undo it.
                            if !(200..300).contains(&status) {
                                error = Some(describe(&err));
                            }
                            break;
                        }
                    }
                }
                excerpt.truncate(EXCERPT_BYTES);
                Outcome {
                    started_at,
                    duration_ms: 0,
                    response_status: Some(status),
                    excerpt: (!excerpt.is_empty())
                        .then(|| String::from_utf8_lossy(&excerpt).into_owned()),
                    error,
                }
            }
        };
        outcome.duration_ms = to_ms(clock.elapsed());
        outcome
    }
}
