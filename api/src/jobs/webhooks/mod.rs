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
//! claim. A sender that outlived its lease, after another instance already
//! attempted the delivery, is late: it records nothing (neither the delivery's
//! state nor an attempt row, whose number another attempt owns) and logs a
//! warning, so it cannot overwrite a newer outcome.

mod send;

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
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

    /// Stores the attempt and the delivery's next state, unless the result is
    /// late (the delivery's attempt count moved on since the claim): then it
    /// stores nothing and logs a warning.
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
        // The conditional update first: it decides whether this result is still
        // ours to record (and, on PostgreSQL, locks the row for the insert).
        let updated = webhook_delivery::Entity::update_many()
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
                Expr::value(outcome.excerpt.clone()),
            )
            .col_expr(
                webhook_delivery::Column::Error,
                Expr::value(outcome.error.clone()),
            )
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            // Late: attempt `number` belongs to another instance's attempt.
            txn.rollback().await?;
            tracing::warn!(
                webhook_delivery.id = delivery.id,
                attempt = number,
                http.status = outcome.response_status,
                error = outcome.error.as_deref(),
                ok = succeeded,
                "late webhook result not recorded: the delivery's lease had run out \
                 and another attempt superseded this one"
            );
            return Ok(());
        }
        webhook_delivery_attempt::ActiveModel {
            id: NotSet,
            delivery_id: Set(delivery.id),
            number: Set(number),
            started_at: Set(outcome.started_at),
            duration_ms: Set(outcome.duration_ms),
            response_status: Set(outcome.response_status),
            response_body_excerpt: Set(outcome.excerpt),
            error: Set(outcome.error),
            succeeded: Set(succeeded),
        }
        .insert(&txn)
        .await?;
        txn.commit().await
    }

    /// Ends a delivery without an attempt, under the same condition as
    /// [`Dispatcher::record`]: only while its attempt count is the one seen at
    /// the claim. A late sender finding the endpoint gone must not turn a
    /// newer outcome (say, a success) into `GIVEN_UP`.
    async fn give_up(&self, delivery: &webhook_delivery::Model, why: &str) -> Result<(), DbErr> {
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(WebhookDeliveryStatus::GivenUp.to_value()),
            )
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(webhook_delivery::Column::Error, Expr::value(why))
            .col_expr(
                webhook_delivery::Column::UpdatedAt,
                Expr::value(clock::now()),
            )
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            tracing::warn!(
                webhook_delivery.id = delivery.id,
                why,
                "late give-up not recorded: the delivery's lease had run out and \
                 another attempt superseded this one"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use entity::Environment;

    use super::*;

    /// A migrated SQLite database with one pending delivery, and a dispatcher
    /// on it. The temp dir must outlive the test.
    async fn one_delivery() -> (tempfile::TempDir, Dispatcher, webhook_delivery::Model) {
        let (dir, db, created) = crate::test_support::acme_db().await;
        let tenant_id = created.tenant.id;
        let now = clock::now();
        let endpoint = webhook_endpoint::ActiveModel {
            id: NotSet,
            tenant_id: Set(tenant_id),
            environment: Set(Environment::Live),
            url: Set("https://hooks.example/in".into()),
            description: Set(None),
            event_types: Set(String::new()),
            secret: Set("whsec_test".into()),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&db)
        .await
        .expect("endpoint");
        let event = webhook_event::ActiveModel {
            id: NotSet,
            tenant_id: Set(tenant_id),
            environment: Set(Environment::Live),
            event_type: Set("lead.created".into()),
            payload: Set("{}".into()),
            created_at: Set(now),
        }
        .insert(&db)
        .await
        .expect("event");
        let delivery = crate::domain::webhooks::delivery(
            endpoint.id,
            (tenant_id, Environment::Live),
            (event.id, event.event_type.clone()),
            now,
        )
        .insert(&db)
        .await
        .expect("delivery");
        let codec = IdCodec::new(None).expect("codec");
        let dispatcher = Dispatcher::new(db, codec, Settings::default()).expect("dispatcher");
        (dir, dispatcher, delivery)
    }

    fn answered(status: i32) -> Outcome {
        Outcome {
            started_at: clock::now(),
            duration_ms: 5,
            response_status: Some(status),
            excerpt: Some(format!("answer {status}")),
            error: None,
        }
    }

    async fn state(
        d: &Dispatcher,
        id: i64,
    ) -> (
        webhook_delivery::Model,
        Vec<webhook_delivery_attempt::Model>,
    ) {
        let delivery = webhook_delivery::Entity::find_by_id(id)
            .one(&d.db)
            .await
            .expect("read delivery")
            .expect("delivery exists");
        let attempts = webhook_delivery_attempt::Entity::find()
            .filter(webhook_delivery_attempt::Column::DeliveryId.eq(id))
            .order_by_asc(webhook_delivery_attempt::Column::Id)
            .all(&d.db)
            .await
            .expect("read attempts");
        (delivery, attempts)
    }

    #[tokio::test]
    async fn a_result_in_time_is_recorded_as_the_next_attempt() {
        let (_dir, d, claimed) = one_delivery().await;
        d.record(&claimed, answered(503)).await.expect("record");
        let (delivery, attempts) = state(&d, claimed.id).await;
        assert_eq!(delivery.attempts, 1);
        assert_eq!(delivery.status, WebhookDeliveryStatus::Failed);
        assert_eq!(delivery.response_status, Some(503));
        assert!(delivery.next_attempt_at.is_some());
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].number, 1);
        assert!(!attempts[0].succeeded);
    }

    #[tokio::test]
    async fn a_late_result_records_nothing_after_another_attempt_superseded_it() {
        let (_dir, d, claimed) = one_delivery().await;
        // This sender's lease ran out; another instance claimed the delivery
        // (seeing the same count) and recorded its attempt first...
        d.record(&claimed, answered(200)).await.expect("record");
        let before = state(&d, claimed.id).await;
        assert_eq!(before.0.attempts, 1);
        assert_eq!(before.1.len(), 1);
        // ...then this sender's result arrives, with the count seen at its claim.
        d.record(&claimed, answered(503))
            .await
            .expect("late record");
        let after = state(&d, claimed.id).await;
        assert_eq!(after, before, "the late result changed nothing");
        assert_eq!(after.1[0].number, 1);
        assert!(after.1[0].succeeded);
        assert_eq!(after.0.status, WebhookDeliveryStatus::Succeeded);
    }

    #[tokio::test]
    async fn giving_up_ends_a_delivery_only_while_the_claim_is_current() {
        let (_dir, d, claimed) = one_delivery().await;
        // Late: another instance's attempt succeeded since this claim.
        d.record(&claimed, answered(200)).await.expect("record");
        let before = state(&d, claimed.id).await;
        d.give_up(&claimed, "the endpoint was deleted or disabled")
            .await
            .expect("late give-up");
        assert_eq!(
            state(&d, claimed.id).await,
            before,
            "a late give-up changed nothing"
        );

        // In time: the delivery ends as given up, without an attempt.
        let (_dir, d, claimed) = one_delivery().await;
        d.give_up(&claimed, "the endpoint was deleted or disabled")
            .await
            .expect("give up");
        let (delivery, attempts) = state(&d, claimed.id).await;
        assert_eq!(delivery.status, WebhookDeliveryStatus::GivenUp);
        assert_eq!(delivery.next_attempt_at, None);
        assert_eq!(
            delivery.error.as_deref(),
            Some("the endpoint was deleted or disabled")
        );
        assert!(attempts.is_empty());
    }
}
