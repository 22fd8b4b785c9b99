//! JSON lead items of `/v1` batch bodies, read field by field so that one badly
//! typed item becomes that item's `422`, not a rejected batch.
//!
//! Field names and meaning are those of the GraphQL `CreateLeadInput` /
//! `UpdateLeadInput`; ids are public ids.

use batch::{FieldCode, FieldError, LeadPatch, RawLead};
use entity::LeadSource;
use serde_json::{Map, Value};

use crate::{
    domain::{
        DomainError,
        leads::{LeadChanges, NewLead},
    },
    ids::{IdCodec, NodeType},
};

const CREATE_FIELDS: [&str; 13] = [
    "email",
    "firstName",
    "lastName",
    "phone",
    "company",
    "jobTitle",
    "source",
    "score",
    "customFields",
    "market",
    "teamId",
    "assignedToId",
    "id",
];

struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn new(item: &'a Value) -> Result<Self, DomainError> {
        let map = item
            .as_object()
            .ok_or_else(|| DomainError::BadRequest("each item must be a JSON object".into()))?;
        let mut errors = Vec::new();
        for key in map.keys() {
            if !CREATE_FIELDS.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key.clone(),
                    FieldCode::InvalidValue,
                    "unknown field",
                ));
            }
        }
        Ok(Self { map, errors })
    }

    /// Absent → `None`; `null` → `Some(None)`; a string → `Some(Some(s))`.
    fn string(&mut self, field: &str) -> Option<Option<String>> {
        match self.map.get(field)? {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => {
                self.errors.push(FieldError::new(
                    field,
                    FieldCode::InvalidValue,
                    "must be a string",
                ));
                None
            }
        }
    }

    fn integer(&mut self, field: &str) -> Option<Option<i64>> {
        match self.map.get(field)? {
            Value::Null => Some(None),
            Value::Number(n) if n.as_i64().is_some() => Some(n.as_i64()),
            _ => {
                self.errors.push(FieldError::new(
                    field,
                    FieldCode::InvalidValue,
                    "must be an integer",
                ));
                None
            }
        }
    }

    fn json(&self, field: &str) -> Option<Option<Value>> {
        match self.map.get(field)? {
            Value::Null => Some(None),
            v => Some(Some(v.clone())),
        }
    }

    fn source(&mut self) -> Option<LeadSource> {
        let raw = self.string("source").flatten()?;
        let source = match raw.as_str() {
            "WEB" => LeadSource::Web,
            "REFERRAL" => LeadSource::Referral,
            "API" => LeadSource::Api,
            "IMPORT" => LeadSource::Import,
            "MANUAL" => LeadSource::Manual,
            _ => {
                self.errors.push(FieldError::new(
                    "source",
                    FieldCode::InvalidValue,
                    "one of WEB, REFERRAL, API, IMPORT, MANUAL",
                ));
                return None;
            }
        };
        Some(source)
    }

    /// A public id of `ty`; an id of another type maps to row 0 (names nothing).
    fn id(&mut self, field: &str, ty: NodeType, codec: &IdCodec) -> Option<Option<i64>> {
        let raw = self.string(field)?;
        let Some(raw) = raw else { return Some(None) };
        match codec.decode_as(ty, &raw) {
            Ok(row) => Some(Some(row.unwrap_or(0))),
            Err(_) => {
                self.errors.push(FieldError::new(
                    field,
                    FieldCode::InvalidFormat,
                    "not a valid id",
                ));
                None
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, DomainError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(DomainError::Validation(self.errors))
        }
    }
}

/// A create item (`POST /v1/leads/batch`).
pub fn new_lead(item: &Value, codec: &IdCodec) -> Result<NewLead, DomainError> {
    let mut r = Reader::new(item)?;
    let lead = NewLead {
        raw: RawLead {
            email: r.string("email").flatten(),
            first_name: r.string("firstName").flatten(),
            last_name: r.string("lastName").flatten(),
            phone: r.string("phone").flatten(),
            company: r.string("company").flatten(),
            job_title: r.string("jobTitle").flatten(),
            score: r.integer("score").flatten(),
            custom_fields: r.json("customFields").flatten(),
        },
        source: r.source().unwrap_or(LeadSource::Api),
        market: r.string("market").flatten(),
        team_id: r.id("teamId", NodeType::Team, codec).flatten(),
        assigned_to_id: r.id("assignedToId", NodeType::User, codec).flatten(),
    };
    r.finish(lead)
}

/// An update item (`PATCH /v1/leads/batch`): `id` plus the fields to change.
pub fn changes(item: &Value, codec: &IdCodec) -> Result<(i64, LeadChanges), DomainError> {
    let mut r = Reader::new(item)?;
    let id = match r.map.get("id").and_then(Value::as_str) {
        None => {
            return Err(DomainError::field(
                "id",
                FieldCode::Required,
                "each item needs the lead's id",
            ));
        }
        Some(raw) => codec
            .decode_as(NodeType::Lead, raw)
            .map_err(|_| DomainError::BadRequest(format!("`{raw}` is not a valid id")))?
            .ok_or(DomainError::NotFound)?,
    };
    let team_id = r.id("teamId", NodeType::Team, codec);
    let changes = LeadChanges {
        patch: LeadPatch {
            email: r.string("email"),
            first_name: r.string("firstName"),
            last_name: r.string("lastName"),
            phone: r.string("phone"),
            company: r.string("company"),
            job_title: r.string("jobTitle"),
            score: r.integer("score"),
            custom_fields: r.json("customFields"),
        },
        source: r.source(),
        market: r.string("market").flatten(),
        team_id,
        assigned_to_id: r.id("assignedToId", NodeType::User, codec),
    };
    r.finish((id, changes))
}
