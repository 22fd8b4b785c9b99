//! `leadgraph export`: streams `GET /v1/leads/export` of a running server to a
//! writer (stdout), chunk by chunk as it arrives. A refusal (non-2xx) becomes an
//! error carrying the envelope's message; a body cut off mid-stream (the server
//! aborts the response on a database error) is an error too, so the command
//! exits 1 unless the export is complete.

use std::io::Write;

use anyhow::{Context, bail};
use futures::StreamExt;

use crate::config::{ExportArgs, ExportFormat};

/// The query string of `args` (only the filters given).
pub fn query(args: &ExportArgs) -> Vec<(&'static str, String)> {
    let format = match args.format {
        ExportFormat::Csv => "csv",
        ExportFormat::Jsonl => "jsonl",
    };
    let mut q = vec![("format", format.to_owned())];
    for (name, list) in [
        ("status", &args.status),
        ("source", &args.source),
        ("market", &args.market),
    ] {
        if !list.is_empty() {
            q.push((name, list.join(",")));
        }
    }
    let scalars = [
        ("teamId", args.team_id.clone()),
        ("assignedToId", args.assigned_to_id.clone()),
        ("unassigned", args.unassigned.map(|b| b.to_string())),
        ("scoreMin", args.score_min.map(|n| n.to_string())),
        ("scoreMax", args.score_max.map(|n| n.to_string())),
        ("createdAfter", args.created_after.clone()),
        ("createdBefore", args.created_before.clone()),
        ("updatedAfter", args.updated_after.clone()),
        ("updatedBefore", args.updated_before.clone()),
        ("email", args.email.clone()),
        ("search", args.search.clone()),
        ("orderBy", args.order_by.clone()),
        ("direction", args.direction.clone()),
    ];
    q.extend(
        scalars
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name, v))),
    );
    q
}

/// Streams the export into `out`; returns the number of bytes written. A closed
/// `out` (a reader such as `head` that stopped early) ends the export quietly.
pub async fn export(
    client: &reqwest::Client,
    args: &ExportArgs,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let url = format!("{}/v1/leads/export", args.api_url.trim_end_matches('/'));
    let response = client
        .get(&url)
        .header("x-api-key", &args.api_key)
        .query(&query(args))
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        bail!("the server answered {status}: {message}");
    }
    let mut written = 0_u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| {
            format!("the export was cut off after {written} bytes; it is incomplete")
        })?;
        match out.write_all(&chunk) {
            Ok(()) => written += chunk.len() as u64,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(written),
            Err(e) => return Err(e).context("writing the export"),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the export")
        }
        _ => Ok(written),
    }
}

/// `leadgraph export`: to stdout.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    export(&client, &args, &mut out).await?;
    Ok(())
}
