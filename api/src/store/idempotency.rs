//! `idempotency_keys` rows: claim, complete, release and purge.
//!
//! The claim is the row itself: the first request inserts it and the unique index on
//! `(api_key_id, idempotency_key)` turns every repeat into a lookup of that row. Rows
//! older than [`RETENTION`] count as absent, and so do claims still unfinished after
//! [`ABANDONED_AFTER`] (their server died mid-request): a new request deletes such a
//! row and claims the key afresh. Deleting and re-inserting (rather than updating in
//! place) gives every claim a new row id, so a late `complete` of an abandoned
//! claim touches nothing.

use chrono::{DateTime, TimeDelta, Utc};
use entity::idempotency_key::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
};

use crate::{clock, domain::DomainError};

/// How long a key and its saved response are kept.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// An unfinished claim older than this is taken to be abandoned. Requests time out
/// after 30 s, so a live request never gets near it.
pub const ABANDONED_AFTER: TimeDelta = TimeDelta::minutes(10);

/// A saved response.
#[derive(Debug, Clone)]
pub struct Saved {
    pub status: u16,
    /// JSON object of header name to value.
    pub headers: Option<String>,
    pub body: Vec<u8>,
}

/// What a request finds when it tries to claim its key.
#[derive(Debug)]
pub enum Claim {
    /// This request owns the key (the row's id): run it, then `complete` or `release`.
    Claimed(i64),
    /// An earlier identical request finished: replay its response.
    Replay(Saved),
    /// The key was used for a different request.
    Reused,
    /// The first request with this key is still running.
    InProgress,
}

/// Claims `key` for the API key `api_key_id` and a request fingerprint `hash`.
pub async fn claim(
    db: &DatabaseConnection,
    api_key_id: i64,
    key: &str,
    hash: &str,
) -> Result<Claim, DbErr> {
    // Insert; on a conflict read the row; if it is stale, delete it and try once
    // more. A third conflict means another request just claimed the key.
    for _ in 0..3 {
        let now = clock::now();
        let row = ActiveModel {
            id: NotSet,
            api_key_id: Set(api_key_id),
            idempotency_key: Set(key.to_owned()),
            request_hash: Set(hash.to_owned()),
            response_status: Set(None),
            response_headers: Set(None),
            response_body: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
        };
        match Entity::insert(row).exec(db).await {
            Ok(done) => return Ok(Claim::Claimed(done.last_insert_id)),
            Err(err) if DomainError::is_unique_violation(&err) => {}
            Err(err) => return Err(err),
        }
        let Some(existing) = Entity::find()
            .filter(Column::ApiKeyId.eq(api_key_id))
            .filter(Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
        else {
            continue; // released in the meantime
        };
        let unfinished = existing.response_status.is_none();
        if existing.created_at <= now - RETENTION
            || (unfinished && existing.created_at <= now - ABANDONED_AFTER)
        {
            // The condition is checked again in SQL: of two racing requests, one
            // deletes, and both then race on the insert.
            Entity::delete_many()
                .filter(Column::Id.eq(existing.id))
                .filter(stale(now))
                .exec(db)
                .await?;
            continue;
        }
        if existing.request_hash != hash {
            return Ok(Claim::Reused);
        }
        return Ok(match (existing.response_status, existing.response_body) {
            (Some(status), body) => Claim::Replay(Saved {
                status: u16::try_from(status).unwrap_or(500),
                headers: existing.response_headers,
                body: body.unwrap_or_default(),
            }),
            (None, _) => Claim::InProgress,
        });
    }
    Ok(Claim::InProgress)
}

/// Rows that count as absent at `now`.
fn stale(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::CreatedAt.lte(now - RETENTION))
        .add(
            Condition::all()
                .add(Column::ResponseStatus.is_null())
                .add(Column::CreatedAt.lte(now - ABANDONED_AFTER)),
        )
}

/// Saves the response of claim `id`.
pub async fn complete(db: &DatabaseConnection, id: i64, saved: Saved) -> Result<(), DbErr> {
    let row = ActiveModel {
        response_status: Set(Some(i32::from(saved.status))),
        response_headers: Set(saved.headers),
        response_body: Set(Some(saved.body)),
        completed_at: Set(Some(clock::now())),
        ..Default::default()
    };
    Entity::update_many()
        .set(row)
        .filter(Column::Id.eq(id))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Drops claim `id` so that a retry runs the request again.
pub async fn release(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every row past its retention (and abandoned claims); returns how many.
pub async fn purge(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let done = Entity::delete_many()
        .filter(stale(clock::now()))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
