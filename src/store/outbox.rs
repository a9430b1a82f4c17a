//! The outbox: every outgoing message is written here before it is sent. Workers claim due
//! rows (a lease: a claimed row whose lease ran out, because its worker died, is due again),
//! deliver them and record the outcome.

use anyhow::Result;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Backend, Store, Tx};
use crate::clock::Millis;
use crate::domain::{ChatAddress, PersonId, Platform};
use crate::platform::Outgoing;

/// Who goes first. Lower numbers are sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A reply to the person's own action.
    Reply = 0,
    /// A leader's broadcast.
    Broadcast = 1,
    /// Reminders and digests.
    Background = 2,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxItem {
    /// Where it goes.
    pub to: ChatAddress,
    /// The person it is for, when it goes to a person.
    pub person_id: Option<PersonId>,
    /// The broadcast it belongs to, if any.
    pub broadcast_id: Option<i64>,
    /// Its priority.
    pub priority: Priority,
    /// What to send.
    pub message: Outgoing,
    /// A key that makes queuing idempotent: a second item with the same key is dropped.
    pub dedupe_key: Option<String>,
}

/// A claimed row.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// Chat id.
    pub chat_id: String,
    /// 1 for a group.
    pub is_group: i64,
    /// The person, if any.
    pub person_id: Option<i64>,
    /// The broadcast, if any.
    pub broadcast_id: Option<i64>,
    /// Priority number.
    pub priority: i64,
    /// The message as JSON.
    pub payload: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

impl OutboxRow {
    /// The destination.
    pub fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: Platform::parse(&self.platform)?,
            chat_id: self.chat_id.clone(),
            is_group: self.is_group != 0,
        })
    }
}

/// How long a claimed row stays claimed before another worker may take it.
pub const LEASE_MS: Millis = 60_000;

impl Store {
    /// Queues messages inside the caller's transaction, so a reply is stored together with
    /// the state change that produced it. Returns the ids of the rows written.
    pub async fn enqueue_in(tx: &mut Tx, now: Millis, items: &[NewOutboxItem]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let payload = serde_json::to_string(&item.message)?;
            let row: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO outbox (platform, chat_id, is_group, person_id, broadcast_id, priority, payload, \
                 status, next_attempt_at, dedupe_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $8) \
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            )
            .bind(item.to.platform.as_str())
            .bind(item.to.chat_id.clone())
            .bind(i64::from(item.to.is_group))
            .bind(item.person_id)
            .bind(item.broadcast_id)
            .bind(item.priority as i64)
            .bind(payload)
            .bind(now)
            .bind(item.dedupe_key.clone())
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((id,)) = row {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Queues messages in their own transaction.
    pub async fn enqueue(&self, items: &[NewOutboxItem]) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let ids = Store::enqueue_in(&mut tx, self.now(), items).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims up to `limit` due rows on `platform`, highest priority first, oldest first.
    pub async fn claim_due(&self, platform: Platform, limit: i64) -> Result<Vec<OutboxRow>> {
        let now = self.now();
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 \
             WHERE id IN (SELECT id FROM outbox WHERE platform = $2 \
               AND (status = 'queued' OR status = 'sending') AND next_attempt_at <= $3 \
               ORDER BY priority, next_attempt_at, id LIMIT $4{lock}) \
             RETURNING id, platform, chat_id, is_group, person_id, broadcast_id, priority, payload, attempts"
        );
        let mut tx = self.begin().await?;
        let mut rows: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now + LEASE_MS)
            .bind(platform.as_str())
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.sort_by_key(|r| (r.priority, r.id));
        Ok(rows)
    }

    /// Records a delivery.
    pub async fn mark_sent(&self, id: i64, message_id: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, message_id = $2, last_error = NULL WHERE id = $3",
        )
        .bind(self.now())
        .bind(message_id.map(str::to_string))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a final failure (`failed`, `skipped` or `cancelled`) with its reason.
    pub async fn mark_final(&self, id: i64, status: &str, reason: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET status = $1, last_error = $2 WHERE id = $3")
            .bind(status)
            .bind(reason)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Puts a row back in the queue for another attempt at `at`.
    pub async fn retry_at(&self, id: i64, at: Millis, reason: &str) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, last_error = $2 WHERE id = $3",
        )
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts a claimed row back untouched (a graceful stop before it was sent).
    pub async fn release(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'sending'",
        )
        .bind(self.now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The earliest time a queued row on `platform` becomes due, if any.
    pub async fn next_due_at(&self, platform: Platform) -> Result<Option<Millis>> {
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE platform = $1 AND (status = 'queued' OR status = 'sending')",
        )
        .bind(platform.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok(row.0)
    }

    /// A row's status, last error and platform message id.
    pub async fn outbox_status(
        &self,
        id: i64,
    ) -> Result<Option<(String, Option<String>, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT status, last_error, message_id FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}
