//! `webhook_deliveries`: one event to one endpoint, retried until it succeeds or
//! its retry window ends.

use sea_orm::entity::prelude::*;

use crate::{Environment, WebhookDeliveryStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    pub endpoint_id: i64,
    pub event_id: i64,
    /// The event's type, copied here so deliveries filter by it without a join.
    pub event_type: String,
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far (also the claim version: a result is recorded only
    /// if the count is still the one seen when the delivery was claimed).
    pub attempts: i32,
    /// When the dispatcher may next pick it up; while an attempt is in flight,
    /// the end of the sender's lease. `None` once finished.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub response_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body_excerpt: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
