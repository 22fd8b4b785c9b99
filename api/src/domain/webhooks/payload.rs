//! Event payloads: what the outbox stores and the body a receiver gets.
//!
//! The outbox stores [`EventData`] with row ids; [`render`] turns an event row
//! into the delivered body with public ids (the deployment's id codec is known
//! to the dispatcher, not to the services that emit). Rendering is
//! deterministic, so every attempt of a delivery sends the same bytes:
//!
//! ```json
//! { "id": "<event id>", "type": "lead.created", "createdAt": "…",
//!   "environment": "live", "data": { "lead": { "id": "…", "email": "…", … } } }
//! ```

use chrono::{DateTime, Utc};
use entity::{lead, webhook_event};
use sea_orm::ActiveEnum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{IdCodec, NodeType};

/// A lead as it was when the event happened (row ids, storage enums as strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadSnapshot {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub source: String,
    pub status: String,
    pub score: i32,
    pub custom_fields: Value,
    pub market: String,
    pub team_id: Option<i64>,
    pub assigned_to_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub merged_into_id: Option<i64>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&lead::Model> for LeadSnapshot {
    fn from(m: &lead::Model) -> Self {
        Self {
            id: m.id,
            email: m.email.clone(),
            first_name: m.first_name.clone(),
            last_name: m.last_name.clone(),
            phone: m.phone.clone(),
            company: m.company.clone(),
            job_title: m.job_title.clone(),
            source: m.source.to_value(),
            status: m.status.to_value(),
            score: m.score,
            custom_fields: serde_json::from_str(&m.custom_fields)
                .unwrap_or_else(|_| Value::Object(Map::new())),
            market: m.market.clone(),
            team_id: m.team_id,
            assigned_to_id: m.assigned_to_id,
            created_by_id: m.created_by_id,
            merged_into_id: m.merged_into_id,
            deleted_at: m.deleted_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What an event carries, as stored in the outbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<LeadSnapshot>,
    /// `lead.status_changed`: the status before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    /// Job events (`import.completed`, `dedupe.completed`): the delivered
    /// `data` object as is, ids already public (the job runner knows the codec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Map<String, Value>>,
}

impl EventData {
    /// Data of a lead event.
    pub fn lead(m: &lead::Model) -> Self {
        Self {
            lead: Some(m.into()),
            ..Self::default()
        }
    }
}

/// The public form of a lead in a payload (field names as in GraphQL).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicLead<'a> {
    id: String,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    phone: Option<&'a str>,
    company: Option<&'a str>,
    job_title: Option<&'a str>,
    source: &'a str,
    status: &'a str,
    score: i32,
    custom_fields: &'a Value,
    market: &'a str,
    team_id: Option<String>,
    assigned_to_id: Option<String>,
    created_by_id: Option<String>,
    merged_into_id: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> PublicLead<'a> {
    fn new(l: &'a LeadSnapshot, codec: &IdCodec) -> Self {
        let id = |ty, row: Option<i64>| row.map(|r| codec.encode(ty, r));
        Self {
            id: codec.encode(NodeType::Lead, l.id),
            email: &l.email,
            first_name: &l.first_name,
            last_name: &l.last_name,
            phone: l.phone.as_deref(),
            company: l.company.as_deref(),
            job_title: l.job_title.as_deref(),
            source: &l.source,
            status: &l.status,
            score: l.score,
            custom_fields: &l.custom_fields,
            market: &l.market,
            team_id: id(NodeType::Team, l.team_id),
            assigned_to_id: id(NodeType::User, l.assigned_to_id),
            created_by_id: id(NodeType::User, l.created_by_id),
            merged_into_id: id(NodeType::Lead, l.merged_into_id),
            deleted_at: l.deleted_at,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    lead: Option<PublicLead<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_status: Option<&'a str>,
    /// A job event's fields (`{"dedupeRun": {…}}`), inlined into `data`.
    #[serde(flatten)]
    job: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: DateTime<Utc>,
    environment: &'a str,
    data: PublicData<'a>,
}

/// The public id of an event (`Leadgraph-Event-Id` and the body's `id`).
pub fn event_public_id(codec: &IdCodec, event_id: i64) -> String {
    codec.encode(NodeType::WebhookEvent, event_id)
}

/// The body delivered for an event row.
pub fn render(event: &webhook_event::Model, codec: &IdCodec) -> Result<Vec<u8>, serde_json::Error> {
    let data: EventData = serde_json::from_str(&event.payload)?;
    let id = event_public_id(codec, event.id);
    let body = Body {
        id: &id,
        event_type: &event.event_type,
        created_at: event.created_at,
        environment: match event.environment {
            entity::Environment::Live => "live",
            entity::Environment::Sandbox => "sandbox",
        },
        data: PublicData {
            lead: data.lead.as_ref().map(|l| PublicLead::new(l, codec)),
            previous_status: data.previous_status.as_deref(),
            job: data.job.as_ref(),
        },
    };
    serde_json::to_vec(&body)
}
