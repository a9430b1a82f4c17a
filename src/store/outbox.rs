//! The outbox: every outgoing message is written here before it is sent. Workers claim due
//! rows (a lease: a claimed row whose lease ran out, because its worker died, is due again),
//! deliver them and record the outcome.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use anyhow::Result;
use sqlx::{AnyConnection, AssertSqlSafe, FromRow};
use tokio::sync::mpsc;

use super::{Backend, Store};
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

/// Binds the ten parameters of a queued row (`{1}` to `{10}` of the `INSERT`s above).
fn bind_item<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    now: Millis,
    item: &NewOutboxItem,
) -> Result<sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>> {
    let priority = match item.message {
        Outgoing::AnswerCallback { .. } => Priority::Answer,
        _ => item.priority,
    };
    let payload = serde_json::to_string(&item.message)?;
    Ok(query
        .bind(item.to.platform.as_str())
        .bind(item.to.chat_id.clone())
        .bind(i64::from(item.to.is_group))
        .bind(item.person_id)
        .bind(item.broadcast_id)
        .bind(priority as i64)
        .bind(payload)
        .bind(now)
        .bind(item.dedupe_key.clone())
        .bind(item.to.account.as_str().to_string()))
}

/// How [`Store::enqueue_replies_in`] writes a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Claim {
    /// Claimed (an answer to a press: never held back).
    Yes = 0,
    /// Claimed when no earlier row of its chat is unfinished ([`CHAT_HEAD`]), else queued.
    IfFirst = 1,
    /// Queued for a sender's claim.
    No = 2,
}

/// The `INSERT` of [`Store::enqueue_replies_in`] for `rows` rows, each written as `claim`
/// says: each row has the ten parameters of [`bind_item`], and a claimed one its lease's end
/// after them. A claimed row is written as [`Store::claim_due`] leaves it: `sending`, one
/// attempt, due again when the lease ends. How the rows are claimed is written in the
/// statement, not passed as a parameter: PostgreSQL would otherwise plan it anew for every
/// execution (a plan for the parameters at hand drops the branches not taken, and looks
/// cheaper than the one generic plan).
fn replies_sql(claim: Claim, rows: usize) -> String {
    // `priority + 0` keeps SQLite on the chat's index (`outbox_chat_order`), not the claim
    // index, which would read every unfinished row of the account.
    let first = "NOT EXISTS (SELECT 1 FROM outbox e WHERE e.account = {10} AND e.chat_id = {2} \
         AND e.status IN ('queued', 'sending') AND e.priority + 0 >= 0)";
    let (row, width) = match claim {
        Claim::No => ("'queued', {8}, {9}, {8}, {10}, 0".to_string(), 10),
        Claim::Yes => ("'sending', {11}, {9}, {8}, {10}, 1".to_string(), 11),
        Claim::IfFirst => (
            format!(
                "CASE WHEN {first} THEN 'sending' ELSE 'queued' END, \
                 CASE WHEN {first} THEN {{11}} ELSE {{8}} END, {{9}}, {{8}}, {{10}}, \
                 CASE WHEN {first} THEN 1 ELSE 0 END"
            ),
            11,
        ),
    };
    let row = format!("({{1}}, {{2}}, {{3}}, {{4}}, {{5}}, {{6}}, {{7}}, {row})");
    format!(
        "INSERT INTO outbox (platform, chat_id, is_group, person_id, broadcast_id, priority, payload, \
         status, next_attempt_at, dedupe_key, created_at, account, attempts) VALUES {} \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING {ROW_COLUMNS}",
        super::values_rows(rows, width, &row)
    )
}

/// The most rows one [`replies_sql`] statement writes: more go in several statements, each of
/// a power of two rows, so there are few statements to prepare (three claims times seven
/// sizes), each prepared once per connection.
const REPLIES_ROWS_MAX: usize = 64;

/// [`replies_sql`] for `rows` (a power of two up to [`REPLIES_ROWS_MAX`]) rows, built once.
fn replies_sql_cached(claim: Claim, rows: usize) -> Arc<str> {
    static BUILT: super::Built<(Claim, usize)> = LazyLock::new(Default::default);
    super::built(&BUILT, (claim, rows), || replies_sql(claim, rows))
}

/// What [`Store::enqueue_replies_in`] queued.
#[derive(Debug, Default)]
pub struct Enqueued {
    /// Rows claimed for this process's senders, to hand over once committed.
    pub handed: Vec<OutboxRow>,
    /// Whether other rows wait in the queue for a sender's claim.
    pub waiting: bool,
}

/// This process's running senders, by account (see [`Store::receive_handed`]).
#[derive(Default)]
pub(super) struct Handoffs(std::sync::Mutex<HashMap<String, Handoff>>);

/// Where the sender of one account takes the rows handed to it.
struct Handoff {
    tx: mpsc::UnboundedSender<OutboxRow>,
    /// How long it leases the rows it claims.
    lease_ms: Millis,
}

impl Handoffs {
    fn senders(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handoff>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The replies handed to one sender of this process ([`Store::receive_handed`]): rows
/// already claimed for it, each to be sent like a row it claimed itself. Dropping it
/// unregisters the sender.
pub struct Handed {
    store: Store,
    account: String,
    tx: mpsc::UnboundedSender<OutboxRow>,
    rx: mpsc::UnboundedReceiver<OutboxRow>,
}

impl Handed {
    /// The next handed row (waits for one).
    pub async fn recv(&mut self) -> Option<OutboxRow> {
        self.rx.recv().await
    }

    /// A handed row, if one is waiting.
    pub fn try_recv(&mut self) -> Option<OutboxRow> {
        self.rx.try_recv().ok()
    }

    /// Takes no more rows; the rows handed and not taken yet, to put back.
    pub fn close(&mut self) -> Vec<OutboxRow> {
        self.unregister();
        self.rx.close();
        let mut left = Vec::new();
        while let Ok(row) = self.rx.try_recv() {
            left.push(row);
        }
        left
    }

    fn unregister(&self) {
        let mut senders = self.store.handoffs().senders();
        if senders
            .get(&self.account)
            .is_some_and(|h| h.tx.same_channel(&self.tx))
        {
            senders.remove(&self.account);
        }
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// How long a claimed row stays claimed before another worker may take it, by default.
pub const LEASE_MS: Millis = 60_000;

impl Store {
    /// Queues messages inside the caller's transaction, so a reply is stored together with
    /// the state change that produced it. Returns the ids of the rows written.
    pub async fn enqueue_in(
        conn: &mut AnyConnection,
        now: Millis,
        items: &[NewOutboxItem],
    ) -> Result<Vec<i64>> {
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
                query = bind_item(query, now, item)?;
            }
            let rows = query.fetch_all(&mut *conn).await?;
            ids.extend(rows.into_iter().map(|(id,)| id));
        }
        // Ids in the order the rows were queued (RETURNING promises no order).
        ids.sort_unstable();
        Ok(ids)
    }

    /// Queues the replies of an inbound event inside its transaction, like
    /// [`Store::enqueue_in`], and claims for this process's sender those that may go at once:
    /// the rows of accounts whose sender runs here ([`Store::receive_handed`]) that are
    /// answers to presses, or the first unfinished row of their chat ([`CHAT_HEAD`]).
    /// Claimed rows are leased as [`Store::claim_due`] leases them; the caller hands them
    /// over once the transaction committed ([`Store::hand_over`]), so a reply leaves without
    /// waiting for the sender's next claim.
    pub async fn enqueue_replies_in(
        &self,
        conn: &mut AnyConnection,
        now: Millis,
        items: &[NewOutboxItem],
    ) -> Result<Enqueued> {
        let leases: Vec<Option<Millis>> = {
            let senders = self.handoffs().senders();
            items
                .iter()
                .map(|i| senders.get(i.to.account.as_str()).map(|h| h.lease_ms))
                .collect()
        };
        if leases.iter().all(Option::is_none) {
            let ids = Store::enqueue_in(conn, now, items).await?;
            return Ok(Enqueued {
                handed: Vec::new(),
                waiting: !ids.is_empty(),
            });
        }
        let mut heads = std::collections::HashSet::new();
        let claims: Vec<Claim> = items
            .iter()
            .zip(&leases)
            .map(|(item, lease)| match (lease, &item.message) {
                (None, _) => Claim::No,
                (Some(_), Outgoing::AnswerCallback { .. }) => Claim::Yes,
                (Some(_), _) if heads.insert((item.to.account.as_str(), &item.to.chat_id)) => {
                    Claim::IfFirst
                }
                _ => Claim::No,
            })
            .collect();
        let mut rows: Vec<_> = items.iter().zip(claims).zip(&leases).collect();
        // Answers first, then each chat's head, then the rest, each in the order queued (a
        // chat's rows keep their order: its head is its first message, answers are no
        // messages), each claim's rows in statements of a power of two rows: the rows of a
        // whole group of events go in a few statements of a few shapes.
        rows.sort_by_key(|((_, claim), _)| *claim as u8);
        let mut out = Enqueued::default();
        let mut queued = Vec::new();
        for run in rows.chunk_by(|((_, a), _), ((_, b), _)| a == b) {
            let claim = run[0].0.1;
            let mut rest = run;
            while !rest.is_empty() {
                let n = 1 << rest.len().min(REPLIES_ROWS_MAX).ilog2();
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                let sql = replies_sql_cached(claim, n);
                let mut query = sqlx::query_as::<_, OutboxRow>(AssertSqlSafe(sql));
                for ((item, _), lease) in chunk {
                    query = bind_item(query, now, item)?;
                    if claim != Claim::No {
                        query = query.bind(now + lease.unwrap_or(0));
                    }
                }
                for r in query.fetch_all(&mut *conn).await? {
                    match r.attempts {
                        0 => queued.push(r),
                        _ => out.handed.push(r),
                    }
                }
            }
        }
        out.handed.sort_unstable_by_key(|r| r.id);
        // A row queued behind a message of its chat handed over here needs no sender woken:
        // the sender that sends that message claims the next one once it has recorded it
        // (it cannot be claimed before). Waking it would make it claim in vain, a write
        // transaction each time, ahead of the next inbound events on SQLite.
        out.waiting = queued.iter().any(|q| {
            !out.handed.iter().any(|h| {
                h.priority >= Priority::Reply as i64
                    && h.id < q.id
                    && h.account == q.account
                    && h.chat_id == q.chat_id
            })
        });
        Ok(out)
    }

    /// Hands rows claimed by [`Store::enqueue_replies_in`] to this process's senders, once
    /// their transaction committed. A row whose sender stopped meanwhile goes back to the
    /// queue (whoever sends for its account now claims it).
    pub async fn hand_over(&self, rows: Vec<OutboxRow>) {
        let mut back = Vec::new();
        {
            let senders = self.handoffs().senders();
            for row in rows {
                match senders.get(row.account.as_str()) {
                    Some(h) => {
                        if let Err(mpsc::error::SendError(row)) = h.tx.send(row) {
                            back.push((row.id, row.attempts));
                        }
                    }
                    None => back.push((row.id, row.attempts)),
                }
            }
        }
        if !back.is_empty()
            && let Err(e) = self.release_many(&back).await
        {
            tracing::warn!(error = ?e, "putting back replies no sender took failed (their lease will expire)");
        }
    }

    /// Registers this process's sender of `account`, which leases the rows it claims for
    /// `lease_ms`: replies queued for the account from now on are claimed as they are
    /// written and come through the returned [`Handed`] ([`Store::enqueue_replies_in`]).
    pub fn receive_handed(&self, account: &str, lease_ms: Millis) -> Handed {
        let (tx, rx) = mpsc::unbounded_channel();
        self.handoffs().senders().insert(
            account.to_string(),
            Handoff {
                tx: tx.clone(),
                lease_ms,
            },
        );
        Handed {
            store: self.clone(),
            account: account.to_string(),
            tx,
            rx,
        }
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
        self.record_and_claim(&[], account.as_ref(), limit, lease_ms, true)
            .await
    }

    /// [`Store::record_outcomes`] and then [`Store::claim_due`], in one transaction: a sender
    /// that has recorded its sends claims the rows they held back (a chat's next message)
    /// without a transaction of its own, which on SQLite would take the one writer's turn
    /// ahead of the next inbound events. With `expired` false the claim leaves rows whose
    /// lease ran out (a dead worker's) for a later one: looking for them once a second is
    /// enough, when leases last a minute.
    pub async fn record_and_claim(
        &self,
        done: &[Completion],
        account: &str,
        limit: i64,
        lease_ms: Millis,
        expired: bool,
    ) -> Result<Vec<OutboxRow>> {
        let now = self.now();
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        self.record_outcomes_in(&mut tx, done).await?;
        let mut rows: Vec<OutboxRow> = Vec::new();
        let statuses: &[&str] = match expired {
            true => &["sending", "queued"],
            false => &["queued"],
        };
        for status in statuses {
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
                .bind(*status)
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
        let mut tx = self.begin().await?;
        self.record_outcomes_in(&mut tx, done).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::record_outcomes`] inside the caller's transaction.
    async fn record_outcomes_in(&self, tx: &mut super::Tx, done: &[Completion]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let now = self.now();
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
            let r = q.execute(&mut **tx).await?;
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
                .execute(&mut **tx)
                .await?;
                // A linked group the bot was removed from leaves later audiences too.
                sqlx::query("DELETE FROM member_groups WHERE account = $1 AND chat_id = $2")
                    .bind(account.clone())
                    .bind(chat_id.clone())
                    .execute(&mut **tx)
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
                let n = q.execute(&mut **tx).await?.rows_affected() as i64;
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
            .execute(&mut **tx)
            .await?;
        }
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
