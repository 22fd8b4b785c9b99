//! The webhook dispatcher: polls due deliveries, POSTs them, records each
//! attempt and schedules the next one.
//!
//! Claiming is safe with any number of instances on one database: due rows are
//! selected `FOR UPDATE SKIP LOCKED` on PostgreSQL (on SQLite the `IMMEDIATE`
//! write transaction serialises claimers) and leased, i.e. `next_attempt_at` is
//! pushed past the longest possible attempt before anything is sent. Another
//! instance skips a leased row; if the sender crashes, the lease runs out and
//! the delivery is retried: at least once, never silently lost. A result is
//! recorded only if the delivery's attempt count is still the one seen at the
//! claim, so a sender that outlived its lease cannot overwrite a newer outcome.

mod send;

use std::collections::HashMap;

use chrono::TimeDelta;
use entity::{
    WebhookDeliveryStatus, webhook_delivery, webhook_delivery_attempt, webhook_endpoint,
    webhook_event,
};
use futures::future::join_all;
use sea_orm::{
    ActiveEnum, ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::watch;

use self::send::{Outcome, Sender, to_ms};
use crate::{clock, domain::webhooks::Settings, ids::IdCodec, store};

/// Deliveries claimed (and sent concurrently) per round.
const BATCH: u64 = 16;

/// Delivers webhooks until told to stop.
pub struct Dispatcher {
    db: DatabaseConnection,
    settings: Settings,
    sender: Sender,
}

fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Dispatcher {
    pub fn new(db: DatabaseConnection, codec: IdCodec, settings: Settings) -> anyhow::Result<Self> {
        let sender = Sender::new(codec, settings.clone())?;
        Ok(Self {
            db,
            settings,
            sender,
        })
    }

    /// Polls and delivers until `stop` turns true. Due deliveries are drained in
    /// rounds; between polls it sleeps `poll_interval`. A round in flight when
    /// the stop comes finishes first (bounded by the attempt timeout).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            poll_ms = to_ms(self.settings.poll_interval),
            "webhook dispatcher started"
        );
        loop {
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.run_once().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(err) => {
                        tracing::error!(error = %err, "webhook dispatch round failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Claims up to one batch of due deliveries and attempts each (concurrently);
    /// returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let claimed = self.claim().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let endpoint_ids: Vec<i64> = claimed.iter().map(|d| d.endpoint_id).collect();
        let event_ids: Vec<i64> = claimed.iter().map(|d| d.event_id).collect();
        let endpoints: HashMap<i64, webhook_endpoint::Model> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Id.is_in(endpoint_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let events: HashMap<i64, webhook_event::Model> = webhook_event::Entity::find()
            .filter(webhook_event::Column::Id.is_in(event_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let n = claimed.len();
        let results = join_all(claimed.into_iter().map(|d| {
            let endpoint = endpoints.get(&d.endpoint_id);
            let event = events.get(&d.event_id);
            self.process(d, endpoint, event)
        }))
        .await;
        for r in results {
            if let Err(err) = r {
                // The claim's lease expires and the delivery is retried.
                tracing::error!(error = %err, "recording a webhook attempt failed");
            }
        }
        Ok(n)
    }

    /// Selects due deliveries and leases them, in one write transaction.
    async fn claim(&self) -> Result<Vec<webhook_delivery::Model>, DbErr> {
        let due = |now| {
            webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::Status.is_in([
                    WebhookDeliveryStatus::Pending,
                    WebhookDeliveryStatus::Failed,
                ]))
                .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        };
        // A plain read first: an idle poll takes no write lock (SQLite has one).
        if due(clock::now()).one(&self.db).await?.is_none() {
            return Ok(Vec::new());
        }
        let txn = store::begin_write(&self.db).await?;
        let now = clock::now();
        // SQLite ignores the lock clause; its IMMEDIATE transaction already
        // makes claimers take turns.
        let due = due(now)
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .order_by_asc(webhook_delivery::Column::Id)
            .limit(BATCH)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if !due.is_empty() {
            let lease_until = now + delta(self.settings.lease());
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::value(lease_until),
                )
                .filter(webhook_delivery::Column::Id.is_in(due.iter().map(|d| d.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(due)
    }

    /// Attempts one claimed delivery and records the outcome.
    async fn process(
        &self,
        delivery: webhook_delivery::Model,
        endpoint: Option<&webhook_endpoint::Model>,
        event: Option<&webhook_event::Model>,
    ) -> Result<(), DbErr> {
        let (Some(endpoint), Some(event)) = (endpoint, event) else {
            return self
                .give_up(&delivery, "the endpoint or event no longer exists")
                .await;
        };
        if endpoint.deleted_at.is_some() || !endpoint.enabled {
            return self
                .give_up(&delivery, "the endpoint was deleted or disabled")
                .await;
        }
        let outcome = self.sender.attempt(endpoint, event).await;
        tracing::info!(
            webhook_delivery.id = delivery.id,
            webhook_endpoint.id = endpoint.id,
            event.kind = %event.event_type,
            attempt = delivery.attempts + 1,
            http.status = outcome.response_status,
            duration_ms = outcome.duration_ms,
            ok = outcome.succeeded(),
            "webhook attempt"
        );
        self.record(&delivery, outcome).await
    }

    /// Stores the attempt and the delivery's next state.
    async fn record(
        &self,
        delivery: &webhook_delivery::Model,
        outcome: Outcome,
    ) -> Result<(), DbErr> {
        let now = clock::now();
        let number = delivery.attempts + 1;
        let succeeded = outcome.succeeded();
        let (status, next) = if succeeded {
            (WebhookDeliveryStatus::Succeeded, None)
        } else {
            let failed = u32::try_from(number).unwrap_or(u32::MAX);
            let next = now + delta(self.settings.backoff(failed));
            if next > delivery.created_at + delta(self.settings.retry_window) {
                (WebhookDeliveryStatus::GivenUp, None)
            } else {
                (WebhookDeliveryStatus::Failed, Some(next))
            }
        };
        let txn = store::begin_write(&self.db).await?;
        webhook_delivery_attempt::ActiveModel {
            id: NotSet,
            delivery_id: Set(delivery.id),
            number: Set(number),
            started_at: Set(outcome.started_at),
            duration_ms: Set(outcome.duration_ms),
            response_status: Set(outcome.response_status),
            response_body_excerpt: Set(outcome.excerpt.clone()),
            error: Set(outcome.error.clone()),
            succeeded: Set(succeeded),
        }
        .insert(&txn)
        .await?;
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(status.to_value()),
            )
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(number))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                webhook_delivery::Column::LastAttemptAt,
                Expr::value(outcome.started_at),
            )
            .col_expr(
                webhook_delivery::Column::ResponseStatus,
                Expr::value(outcome.response_status),
            )
            .col_expr(
                webhook_delivery::Column::ResponseBodyExcerpt,
                Expr::value(outcome.excerpt),
            )
            .col_expr(webhook_delivery::Column::Error, Expr::value(outcome.error))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
            .exec(&txn)
            .await?;
        txn.commit().await
    }

    /// Ends a delivery without an attempt.
    async fn give_up(&self, delivery: &webhook_delivery::Model, why: &str) -> Result<(), DbErr> {
        let mut am: webhook_delivery::ActiveModel = delivery.clone().into();
        am.status = Set(WebhookDeliveryStatus::GivenUp);
        am.next_attempt_at = Set(None);
        am.error = Set(Some(why.to_owned()));
        am.updated_at = Set(clock::now());
        am.update(&self.db).await.map(|_| ())
    }
}
