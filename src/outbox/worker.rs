//! The sender worker: claims due rows for one platform, delivers them and records the outcome.
//! Failures are classified by the adapter: rate limits wait, unreachable recipients are
//! marked and never retried, transient errors back off exponentially with jitter.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::platform::{Deliver, DeliveryError, Outgoing};
use crate::store::{OutboxRow, Store};

/// Attempts before a transient failure becomes final.
pub const MAX_ATTEMPTS: i64 = 6;

/// What one call to [`Worker::try_execute_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows claimed.
    pub claimed: usize,
    /// Delivered.
    pub sent: usize,
    /// Put back for a later attempt.
    pub retried: usize,
    /// Failed or skipped for good.
    pub failed: usize,
}

/// Sends one platform's outbox.
pub struct Worker {
    store: Store,
    deliver: Arc<dyn Deliver>,
    ready: Arc<Notify>,
    batch: i64,
}

impl Worker {
    /// A worker for `deliver`'s platform. `ready` wakes it when something is queued.
    pub fn new(store: Store, deliver: Arc<dyn Deliver>, ready: Arc<Notify>) -> Worker {
        Worker {
            store,
            deliver,
            ready,
            batch: 32,
        }
    }

    /// Claims and delivers one batch of due rows.
    pub async fn try_execute_batch(&self) -> Result<Outcome> {
        let rows = self
            .store
            .claim_due(self.deliver.platform(), self.batch)
            .await?;
        let mut outcome = Outcome {
            claimed: rows.len(),
            ..Outcome::default()
        };
        for row in rows {
            match self.deliver_row(&row).await? {
                RowResult::Sent => outcome.sent += 1,
                RowResult::Retried => outcome.retried += 1,
                RowResult::Failed => outcome.failed += 1,
            }
        }
        Ok(outcome)
    }

    async fn deliver_row(&self, row: &OutboxRow) -> Result<RowResult> {
        let (Some(to), Some(message)) = (
            row.address(),
            row.payload
                .as_deref()
                .and_then(|p| serde_json::from_str::<Outgoing>(p).ok()),
        ) else {
            self.store
                .mark_final(row.id, "failed", "unreadable outbox row")
                .await?;
            return Ok(RowResult::Failed);
        };
        let now = self.store.now();
        match self.deliver.deliver(&to, &message).await {
            Ok(d) => {
                self.store
                    .mark_sent(row.id, d.message_id.as_deref())
                    .await?;
                Ok(RowResult::Sent)
            }
            Err(DeliveryError::RetryAfter { seconds, .. }) => {
                self.store
                    .retry_at(row.id, now + seconds as i64 * 1000, "rate limited")
                    .await?;
                Ok(RowResult::Retried)
            }
            Err(DeliveryError::Unreachable(reason)) => {
                self.store
                    .mark_final(row.id, "failed", &format!("unreachable: {reason}"))
                    .await?;
                if !to.is_group {
                    self.store
                        .mark_unreachable(to.platform, &to.chat_id, &reason)
                        .await?;
                }
                Ok(RowResult::Failed)
            }
            Err(DeliveryError::Skipped(reason)) => {
                self.store.mark_final(row.id, "skipped", &reason).await?;
                Ok(RowResult::Failed)
            }
            Err(e @ (DeliveryError::Rejected(_) | DeliveryError::Migrated(_))) => {
                self.store
                    .mark_final(row.id, "failed", &e.to_string())
                    .await?;
                Ok(RowResult::Failed)
            }
            Err(DeliveryError::Transient(reason)) => {
                if row.attempts >= MAX_ATTEMPTS {
                    self.store.mark_final(row.id, "failed", &reason).await?;
                    return Ok(RowResult::Failed);
                }
                self.store
                    .retry_at(row.id, now + backoff_ms(row.attempts), &reason)
                    .await?;
                Ok(RowResult::Retried)
            }
        }
    }

    /// Runs until `shutdown` is cancelled. A batch in flight is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let wait = match self.try_execute_batch().await {
                Ok(o) if o.claimed > 0 => continue,
                Ok(_) => match self.store.next_due_at(self.deliver.platform()).await {
                    Ok(Some(at)) => (at - self.store.now()).clamp(5, 1000) as u64,
                    _ => 1000,
                },
                Err(e) => {
                    tracing::error!(error = ?e, "outbox batch failed");
                    1000
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
        }
    }
}

enum RowResult {
    Sent,
    Retried,
    Failed,
}

/// Exponential backoff with full jitter: up to 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let cap = (1000i64 << attempts.clamp(0, 9)).min(300_000);
    rand::rng().random_range(cap / 2..=cap)
}
