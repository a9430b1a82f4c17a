//! The outbox: every outgoing message is written here before it is sent. Workers claim due
//! rows (a lease: a claimed row whose lease ran out, because its worker died, is due again),
//! deliver them and record the outcome.

use anyhow::Result;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Backend, Store, Tx};
use crate::clock::Millis;
use crate::domain::{AccountId, ChatAddress, PersonId, Platform};
use crate::platform::Outgoing;

/// Who goes first. Lower numbers are sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// An answer to a button press (`answerCallbackQuery`): not a message in the chat, so it
    /// neither waits for the chat's earlier messages nor holds back later ones, and it is
    /// worthless after the platform's deadline. Stored for every queued answer, whatever
    /// priority the caller gave.
    Answer = -1,
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
    /// The account it goes out through.
    pub account: String,
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
    /// The idempotency key, when queued with one (reminders start with `rem:`).
    pub dedupe_key: Option<String>,
    /// When it was queued.
    pub created_at: i64,
}

/// The condition that makes row `o` the next to go in its chat: no earlier row to the same
/// chat is still queued (a deferred row after a 429 included) or being sent. Answers to
/// button presses (negative priority) post nothing in the chat: they are never held back
/// and never hold back others.
pub const CHAT_HEAD: &str = "(o.priority < 0 OR NOT EXISTS (SELECT 1 FROM outbox e \
     WHERE e.account = o.account AND e.chat_id = o.chat_id \
     AND e.status IN ('queued', 'sending') AND e.priority >= 0 AND e.id < o.id))";

/// Rows per `INSERT` when queueing (10 parameters each, well under SQLite's 32,766).
const ENQUEUE_CHUNK: usize = 500;

const ROW_COLUMNS: &str = "id, platform, account, chat_id, is_group, person_id, broadcast_id, priority, payload, attempts, dedupe_key, created_at";

/// What became of one claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Delivered; the platform's message id, for later edits.
    Sent {
        /// The platform's id of the message.
        message_id: Option<String>,
    },
    /// Try again at `at` (counts as an attempt).
    Retry {
        /// When.
        at: Millis,
        /// Why the last attempt failed.
        reason: String,
    },
    /// Not sent because its chat (or the platform) had no free slot: back in the queue for
    /// `at`, and the attempt does not count.
    Defer {
        /// When the chat has a free slot again.
        at: Millis,
    },
    /// Failed for good.
    Failed {
        /// Why.
        reason: String,
    },
    /// The recipient cannot be reached (blocked, deleted, chat not found): failed for good,
    /// and the person is left out of future audiences.
    Unreachable {
        /// The platform's words.
        reason: String,
        /// The account the recipient's chat is with.
        account: String,
        /// The recipient's chat.
        chat_id: String,
    },
    /// Not sent by the platform's rules (messaging window), or no longer wanted.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Not sent because its broadcast was stopped.
    Cancelled,
}

impl Mark {
    fn reason(&self) -> Option<String> {
        match self {
            Mark::Retry { reason, .. }
            | Mark::Failed { reason }
            | Mark::Unreachable { reason, .. }
            | Mark::Skipped { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

/// The outcome of one claimed row, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The row.
    pub id: i64,
    /// Its broadcast, whose figures move with it.
    pub broadcast_id: Option<i64>,
    /// When it was queued: an unreachable mark never overrides a message the person sent
    /// after that.
    pub queued_at: Millis,
    /// The row's attempt count when it was claimed: it names the claim, so an outcome whose
    /// lease ran out and was taken over by a newer claim is not recorded over that claim.
    pub claim: i64,
    /// What became of it.
    pub mark: Mark,
}

impl Completion {
    /// What became of `row`, recorded against the claim it carries.
    pub fn of(row: &OutboxRow, mark: Mark) -> Completion {
        Completion {
            id: row.id,
            broadcast_id: row.broadcast_id,
            queued_at: row.created_at,
            claim: row.attempts,
            mark,
        }
    }
}

impl OutboxRow {
    /// The destination.
    pub fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: Platform::parse(&self.platform)?,
            account: AccountId::parse(&self.account).ok()?,
            chat_id: self.chat_id.clone(),
            is_group: self.is_group != 0,
        })
    }
}

/// Sent rows recorded by one statement.
const SENT_CHUNK: usize = 16;

/// Records [`SENT_CHUNK`] sent rows: `$1` the time, then per row its id, message id and
/// claim (`$2, $3, $4`, `$5, $6, $7` …); a row claimed again meanwhile is left alone.
static SENT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let p = |k: usize, i: usize| format!("${}", 2 + 3 * k + i);
    let ids: Vec<String> = (0..SENT_CHUNK).map(|k| p(k, 0)).collect();
    let message_ids: String = (0..SENT_CHUNK)
        .map(|k| format!(" WHEN {} THEN {}", p(k, 0), p(k, 1)))
        .collect();
    let claims: String = (0..SENT_CHUNK)
        .map(|k| format!(" WHEN {} THEN {}", p(k, 0), p(k, 2)))
        .collect();
    format!(
        "UPDATE outbox SET status = 'sent', sent_at = $1, last_error = NULL, \
         message_id = CASE id{message_ids} END \
         WHERE id IN ({}) AND status = 'sending' AND attempts = CASE id{claims} END",
        ids.join(", ")
    )
});

/// How long a claimed row stays claimed before another worker may take it, by default.
pub const LEASE_MS: Millis = 60_000;

impl Store {
    /// Queues messages inside the caller's transaction, so a reply is stored together with
    /// the state change that produced it. Returns the ids of the rows written.
    pub async fn enqueue_in(tx: &mut Tx, now: Millis, items: &[NewOutboxItem]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(items.len());
        // A turn's rows (a reply and a press's answer, a broadcast's chunk) in one statement.
        for chunk in items.chunks(ENQUEUE_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO outbox (platform, chat_id, is_group, person_id, broadcast_id, priority, payload, \
                 status, next_attempt_at, dedupe_key, created_at, account) VALUES ",
            );
            sql.push_str(&super::values_rows(
                chunk.len(),
                10,
                "({1}, {2}, {3}, {4}, {5}, {6}, {7}, 'queued', {8}, {9}, {8}, {10})",
            ));
            sql.push_str(" ON CONFLICT (dedupe_key) DO NOTHING RETURNING id");
            let mut query = sqlx::query_as::<_, (i64,)>(AssertSqlSafe(sql));
            for item in chunk {
                let payload = serde_json::to_string(&item.message)?;
                let priority = match item.message {
                    Outgoing::AnswerCallback { .. } => Priority::Answer,
                    _ => item.priority,
                };
                query = query
                    .bind(item.to.platform.as_str())
                    .bind(item.to.chat_id.clone())
                    .bind(i64::from(item.to.is_group))
                    .bind(item.person_id)
                    .bind(item.broadcast_id)
                    .bind(priority as i64)
                    .bind(payload)
                    .bind(now)
                    .bind(item.dedupe_key.clone())
                    .bind(item.to.account.as_str());
            }
            let rows = query.fetch_all(&mut **tx).await?;
            ids.extend(rows.into_iter().map(|(id,)| id));
        }
        // Ids in the order the rows were queued (RETURNING promises no order).
        ids.sort_unstable();
        Ok(ids)
    }

    /// Queues messages in their own transaction.
    pub async fn enqueue(&self, items: &[NewOutboxItem]) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let ids = Store::enqueue_in(&mut tx, self.now(), items).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Makes the rows of `account` claimed by a sender that is gone claimable now (their
    /// lease would otherwise keep them until it ends); how many. Only for the one replica
    /// that has just taken the account's sending ([`crate::outbox::Delivery`]): no other
    /// sender of the account runs then.
    pub async fn expire_claims(&self, account: impl AsRef<str>) -> Result<u64> {
        let now = self.now();
        let r = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 \
             WHERE account = $2 AND status = 'sending' AND next_attempt_at > $1",
        )
        .bind(now)
        .bind(account.as_ref())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Claims up to `limit` due rows of account `account` (a [`Platform`] names its single
    /// account): highest priority first; within a priority,
    /// groups first (a group's per-minute window should start early rather than hold up the
    /// end of a broadcast); then oldest first.
    /// Only the first unfinished row of each chat is claimed (see [`CHAT_HEAD`]): each chat's
    /// messages go in the order they were queued, across retries, crashes and restarts.
    /// Rows still `sending` whose lease ran out (their worker died) are taken first. Each
    /// claimed row is leased for `lease_ms`: until then no other worker takes it.
    pub async fn claim_due(
        &self,
        account: impl AsRef<str>,
        limit: i64,
        lease_ms: Millis,
    ) -> Result<Vec<OutboxRow>> {
        let account = account.as_ref();
        let now = self.now();
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let mut rows: Vec<OutboxRow> = Vec::new();
        for status in ["sending", "queued"] {
            let left = limit - rows.len() as i64;
            if left <= 0 {
                break;
            }
            let sql = format!(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE id IN (SELECT id FROM outbox o WHERE account = $2 AND status = $3 \
                   AND next_attempt_at <= $4 AND {CHAT_HEAD} \
                   ORDER BY priority, is_group DESC, next_attempt_at, id LIMIT $5{lock}) \
                 RETURNING {ROW_COLUMNS}"
            );
            let got: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(now + lease_ms)
                .bind(account)
                .bind(status)
                .bind(now)
                .bind(left)
                .fetch_all(&mut *tx)
                .await?;
            rows.extend(got);
        }
        tx.commit().await?;
        rows.sort_by_key(|r| (r.priority, -r.is_group, r.id));
        Ok(rows)
    }

    /// Writes the outcomes of a batch of sends in one transaction, with the broadcast figures
    /// and the unreachable marks they imply.
    pub async fn record_outcomes(&self, done: &[Completion]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut figures: std::collections::BTreeMap<i64, [i64; 5]> = Default::default();
        // Sent rows, by broadcast, are recorded SENT_CHUNK at a time.
        let mut sent: std::collections::BTreeMap<Option<i64>, Vec<&Completion>> =
            Default::default();
        for c in done {
            if matches!(c.mark, Mark::Sent { .. }) {
                sent.entry(c.broadcast_id).or_default().push(c);
            }
            let q = match &c.mark {
                // Recorded in chunks below.
                Mark::Sent { .. } => continue,
                Mark::Retry { at, reason } => sqlx::query(
                    "UPDATE outbox SET status = 'queued', next_attempt_at = $1, last_error = $2 \
                     WHERE id = $3 AND status = 'sending' AND attempts = $4",
                )
                .bind(*at)
                .bind(reason.clone()),
                Mark::Defer { at } => sqlx::query(
                    "UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1, \
                     last_error = COALESCE($2, last_error) WHERE id = $3 AND status = 'sending' \
                     AND attempts = $4",
                )
                .bind(*at)
                .bind(None::<String>),
                Mark::Failed { reason } | Mark::Unreachable { reason, .. } => sqlx::query(
                    "UPDATE outbox SET status = 'failed', sent_at = $1, last_error = $2 \
                     WHERE id = $3 AND status = 'sending' AND attempts = $4",
                )
                .bind(now)
                .bind(reason.clone()),
                Mark::Skipped { reason } => sqlx::query(
                    "UPDATE outbox SET status = 'skipped', sent_at = $1, last_error = $2 \
                     WHERE id = $3 AND status = 'sending' AND attempts = $4",
                )
                .bind(now)
                .bind(reason.clone()),
                Mark::Cancelled => sqlx::query(
                    "UPDATE outbox SET status = 'cancelled', sent_at = $1, last_error = $2 \
                     WHERE id = $3 AND status = 'sending' AND attempts = $4",
                )
                .bind(now)
                .bind("cancelled"),
            };
            let q = q.bind(c.id).bind(c.claim);
            let r = q.execute(&mut *tx).await?;
            if r.rows_affected() == 0 {
                // Cancelled meanwhile, or taken over by another worker after a lease ran out.
                continue;
            }
            if let Mark::Unreachable {
                account, chat_id, ..
            } = &c.mark
            {
                sqlx::query(
                    "UPDATE people SET unreachable = 1, unreachable_reason = $1 \
                     WHERE account = $2 AND chat_id = $3 AND last_inbound_at <= $4",
                )
                .bind(c.mark.reason().unwrap_or_default())
                .bind(account.clone())
                .bind(chat_id.clone())
                .bind(c.queued_at)
                .execute(&mut *tx)
                .await?;
                // A linked group the bot was removed from leaves later audiences too.
                sqlx::query("DELETE FROM member_groups WHERE account = $1 AND chat_id = $2")
                    .bind(account.clone())
                    .bind(chat_id.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(b) = c.broadcast_id {
                let f = figures.entry(b).or_default();
                match c.mark {
                    Mark::Sent { .. } => f[0] += 1,
                    Mark::Failed { .. } => f[1] += 1,
                    Mark::Unreachable { .. } => f[2] += 1,
                    Mark::Cancelled => f[3] += 1,
                    Mark::Skipped { .. } => f[4] += 1,
                    Mark::Retry { .. } | Mark::Defer { .. } => {}
                }
            }
        }
        for (broadcast, rows) in sent {
            for chunk in rows.chunks(SENT_CHUNK) {
                // A short chunk repeats its last row: one statement text for all.
                let mut q = sqlx::query(SENT_SQL.as_str()).bind(now);
                for k in 0..SENT_CHUNK {
                    let c = chunk[k.min(chunk.len() - 1)];
                    let message_id = match &c.mark {
                        Mark::Sent { message_id } => message_id.clone(),
                        _ => None,
                    };
                    q = q.bind(c.id).bind(message_id).bind(c.claim);
                }
                let n = q.execute(&mut *tx).await?.rows_affected() as i64;
                if let Some(b) = broadcast {
                    figures.entry(b).or_default()[0] += n;
                }
            }
        }
        for (id, [sent, failed, unreachable, cancelled, skipped]) in figures {
            sqlx::query(
                "UPDATE broadcasts SET sent = sent + $1, failed = failed + $2, \
                 unreachable = unreachable + $3, cancelled = cancelled + $4, \
                 skipped = skipped + $5 WHERE id = $6",
            )
            .bind(sent)
            .bind(failed)
            .bind(unreachable)
            .bind(cancelled)
            .bind(skipped)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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

    /// Puts claimed rows back untouched (a graceful stop before they were sent): `(id, claim)`
    /// pairs, the claim being the attempt count the claim returned.
    pub async fn release_many(&self, ids: &[(i64, i64)]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        for (id, claim) in ids {
            sqlx::query(
                "UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1 \
                 WHERE id = $2 AND status = 'sending' AND attempts = $3",
            )
            .bind(now)
            .bind(*id)
            .bind(*claim)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The earliest time a row of account `account` may be claimed, if any (a row waiting
    /// behind an earlier one to its chat is not counted: it is due only once that one is
    /// done).
    pub async fn next_due_at(&self, account: impl AsRef<str>) -> Result<Option<Millis>> {
        let sql = format!(
            "SELECT MIN(next_attempt_at) FROM outbox o WHERE account = $1 \
             AND (status = 'queued' OR status = 'sending') AND {CHAT_HEAD}"
        );
        let row: (Option<i64>,) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(account.as_ref())
            .fetch_one(self.pool())
            .await?;
        Ok(row.0)
    }

    /// Rows of account `account` waiting to be sent or being sent (logged when the platform
    /// fails and recovers).
    pub async fn outbox_waiting(&self, account: impl AsRef<str>) -> Result<i64> {
        let row: (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE account = $1 \
             AND (status = 'queued' OR status = 'sending') AND priority >= 0",
        )
        .bind(account.as_ref())
        .fetch_one(self.pool())
        .await?;
        Ok(row.0)
    }

    /// When a row was sent, if it was (tests and benchmarks).
    pub async fn outbox_sent_at(&self, id: i64) -> Result<Option<Millis>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT sent_at FROM outbox WHERE id = $1 AND status = 'sent'")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|(t,)| t))
    }

    /// The stored messages queued to one chat, oldest first (tests).
    pub async fn outbox_payloads_to(
        &self,
        platform: Platform,
        chat_id: &str,
    ) -> Result<Vec<String>> {
        let rows: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT payload FROM outbox WHERE platform = $1 AND chat_id = $2 ORDER BY id",
        )
        .bind(platform.as_str())
        .bind(chat_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().filter_map(|(p,)| p).collect())
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
