//! One page of leads as CSV or JSON Lines. Columns and keys are the GraphQL
//! `Lead` fields (camelCase, public ids, RFC 3339 times); `email`, `phone` and
//! `customFields` are present only for a key with `pii:read` (absent, not empty,
//! without it). `mergedInto` is left out: merged leads are never exported.

use entity::lead;
use sea_orm::ActiveEnum;
use serde::Serialize;

use crate::ids::{IdCodec, NodeType};

/// Every column, in order; the PII ones are dropped without `pii:read`.
const COLUMNS: [&str; 17] = [
    "id",
    "email",
    "firstName",
    "lastName",
    "phone",
    "company",
    "jobTitle",
    "source",
    "status",
    "score",
    "market",
    "teamId",
    "assignedToId",
    "createdById",
    "createdAt",
    "updatedAt",
    "customFields",
];

const PII: [&str; 3] = ["email", "phone", "customFields"];

/// The CSV header for a key with (`pii`) or without `pii:read`.
pub fn header(pii: bool) -> Vec<&'static str> {
    COLUMNS
        .into_iter()
        .filter(|c| pii || !PII.contains(c))
        .collect()
}

/// A lead as exported. `None` PII fields are skipped (the key lacks `pii:read`);
/// `Some(None)` is a null value.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<Option<&'a str>>,
    company: Option<&'a str>,
    job_title: Option<&'a str>,
    source: String,
    status: String,
    score: i32,
    market: &'a str,
    team_id: Option<String>,
    assigned_to_id: Option<String>,
    created_by_id: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_fields: Option<serde_json::Value>,
}

fn row<'a>(m: &'a lead::Model, codec: &IdCodec, pii: bool) -> Row<'a> {
    let user = |id: Option<i64>| id.map(|id| codec.encode(NodeType::User, id));
    Row {
        id: codec.encode(NodeType::Lead, m.id),
        email: pii.then_some(m.email.as_str()),
        first_name: &m.first_name,
        last_name: &m.last_name,
        phone: pii.then_some(m.phone.as_deref()),
        company: m.company.as_deref(),
        job_title: m.job_title.as_deref(),
        source: m.source.to_value(),
        status: m.status.to_value(),
        score: m.score,
        market: &m.market,
        team_id: m.team_id.map(|id| codec.encode(NodeType::Team, id)),
        assigned_to_id: user(m.assigned_to_id),
        created_by_id: user(m.created_by_id),
        // As GraphQL's `DateTime` renders them.
        created_at: m.created_at.to_rfc3339(),
        updated_at: m.updated_at.to_rfc3339(),
        custom_fields: pii.then(|| serde_json::from_str(&m.custom_fields).unwrap_or_default()),
    }
}

/// CSV rows (after the header when `with_header`), RFC 4180 quoting, CRLF.
/// Empty cells are nulls; `customFields` is JSON text.
pub fn csv(
    rows: &[lead::Model],
    codec: &IdCodec,
    pii: bool,
    with_header: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 160 + 256));
    if with_header {
        w.write_record(header(pii))?;
    }
    for m in rows {
        let r = row(m, codec, pii);
        let opt = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let mut record = vec![r.id];
        if pii {
            record.push(m.email.clone());
        }
        record.extend([r.first_name.to_owned(), r.last_name.to_owned()]);
        if pii {
            record.push(opt(m.phone.as_deref()));
        }
        record.extend([
            opt(r.company),
            opt(r.job_title),
            r.source,
            r.status,
            r.score.to_string(),
            r.market.to_owned(),
            r.team_id.unwrap_or_default(),
            r.assigned_to_id.unwrap_or_default(),
            r.created_by_id.unwrap_or_default(),
            r.created_at,
            r.updated_at,
        ]);
        if pii {
            // Stored as compact JSON text already.
            record.push(m.custom_fields.clone());
        }
        w.write_record(&record)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// One JSON object per line, each ending in `\n`.
pub fn jsonl(
    rows: &[lead::Model],
    codec: &IdCodec,
    pii: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(rows.len() * 300);
    for m in rows {
        serde_json::to_writer(&mut out, &row(m, codec, pii))?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_drops_pii_columns_without_pii_read() {
        assert_eq!(header(true).len(), 17);
        let public = header(false);
        assert_eq!(public.len(), 14);
        assert!(!public.iter().any(|c| PII.contains(c)));
    }
}
