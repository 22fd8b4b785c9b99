//! The query string of `GET /v1/leads/export`: the GraphQL `LeadFilter` fields
//! (lists comma-separated or repeated, ids public, times RFC 3339) plus `format`,
//! `orderBy` and `direction`. Anything unknown, repeated or malformed is a
//! `bad_request` naming the parameter.

use chrono::{DateTime, Utc};
use entity::{LeadSource, LeadStatus};
use sea_orm::ActiveEnum;

use crate::{
    domain::DomainError,
    ids::{IdCodec, NodeType},
    store::leads::{LeadFilter, LeadOrder, LeadOrderField},
};

/// The body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

/// A parsed export request. The caller-dependent filter rules (`email`, `search`
/// and `pii:read`) are applied afterwards by `domain::leads::caller_filter`.
#[derive(Debug, Clone)]
pub struct ExportParams {
    pub format: Format,
    pub filter: LeadFilter,
    /// The `email` filter as given.
    pub email: Option<String>,
    pub order: LeadOrder,
}

fn bad(message: String) -> DomainError {
    DomainError::BadRequest(message)
}

/// A comma-separated list parameter; repeating the parameter appends.
fn list<T>(
    into: &mut Option<Vec<T>>,
    name: &str,
    raw: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<(), DomainError> {
    let acc = into.get_or_insert_with(Vec::new);
    for item in raw.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(bad(format!(
                "`{name}` has an empty item; expected a comma-separated list of {expected}"
            )));
        }
        acc.push(
            parse(item)
                .ok_or_else(|| bad(format!("`{name}`: `{item}` is not one of {expected}")))?,
        );
    }
    Ok(())
}

/// Sets a single-valued parameter, refusing a repeat.
fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), DomainError> {
    if slot.is_some() {
        return Err(bad(format!("`{name}` is given more than once")));
    }
    *slot = Some(value);
    Ok(())
}

fn time(name: &str, raw: &str) -> Result<DateTime<Utc>, DomainError> {
    // An unencoded `+` in a query string decodes to a space: take it back.
    let raw = raw.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            bad(format!(
                "`{name}` must be an RFC 3339 time such as 2024-05-01T00:00:00Z"
            ))
        })
}

fn int(name: &str, raw: &str) -> Result<i32, DomainError> {
    raw.trim()
        .parse()
        .map_err(|_| bad(format!("`{name}` must be an integer")))
}

/// A public id of `ty`. A well-formed id of another type names nothing (row 0),
/// as in GraphQL; a malformed one is refused.
fn id(name: &str, raw: &str, ty: NodeType, codec: &IdCodec) -> Result<i64, DomainError> {
    let raw = raw.trim();
    codec
        .decode_as(ty, raw)
        .map(|row| row.unwrap_or(0))
        .map_err(|_| bad(format!("`{name}`: `{raw}` is not a valid id")))
}

fn enum_value<T: ActiveEnum<Value = String>>(raw: &str) -> Option<T> {
    T::try_from_value(&raw.to_ascii_uppercase()).ok()
}

/// Parses the query pairs (already percent-decoded).
pub fn parse(pairs: Vec<(String, String)>, codec: &IdCodec) -> Result<ExportParams, DomainError> {
    let mut f = LeadFilter::default();
    let (mut format, mut email, mut field, mut ascending) = (None, None, None, None);
    let (mut team, mut assignee, mut unassigned) = (None, None, None);
    let (mut score_min, mut score_max) = (None, None);
    let (mut created_after, mut created_before) = (None, None);
    let (mut updated_after, mut updated_before, mut search) = (None, None, None);
    for (name, raw) in pairs {
        let v = raw.as_str();
        match name.as_str() {
            "format" => {
                let value = match v.trim().to_ascii_lowercase().as_str() {
                    "csv" => Format::Csv,
                    "jsonl" | "ndjson" => Format::Jsonl,
                    _ => return Err(bad("`format` is `csv` or `jsonl`".into())),
                };
                once(&mut format, &name, value)?;
            }
            "status" => list(
                &mut f.status,
                &name,
                v,
                enum_value::<LeadStatus>,
                "NEW, CONTACTED, QUALIFIED, UNQUALIFIED",
            )?,
            "source" => list(
                &mut f.source,
                &name,
                v,
                enum_value::<LeadSource>,
                "WEB, REFERRAL, API, IMPORT, MANUAL",
            )?,
            "market" => list(
                &mut f.market,
                &name,
                v,
                |m| Some(m.to_owned()),
                "market codes",
            )?,
            "teamId" => once(&mut team, &name, id(&name, v, NodeType::Team, codec)?)?,
            "assignedToId" => once(&mut assignee, &name, id(&name, v, NodeType::User, codec)?)?,
            "unassigned" => {
                let value = match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("`unassigned` is `true` or `false`".into())),
                };
                once(&mut unassigned, &name, value)?;
            }
            "scoreMin" => once(&mut score_min, &name, int(&name, v)?)?,
            "scoreMax" => once(&mut score_max, &name, int(&name, v)?)?,
            "createdAfter" => once(&mut created_after, &name, time(&name, v)?)?,
            "createdBefore" => once(&mut created_before, &name, time(&name, v)?)?,
            "updatedAfter" => once(&mut updated_after, &name, time(&name, v)?)?,
            "updatedBefore" => once(&mut updated_before, &name, time(&name, v)?)?,
            "email" => once(&mut email, &name, v.to_owned())?,
            "search" => once(&mut search, &name, v.to_owned())?,
            "orderBy" => {
                let value = match v.trim().to_ascii_lowercase().as_str() {
                    "created_at" => LeadOrderField::CreatedAt,
                    "updated_at" => LeadOrderField::UpdatedAt,
                    "score" => LeadOrderField::Score,
                    "last_name" => LeadOrderField::LastName,
                    _ => {
                        return Err(bad(
                            "`orderBy` is one of created_at, updated_at, score, last_name".into(),
                        ));
                    }
                };
                once(&mut field, &name, value)?;
            }
            "direction" => {
                let value = match v.trim().to_ascii_lowercase().as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => return Err(bad("`direction` is `asc` or `desc`".into())),
                };
                once(&mut ascending, &name, value)?;
            }
            other => return Err(bad(format!("unknown query parameter `{other}`"))),
        }
    }
    f.team_id = team;
    f.assigned_to_id = assignee;
    f.unassigned = unassigned;
    (f.score_min, f.score_max) = (score_min, score_max);
    (f.created_after, f.created_before) = (created_after, created_before);
    (f.updated_after, f.updated_before) = (updated_after, updated_before);
    f.search = search;
    Ok(ExportParams {
        format: format.unwrap_or(Format::Csv),
        filter: f,
        email,
        // Oldest first by default: rows created during the export land at the end.
        order: LeadOrder {
            field: field.unwrap_or(LeadOrderField::CreatedAt),
            ascending: ascending.unwrap_or(true),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn codec() -> IdCodec {
        IdCodec::new(None).unwrap()
    }

    #[test]
    fn defaults_are_csv_oldest_first() {
        let p = parse(vec![], &codec()).unwrap();
        assert_eq!(p.format, Format::Csv);
        assert_eq!(p.order.field, LeadOrderField::CreatedAt);
        assert!(p.order.ascending);
    }

    #[test]
    fn lists_split_on_commas_and_accumulate() {
        let q = pairs(&[("status", "new, contacted"), ("status", "QUALIFIED")]);
        let p = parse(q, &codec()).unwrap();
        assert_eq!(
            p.filter.status,
            Some(vec![
                LeadStatus::New,
                LeadStatus::Contacted,
                LeadStatus::Qualified
            ])
        );
    }

    #[test]
    fn a_space_in_a_time_is_a_plus() {
        let q = pairs(&[("updatedAfter", "2024-05-01T02:00:00 02:00")]);
        let p = parse(q, &codec()).unwrap();
        assert_eq!(
            p.filter.updated_after.unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (q, needle) in [
            (pairs(&[("stauts", "NEW")]), "stauts"),
            (pairs(&[("status", "OPEN")]), "OPEN"),
            (pairs(&[("scoreMin", "ten")]), "scoreMin"),
            (pairs(&[("format", "xml")]), "format"),
            (pairs(&[("teamId", "nope")]), "teamId"),
            (pairs(&[("search", "a"), ("search", "b")]), "more than once"),
        ] {
            let err = parse(q, &codec()).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
