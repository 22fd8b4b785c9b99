//! The load driver: N connections, each a task with its own HTTP/1.1
//! keep-alive connection (a `reqwest::Client` per task with at most one
//! idle connection), sending GraphQL POSTs back to back for a warm-up and
//! then a measured window.
//!
//! A probe is an endpoint (URL and headers) plus its request bodies: a list
//! to cycle through (each task starts at its own offset) or a generator
//! (for writes that need unique emails), so PostGraphile's probes run
//! through the same code as ours. A request counts when it finished inside
//! the measured window (after the warm-up), as in `wrk`, so slow requests
//! (a 500-lead batch at 64 connections) count too; req/s is those
//! completions over the window, and their latencies (send to the last byte
//! of the answer) go into an HDR histogram (microseconds, 3 significant
//! digits). Requests still in flight at the end are awaited, not counted.
//! A non-2xx status, a transport error, an answer with a top-level
//! `errors` (or without `data`) or a failed [`Check`] is an error: the
//! probe stops at the first one and reports its body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::Mutex;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub headers: HeaderMap,
}

impl Endpoint {
    /// `url` with `Content-Type: application/json` and the extra headers.
    pub fn new(url: &str, headers: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut map = HeaderMap::new();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("header name {name}"))?,
                HeaderValue::from_str(value).with_context(|| format!("header {name}"))?,
            );
        }
        Ok(Self {
            url: url.to_owned(),
            headers: map,
        })
    }
}

/// Makes one request body; called once per request.
pub type BodyFn = Arc<dyn Fn() -> Bytes + Send + Sync>;

/// The request bodies of a probe.
#[derive(Clone)]
pub enum Bodies {
    /// Sent in turn; each connection starts at its own offset.
    Cycle(Arc<[Bytes]>),
    /// A fresh body per request.
    Generated(BodyFn),
}

impl Bodies {
    /// Bodies to cycle through, from JSON strings.
    pub fn cycle(bodies: impl IntoIterator<Item = String>) -> Self {
        Bodies::Cycle(bodies.into_iter().map(Bytes::from).collect())
    }
}

/// What a successful answer must hold beyond "2xx, `data`, no `errors`".
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Nothing more.
    NoErrors,
    /// The JSON value at this pointer equals this value.
    Equals(&'static str, serde_json::Value),
}

impl Check {
    /// `Ok` if `body` (answered with `status`) is a success; else the reason
    /// with the body.
    pub fn verify(&self, status: u16, body: &[u8]) -> Result<(), String> {
        let fail = |why: &str| {
            let text = String::from_utf8_lossy(body);
            let cut: String = text.chars().take(2000).collect();
            Err(format!("{why} (HTTP {status}): {cut}"))
        };
        if !(200..300).contains(&status) {
            return fail("non-2xx status");
        }
        match self {
            Check::NoErrors => {
                /// Only the top-level keys matter; the rest is skipped
                /// without allocating.
                #[derive(Deserialize)]
                struct Top {
                    data: Option<IgnoredAny>,
                    errors: Option<IgnoredAny>,
                }
                match serde_json::from_slice::<Top>(body) {
                    Ok(Top {
                        errors: Some(_), ..
                    }) => fail("GraphQL errors"),
                    Ok(Top { data: None, .. }) => fail("no data"),
                    Ok(_) => Ok(()),
                    Err(_) => fail("not JSON"),
                }
            }
            Check::Equals(pointer, expected) => {
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
                    return fail("not JSON");
                };
                if value.get("errors").is_some_and(|e| !e.is_null()) {
                    return fail("GraphQL errors");
                }
                if value.pointer(pointer) != Some(expected) {
                    return fail(&format!("{pointer} is not {expected}"));
                }
                Ok(())
            }
        }
    }
}

/// A named load: bodies and the check of their answers.
#[derive(Clone)]
pub struct Probe {
    pub name: String,
    /// `read` or `write` (`mixed` for the soak).
    pub class: &'static str,
    pub bodies: Bodies,
    pub check: Check,
}

/// How hard and how long.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one probe run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Successful requests inside the window.
    pub ok: u64,
    /// Failed requests (warm-up included).
    pub errors: u64,
    /// The first failure, with its body.
    pub first_error: Option<String>,
    /// Latencies of the successful requests, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Length of the measured window, in seconds (shorter when stopped by
    /// an error).
    pub seconds: f64,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds.max(1e-9)
    }

    /// A latency quantile in milliseconds (0 when nothing was measured).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.max() as f64 / 1000.0
    }
}

/// A latency histogram: 1 µs to 10 min, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("creating a latency histogram")
}

/// Runs `probe` against `endpoint` with `load` (see the module docs).
pub async fn run(endpoint: &Endpoint, probe: &Probe, load: Load) -> anyhow::Result<Outcome> {
    let connections = load.connections.max(1);
    let begin = Instant::now();
    let measure_from = begin + load.warmup;
    let end = measure_from + load.duration;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let mut tasks = Vec::with_capacity(connections);
    for worker in 0..connections {
        let endpoint = endpoint.clone();
        let bodies = probe.bodies.clone();
        let check = probe.check.clone();
        let stop = stop.clone();
        let stopped_at = stopped_at.clone();
        let offset = match &bodies {
            Bodies::Cycle(list) => worker * (list.len() / connections).max(1),
            Bodies::Generated(_) => 0,
        };
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .tcp_nodelay(true)
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .context("building an HTTP client")?;
            let mut hist = histogram()?;
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut i = offset;
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                let body = match &bodies {
                    Bodies::Cycle(list) => list[i % list.len()].clone(),
                    Bodies::Generated(make) => make(),
                };
                i += 1;
                let t0 = Instant::now();
                let result = send(&client, &endpoint, body, &check).await;
                let t1 = Instant::now();
                match result {
                    Ok(()) => {
                        if t1 >= measure_from && t1 <= end {
                            ok += 1;
                            let us = u64::try_from((t1 - t0).as_micros()).unwrap_or(u64::MAX);
                            hist.saturating_record(us.max(1));
                        }
                    }
                    Err(why) => {
                        errors += 1;
                        if first_error.is_none() {
                            first_error = Some(why);
                        }
                        if !stop.swap(true, Ordering::Relaxed) {
                            *stopped_at.lock().await = Some(t1);
                        }
                    }
                }
            }
            anyhow::Ok((ok, errors, first_error, hist))
        }));
    }
    let mut outcome = Outcome {
        ok: 0,
        errors: 0,
        first_error: None,
        latency_us: histogram()?,
        seconds: load.duration.as_secs_f64(),
    };
    for task in tasks {
        let (ok, errors, first_error, hist) = task.await.context("a load task panicked")??;
        outcome.ok += ok;
        outcome.errors += errors;
        if outcome.first_error.is_none() {
            outcome.first_error = first_error;
        }
        outcome
            .latency_us
            .add(&hist)
            .context("merging latency histograms")?;
    }
    if let Some(at) = *stopped_at.lock().await {
        outcome.seconds = at.saturating_duration_since(measure_from).as_secs_f64();
    }
    Ok(outcome)
}

/// One request; `Err` with the reason and body when it failed.
async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    body: Bytes,
    check: &Check,
) -> Result<(), String> {
    let response = client
        .post(&endpoint.url)
        .headers(endpoint.headers.clone())
        .body(body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e:#}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer failed: {e:#}"))?;
    check.verify(status, &bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn answers_with_errors_or_without_data_fail() {
        let c = Check::NoErrors;
        assert!(c.verify(200, br#"{"data":{"leads":{"nodes":[]}}}"#).is_ok());
        let err = c
            .verify(200, br#"{"data":null,"errors":[{"message":"x"}]}"#)
            .unwrap_err();
        assert!(err.starts_with("GraphQL errors (HTTP 200)"), "{err}");
        assert!(err.contains(r#""message":"x""#));
        assert!(c.verify(200, br#"{"errors":[]}"#).is_err());
        assert!(c.verify(200, br"{}").is_err());
        assert!(c.verify(200, b"<html>").is_err());
        assert!(c.verify(429, br#"{"data":{}}"#).is_err());
    }

    #[test]
    fn equality_checks_read_the_pointer() {
        let c = Check::Equals("/data/createLeads/created", json!(500));
        assert!(
            c.verify(
                200,
                br#"{"data":{"createLeads":{"created":500,"failed":0}}}"#
            )
            .is_ok()
        );
        let err = c
            .verify(
                200,
                br#"{"data":{"createLeads":{"created":499,"failed":1}}}"#,
            )
            .unwrap_err();
        assert!(
            err.contains("/data/createLeads/created is not 500"),
            "{err}"
        );
    }

    #[test]
    fn quantiles_of_an_empty_outcome_are_zero() {
        let o = Outcome {
            ok: 0,
            errors: 0,
            first_error: None,
            latency_us: histogram().unwrap(),
            seconds: 1.0,
        };
        assert_eq!(o.quantile_ms(0.99), 0.0);
        assert_eq!(o.max_ms(), 0.0);
        assert_eq!(o.rps(), 0.0);
    }

    #[test]
    fn endpoints_carry_json_and_the_key() {
        let e = Endpoint::new("http://127.0.0.1:1/graphql", &[("X-API-Key", "k")]).unwrap();
        assert_eq!(e.headers["content-type"], "application/json");
        assert_eq!(e.headers["x-api-key"], "k");
    }
}
