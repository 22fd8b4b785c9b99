//! `idempotency_keys`: a claimed `Idempotency-Key` per API key, with the request's
//! fingerprint and, once finished, the response to replay for 24 hours.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub api_key_id: i64,
    /// The client's `Idempotency-Key` header (1 to 255 characters).
    pub idempotency_key: String,
    /// Lower-case hex SHA-256 of method, path and body.
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub response_status: Option<i32>,
    /// JSON object of the replayed headers (`content-type`).
    pub response_headers: Option<String>,
    pub response_body: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
