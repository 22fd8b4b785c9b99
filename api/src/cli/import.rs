//! `leadgraph import FILE`: a client of a running server's `/v1/imports`.
//!
//! 1. `POST /v1/imports?…&fileName=` with the file streamed from disk as the
//!    `text/csv` body (never read whole) and a fresh `Idempotency-Key`, so a
//!    retried upload cannot start a second job.
//! 2. `GET /v1/imports/{id}` every 300 ms until the job is `COMPLETED` or
//!    `FAILED`, drawing a progress bar on stderr (hidden when stderr is no
//!    terminal).
//! 3. The summary on stdout; when rows failed, `GET /v1/imports/{id}/results?
//!    status=FAILED&format=csv` streamed to `FILE.errors.csv` (the original
//!    header plus `errors`), ready to fix and import again.
//!
//! Every request waits out a 429 (`Retry-After`) and is retried a few times
//! after a transport error (the upload safely, thanks to its idempotency key).
//! The command fails (exit 1) when any row failed, when the job failed, or on
//! any HTTP or I/O error; a refusal shows the envelope's message.

use std::{
    future::Future,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{
    StatusCode,
    header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER},
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::config::{ImportArgs, OnDuplicate, Unmapped};

/// Pause between two looks at the job.
const POLL_EVERY: Duration = Duration::from_millis(300);
/// Longest `Retry-After` waited out; a longer one (a used-up monthly quota) fails.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Attempts of one request that fails in transport (429s do not count).
const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request limit of a poll (the upload and the download stream, unbounded).
const POLL_TIMEOUT: Duration = Duration::from_secs(30);

const SPINNER_TEMPLATE: &str = "{spinner} {msg} {human_pos} rows ({per_sec:0}) {elapsed}";
const BAR_TEMPLATE: &str =
    "{spinner} {msg} [{wide_bar}] {human_pos}/{human_len} rows ({per_sec:0}, ETA {eta})";

/// State of an import job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// The fields of the job (`data` of the envelope) this command reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub status: JobStatus,
    #[serde(default)]
    pub dry_run: bool,
    /// Unknown until the server has read the whole file.
    pub total_rows: Option<u64>,
    #[serde(default)]
    pub processed_rows: u64,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub failed: u64,
    /// Why a `FAILED` job failed.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
}

/// The query string of the upload: the options given, plus `fileName`.
pub fn query(args: &ImportArgs, file_name: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(on_duplicate) = args.on_duplicate {
        let v = match on_duplicate {
            OnDuplicate::Skip => "skip",
            OnDuplicate::Update => "update",
            OnDuplicate::Error => "error",
        };
        q.push(("onDuplicate", v.to_owned()));
    }
    if args.dry_run {
        q.push(("dryRun", "true".to_owned()));
    }
    if let Some(mapping) = &args.mapping {
        q.push(("mapping", mapping.clone()));
    }
    if let Some(unmapped) = args.unmapped {
        let v = match unmapped {
            Unmapped::Custom => "custom",
            Unmapped::Ignore => "ignore",
        };
        q.push(("unmapped", v.to_owned()));
    }
    if let Some(market) = &args.market {
        q.push(("market", market.clone()));
    }
    if let Some(name) = file_name {
        q.push(("fileName", name.to_owned()));
    }
    q
}

/// Where the failed rows of `file` go: beside it, its full name plus `.errors.csv`.
pub fn errors_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".errors.csv");
    PathBuf::from(name)
}

/// The one-line summary of a finished job.
pub fn summary(job: &Job) -> String {
    let rows = job.total_rows.unwrap_or(job.processed_rows);
    let mut line = format!(
        "import {} {}: {rows} rows, {} created, {} updated, {} skipped, {} failed",
        job.id,
        job.status.as_str(),
        job.created,
        job.updated,
        job.skipped,
        job.failed
    );
    if job.dry_run {
        line.push_str(" (dry run)");
    }
    line
}

/// The command's outcome for a finished job: an error (exit 1) when the job
/// failed or any row did.
pub fn outcome(job: &Job) -> anyhow::Result<()> {
    if job.status == JobStatus::Failed {
        let reason = job.error.as_deref().unwrap_or("no reason given");
        bail!("import {} failed: {reason}", job.id);
    }
    if job.failed > 0 {
        bail!("{} of the file's rows failed", job.failed);
    }
    Ok(())
}

/// How long to wait before repeating a request refused with 429: its
/// `Retry-After` in seconds (1 s when absent or not a number), `None` when
/// longer than [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let wait = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs);
    (wait <= MAX_RETRY_AFTER).then_some(wait)
}

/// The message of a refusal: the envelope's `message`, then each `errors[]`
/// message that adds to it; the raw body when it is no envelope.
pub fn refusal_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.trim().to_owned();
    };
    let Some(message) = v["message"].as_str() else {
        return body.trim().to_owned();
    };
    let mut out = message.to_owned();
    for e in v["errors"].as_array().into_iter().flatten() {
        if let Some(m) = e["message"].as_str().filter(|m| *m != message) {
            let code = e["code"].as_str().unwrap_or("error");
            out.push_str(&format!("\n  {code}: {m}"));
        }
    }
    out
}

fn refusal(status: StatusCode, body: &str) -> anyhow::Error {
    match refusal_message(body) {
        m if m.is_empty() => anyhow!("the server answered {status}"),
        m => anyhow!("the server answered {status}: {m}"),
    }
}

/// `Ok` for a 2xx, else the refusal as an error.
async fn accepted(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(refusal(status, &response.text().await.unwrap_or_default()))
}

/// The job in an answer's envelope.
async fn read_job(response: reqwest::Response) -> anyhow::Result<Job> {
    let envelope: Envelope<Job> = accepted(response)
        .await?
        .json()
        .await
        .context("reading the job from the server's answer")?;
    envelope.data.context("the server's answer carries no job")
}

/// Sends one request (made anew by `request` for each attempt), waiting out 429s
/// and retrying transport errors and `idempotency_in_progress`. Returns the
/// first other answer, successful or not.
async fn send<F, Fut>(
    bar: &ProgressBar,
    what: &str,
    mut request: F,
) -> anyhow::Result<reqwest::Response>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<reqwest::Response>>,
{
    let mut attempt = 1;
    loop {
        let (wait, why) = match request().await {
            Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                match retry_after(response.headers()) {
                    Some(wait) => (wait, format!("{what}: rate limited")),
                    None => return accepted(response).await,
                }
            }
            Ok(response) if response.status() == StatusCode::CONFLICT => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                let in_progress = body.contains("\"idempotency_in_progress\"");
                if !in_progress || attempt >= MAX_ATTEMPTS {
                    return Err(refusal(status, &body));
                }
                attempt += 1;
                let why = format!("{what}: the server is still handling the first attempt");
                (Duration::from_secs(1), why)
            }
            Ok(response) => return Ok(response),
            // Only transport errors are retried; a file that cannot be opened or
            // a malformed URL is not.
            Err(err)
                if err
                    .downcast_ref::<reqwest::Error>()
                    .is_some_and(|e| !e.is_builder()) =>
            {
                if attempt >= MAX_ATTEMPTS {
                    return Err(err);
                }
                attempt += 1;
                (
                    Duration::from_secs(u64::from(attempt - 1)),
                    format!("{err:#}"),
                )
            }
            Err(err) => return Err(err),
        };
        bar.suspend(|| eprintln!("{why}; retrying in {} s", wait.as_secs()));
        tokio::time::sleep(wait).await;
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Shows `job` on the bar: a spinner until the row count is known, then a bar.
fn show(bar: &ProgressBar, job: &Job) {
    if let Some(total) = job.total_rows
        && bar.length() != Some(total)
    {
        bar.set_style(style(BAR_TEMPLATE));
        bar.set_length(total);
    }
    bar.set_message(job.status.as_str().to_lowercase());
    bar.set_position(job.processed_rows);
}

/// Step 1: the upload; returns the job it started.
async fn upload(
    client: &reqwest::Client,
    args: &ImportArgs,
    base: &str,
    bar: &ProgressBar,
) -> anyhow::Result<Job> {
    let url = format!("{base}/v1/imports");
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let query = query(args, file_name.as_deref());
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let (url, query, key) = (&url, &query, &idempotency_key);
    let response = send(bar, "uploading", move || async move {
        let file = tokio::fs::File::open(&args.file)
            .await
            .with_context(|| format!("opening {}", args.file.display()))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        client
            .post(url)
            .header("x-api-key", &args.api_key)
            .header("idempotency-key", key)
            .header(CONTENT_TYPE, "text/csv")
            .query(query)
            .body(body)
            .send()
            .await
            .with_context(|| format!("uploading {} to {url}", args.file.display()))
    })
    .await?;
    read_job(response).await
}

/// Step 2: polls the job until it is finished.
async fn follow(
    client: &reqwest::Client,
    args: &ImportArgs,
    base: &str,
    mut job: Job,
    bar: &ProgressBar,
) -> anyhow::Result<Job> {
    let url = format!("{base}/v1/imports/{}", job.id);
    let url = &url;
    loop {
        show(bar, &job);
        if job.status.is_finished() {
            return Ok(job);
        }
        tokio::time::sleep(POLL_EVERY).await;
        let response = send(bar, "reading the job", move || async move {
            client
                .get(url)
                .header("x-api-key", &args.api_key)
                .timeout(POLL_TIMEOUT)
                .send()
                .await
                .with_context(|| format!("requesting {url}"))
        })
        .await?;
        job = read_job(response).await?;
    }
}

/// Step 3: streams the failed rows as CSV into `path`; a partial file is removed.
async fn write_failed_rows(
    client: &reqwest::Client,
    args: &ImportArgs,
    base: &str,
    job: &Job,
    path: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let url = format!("{base}/v1/imports/{}/results", job.id);
    let url = &url;
    let response = send(bar, "downloading the failed rows", move || async move {
        client
            .get(url)
            .header("x-api-key", &args.api_key)
            .query(&[("status", "FAILED"), ("format", "csv")])
            .send()
            .await
            .with_context(|| format!("requesting {url}"))
    })
    .await?;
    let response = accepted(response).await?;
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let written = async {
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.context("the failed rows were cut off")?;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        anyhow::Ok(())
    }
    .await;
    if written.is_err() {
        drop(file);
        let _ = tokio::fs::remove_file(path).await;
    }
    written.with_context(|| format!("writing {}", path.display()))
}

/// `leadgraph import`.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let base = args.api_url.trim_end_matches('/');
    let bar = ProgressBar::new_spinner()
        .with_style(style(SPINNER_TEMPLATE))
        .with_message("uploading");
    bar.enable_steady_tick(Duration::from_millis(100));

    let job = upload(&client, &args, base, &bar).await?;
    bar.suspend(|| eprintln!("import {} started", job.id));
    let job = follow(&client, &args, base, job, &bar).await?;
    if job.status == JobStatus::Completed {
        bar.set_length(job.total_rows.unwrap_or(job.processed_rows));
        bar.finish();
    } else {
        bar.abandon();
    }

    println!("{}", summary(&job));
    if job.failed > 0 {
        let path = errors_path(&args.file);
        write_failed_rows(&client, &args, base, &job, &path, &bar).await?;
        println!("failed rows written to {}", path.display());
    }
    outcome(&job)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Command};

    fn args(extra: &[&str]) -> ImportArgs {
        let mut argv = vec![
            "leadgraph",
            "import",
            "dir/leads.csv",
            "--api-url",
            "http://h",
            "--api-key",
            "k",
        ];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Some(Command::Import(args)) => *args,
            other => panic!("expected import, got {other:?}"),
        }
    }

    fn job(status: JobStatus, failed: u64) -> Job {
        Job {
            id: "abc".into(),
            status,
            dry_run: false,
            total_rows: Some(5),
            processed_rows: 5,
            created: 3,
            updated: 0,
            skipped: 0,
            failed,
            error: None,
        }
    }

    #[test]
    fn the_query_carries_only_the_options_given_plus_the_file_name() {
        assert_eq!(
            query(&args(&[]), Some("leads.csv")),
            vec![("fileName", "leads.csv".to_owned())]
        );
        let all = args(&[
            "--on-duplicate",
            "skip",
            "--dry-run",
            "--mapping",
            "E-mail=email,Given Name=firstName",
            "--unmapped",
            "custom",
            "--market",
            "US",
        ]);
        let url = reqwest::Client::new()
            .post("http://h/v1/imports")
            .query(&query(&all, Some("leads.csv")))
            .build()
            .unwrap()
            .url()
            .to_string();
        assert_eq!(
            url,
            "http://h/v1/imports?onDuplicate=skip&dryRun=true\
             &mapping=E-mail%3Demail%2CGiven+Name%3DfirstName\
             &unmapped=custom&market=US&fileName=leads.csv"
        );
    }

    #[test]
    fn the_errors_file_sits_beside_the_input_with_its_full_name() {
        assert_eq!(
            errors_path(Path::new("dir/leads.csv")),
            PathBuf::from("dir/leads.csv.errors.csv")
        );
        assert_eq!(
            errors_path(Path::new("leads")),
            PathBuf::from("leads.errors.csv")
        );
    }

    #[test]
    fn the_summary_counts_every_outcome_and_marks_a_dry_run() {
        let mut j = job(JobStatus::Completed, 2);
        assert_eq!(
            summary(&j),
            "import abc COMPLETED: 5 rows, 3 created, 0 updated, 0 skipped, 2 failed"
        );
        j.dry_run = true;
        j.total_rows = None;
        j.processed_rows = 4;
        assert!(
            summary(&j).ends_with(": 4 rows, 3 created, 0 updated, 0 skipped, 2 failed (dry run)")
        );
    }

    #[test]
    fn only_a_completed_job_without_failed_rows_succeeds() {
        assert!(outcome(&job(JobStatus::Completed, 0)).is_ok());
        let err = outcome(&job(JobStatus::Completed, 2)).unwrap_err();
        assert_eq!(err.to_string(), "2 of the file's rows failed");
        let mut failed = job(JobStatus::Failed, 0);
        failed.error = Some("the file is not UTF-8".into());
        let err = outcome(&failed).unwrap_err();
        assert_eq!(err.to_string(), "import abc failed: the file is not UTF-8");
    }

    #[test]
    fn the_job_is_read_from_the_envelope() {
        let body = r#"{"success":true,"status":202,"message":"accepted","data":{
            "id":"j1","status":"RUNNING","fileName":"a.csv","dryRun":true,
            "onDuplicate":"skip","totalRows":null,"processedRows":10,"created":8,
            "updated":0,"skipped":1,"failed":1,"progress":0.1,"error":null,
            "createdAt":"2026-01-01T00:00:00Z","startedAt":null,"finishedAt":null},
            "meta":{"timestamp":"2026-01-01T00:00:00Z","version":"0.1.0","requestId":"r"}}"#;
        let job = serde_json::from_str::<Envelope<Job>>(body)
            .unwrap()
            .data
            .unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert!(!job.status.is_finished());
        assert_eq!(
            (job.total_rows, job.processed_rows, job.failed),
            (None, 10, 1)
        );
        assert!(job.dry_run);
    }

    #[test]
    fn a_refusal_shows_the_envelope_message_and_its_details() {
        let body = r#"{"success":false,"status":422,"message":"invalid mapping","data":null,
            "errors":[{"code":"validation_failed","message":"unknown field `foo`"},
                      {"code":"validation_failed","message":"invalid mapping"}]}"#;
        assert_eq!(
            refusal_message(body),
            "invalid mapping\n  validation_failed: unknown field `foo`"
        );
        assert_eq!(refusal_message("Bad Gateway\n"), "Bad Gateway");
    }

    #[test]
    fn retry_after_is_waited_out_unless_it_is_too_long() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_progress_templates_parse() {
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }
}
