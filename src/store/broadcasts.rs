//! Broadcasts: the audit trail of what a leader sent to whom, the draft being previewed, and
//! the live figures the sender keeps up to date. Recipients are queued with one
//! `INSERT ... SELECT` from `people` (and one from the linked `member_groups` when the
//! broadcast goes to everyone), so a million of them never pass through memory.
//!
//! Who is reached is decided in SQL too ([`ReachPlan`]): each person's reach class (free,
//! billed, window closed, blocked, opted out) from their platform's rules and their last
//! message; one account per linked person (`/link`), the cheapest that can reach them now;
//! and, for billed recipients, only as many as the leader's choice and the budget allow. The
//! preview counts with the same query the broadcast is queued with.

use anyhow::Result;
use sqlx::{AssertSqlSafe, FromRow};

use super::Store;
use crate::clock::Millis;
use crate::domain::{ChatAddress, PersonId, Platform, UnitCode};
use crate::reach::ReachRules;
use crate::reach::estimate::{Class, Classes};
use crate::store::{NewOutboxItem, Priority};

/// Who a broadcast goes to inside its unit's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every member who can be reached.
    Everyone,
    /// Only members who have not confirmed yet.
    Unconfirmed,
}

impl Audience {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Everyone => "all",
            Audience::Unconfirmed => "unconfirmed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "all" => Some(Audience::Everyone),
            "unconfirmed" => Some(Audience::Unconfirmed),
            _ => None,
        }
    }
}

/// One broadcast as stored.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Broadcast {
    /// Id.
    pub id: i64,
    /// The leader or administrator who wrote it.
    pub author_id: PersonId,
    /// The author as `platform:user id`, for the audit trail.
    pub author: String,
    /// The unit whose subtree it goes to.
    pub unit_code: UnitCode,
    /// `all` or `unconfirmed`.
    pub audience: String,
    /// The text as the author wrote it.
    pub text: String,
    /// The rendered message every recipient gets (outbox JSON).
    pub payload: String,
    /// draft, running, done, cancelled, discarded.
    pub status: String,
    /// Recipients queued.
    pub total: i64,
    /// Delivered.
    pub sent: i64,
    /// Failed for good after retries (not counting unreachable or skipped recipients).
    pub failed: i64,
    /// Recipients found unreachable.
    pub unreachable: i64,
    /// Recipients not sent to because the broadcast was cancelled.
    pub cancelled: i64,
    /// Recipients the platform did not let us reach now (outside its messaging window, or a
    /// picture it cannot show): not an error of ours, so not counted as failed.
    pub skipped: i64,
    /// The outbox row of the author's progress message.
    pub progress_outbox_id: Option<i64>,
    /// When the progress message was last edited.
    pub last_progress_at: i64,
    /// The figure (sent + failed + unreachable) the last edit showed.
    pub last_progress_done: i64,
    /// When the draft was written.
    pub created_at: i64,
    /// When it was queued.
    pub queued_at: Option<i64>,
    /// When the last recipient was handled (or it was cancelled).
    pub finished_at: Option<i64>,
    /// Recipients queued at a price (inside a billed period, within the budget).
    pub billed: i64,
    /// What the billed recipients were planned to cost (the platform's currency, VND).
    pub billed_cost: i64,
    /// People of the audience not queued: they blocked the bot, unfollowed, left or opted out.
    pub excluded: i64,
}

impl Broadcast {
    /// Recipients handled so far, whatever the outcome.
    pub fn done(&self) -> i64 {
        self.sent + self.failed + self.unreachable + self.cancelled + self.skipped
    }

    /// The audience.
    pub fn audience(&self) -> Audience {
        Audience::parse(&self.audience).unwrap_or(Audience::Everyone)
    }
}

const BROADCAST_COLUMNS: &str = "id, author_id, author, unit_code, audience, text, payload, status, total, sent, \
     failed, unreachable, cancelled, skipped, progress_outbox_id, last_progress_at, last_progress_done, created_at, \
     queued_at, finished_at, billed, billed_cost, excluded";

/// The people a broadcast to the subtree whose path is `$1` reaches.
fn audience_where(audience: Audience) -> &'static str {
    match audience {
        Audience::Everyone => {
            "p.unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($1)) = $1) AND p.opted_out = 0 \
             AND p.unreachable = 0 AND p.linked_to IS NULL AND p.started = 1"
        }
        Audience::Unconfirmed => {
            "p.unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($1)) = $1) AND p.opted_out = 0 \
             AND p.unreachable = 0 AND p.linked_to IS NULL AND p.started = 1 AND p.confirmed_at IS NULL"
        }
    }
}

/// How an audience is classified: each platform's reach rules at one moment, and how many
/// billed recipients each platform may queue (the leader's choice within the budget).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReachPlan {
    /// The moment the classes hold for (ms since the epoch).
    pub now: Millis,
    /// The rules of each platform that has an account (a platform missing here is always
    /// free, like the console).
    pub rules: Vec<(Platform, ReachRules)>,
    /// Billed recipients each platform may queue (none where missing).
    pub billed_allowed: Vec<(Platform, i64)>,
    /// What the leader chose to spend; stored with the broadcast when it is queued.
    pub spend: crate::reach::Spend,
}

/// The reason stored on the outbox row of a recipient skipped when queued because the
/// platform's window is closed (the same words the senders use).
pub const SKIP_WINDOW: &str = "outside messaging window";
/// The reason stored on the outbox row of a recipient skipped when queued because reaching
/// them would cost money the leader did not choose to spend (or the budget cannot pay).
pub const SKIP_BILLED: &str = "billed: not chosen or over budget";

impl ReachPlan {
    /// SQL: the reach class code ([`Class::code`]) of the person row `a` (numbers and
    /// platform names come from the settings and the enum, never from users).
    fn class_sql(&self, a: &str) -> String {
        let mut sql = format!(
            "CASE WHEN {a}.opted_out <> 0 THEN {} WHEN {a}.unreachable <> 0 THEN {}",
            Class::Unreachable(crate::reach::Unreachable::OptedOut).code(),
            Class::Unreachable(crate::reach::Unreachable::Blocked).code()
        );
        for (platform, rules) in &self.rules {
            let Some(free) = rules.free_ms else { continue };
            let since = format!("({} - {a}.last_inbound_at)", self.now);
            let billed = match rules.billed_until_ms {
                Some(until) if rules.monthly_budget > 0 && rules.price > 0 => {
                    format!(" WHEN {since} <= {until} THEN {}", Class::Billed.code())
                }
                _ => String::new(),
            };
            sql.push_str(&format!(
                " WHEN {a}.platform = '{}' THEN CASE WHEN {since} <= {free} THEN {}{billed} ELSE {} END",
                platform.as_str(),
                Class::Free.code(),
                Class::Unreachable(crate::reach::Unreachable::WindowClosed).code()
            ));
        }
        sql.push_str(&format!(" ELSE {} END", Class::Free.code()));
        sql
    }

    /// SQL: the price of one billed message to the row `c` (by its platform).
    fn price_sql(&self, c: &str) -> String {
        let mut sql = String::from("CASE");
        for (platform, rules) in &self.rules {
            sql.push_str(&format!(
                " WHEN {c}.platform = '{}' THEN {}",
                platform.as_str(),
                rules.price.max(0)
            ));
        }
        sql.push_str(" ELSE 0 END");
        if sql == "CASE ELSE 0 END" {
            return "0".into();
        }
        sql
    }

    /// SQL: whether the chosen row `c` is queued (free, or billed within the allowance).
    fn queued_sql(&self, c: &str) -> String {
        let mut allowed = String::from("CASE");
        for (platform, n) in &self.billed_allowed {
            allowed.push_str(&format!(
                " WHEN {c}.platform = '{}' THEN {}",
                platform.as_str(),
                (*n).max(0)
            ));
        }
        allowed.push_str(" ELSE 0 END");
        if self.billed_allowed.is_empty() {
            allowed = "0".into();
        }
        format!(
            "({c}.cls = {} OR ({c}.cls = {} AND {c}.bn <= {allowed}))",
            Class::Free.code(),
            Class::Billed.code()
        )
    }

    /// SQL: `WITH ... chosen AS (...)`: one row per person of the audience of the subtree
    /// whose path is `$1`: the person to reach them as (`id`, `platform`, `account`, `chat_id`), its
    /// class `cls` and its rank `bn` among the chosen of its platform and class (the most
    /// recently active first, so a budget pays for those likeliest to read).
    fn chosen_sql(&self, audience: Audience) -> String {
        let unconfirmed = match audience {
            Audience::Everyone => "",
            Audience::Unconfirmed => " AND p.confirmed_at IS NULL",
        };
        let class = self.class_sql("a");
        let price = self.price_sql("c");
        format!(
            "WITH g AS (SELECT p.id FROM people p WHERE p.linked_to IS NULL              AND p.unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($1)) = $1){unconfirmed}),              c AS (SELECT a.id, a.platform, a.account, a.chat_id, a.last_inbound_at, a.id AS grp, {class} AS cls              FROM people a JOIN g ON a.id = g.id WHERE a.started = 1              UNION ALL SELECT a.id, a.platform, a.account, a.chat_id, a.last_inbound_at, a.linked_to AS grp, {class} AS cls              FROM people a JOIN g ON a.linked_to = g.id WHERE a.started = 1),              r AS (SELECT c.id, c.platform, c.account, c.chat_id, c.last_inbound_at, c.cls, {price} AS price,              ROW_NUMBER() OVER (PARTITION BY c.grp ORDER BY c.cls, {price},              CASE WHEN c.id = c.grp THEN 0 ELSE 1 END, c.id) AS rn FROM c),              chosen AS (SELECT r.id, r.platform, r.account, r.chat_id, r.cls, r.price,              ROW_NUMBER() OVER (PARTITION BY r.platform, r.cls ORDER BY r.last_inbound_at DESC, r.id) AS bn              FROM r WHERE r.rn = 1) "
        )
    }
}

/// The linked groups in the subtree whose path is `$1`.
const GROUPS_WHERE: &str =
    "g.unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($1)) = $1)";

/// What stopping a running broadcast did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Recipients still waiting in the queue: dropped now.
    pub dropped: i64,
    /// Recipients a sender had already taken (waiting for their slot, or in flight). Those
    /// not yet on their way are cancelled by the sender; a few in flight may still arrive.
    pub held: i64,
    /// Recipients who had got it when it was stopped.
    pub sent: i64,
}

impl Stopped {
    /// Recipients who had not got it when it was stopped (and, but for those already on
    /// their way, will not).
    pub fn not_sent(&self) -> i64 {
        self.dropped + self.held
    }
}

/// Outcome of confirming a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued now, to this many recipients.
    Now(i64),
    /// It had been queued (or discarded) before: nothing was done.
    Already,
}

impl Store {
    /// The path prefix pattern of a unit's subtree, if the unit exists.
    async fn subtree_pattern(&self, unit_code: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT path FROM units WHERE code = $1")
            .bind(unit_code)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(p,)| p))
    }

    /// How many people a broadcast to `unit_code`'s subtree would queue: each person once
    /// (one account of those linked with `/link`), leaving out those who blocked the bot,
    /// left or opted out on every account.
    pub async fn audience_count(&self, unit_code: &UnitCode, audience: Audience) -> Result<i64> {
        let Some(pattern) = self.subtree_pattern(unit_code.as_str()).await? else {
            return Ok(0);
        };
        let plan = ReachPlan::default();
        let sql = format!(
            "{} SELECT COUNT(*) FROM chosen WHERE cls < {}",
            plan.chosen_sql(audience),
            Class::Unreachable(crate::reach::Unreachable::Blocked).code()
        );
        let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(pattern)
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// How the people of a broadcast to `unit_code`'s subtree can be reached now under
    /// `plan`, per platform (each person once, on the account that reaches them cheapest).
    pub async fn audience_reach(
        &self,
        unit_code: &UnitCode,
        audience: Audience,
        plan: &ReachPlan,
    ) -> Result<Vec<(Platform, Classes)>> {
        let Some(pattern) = self.subtree_pattern(unit_code.as_str()).await? else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "{} SELECT platform, cls, COUNT(*) FROM chosen GROUP BY platform, cls ORDER BY platform, cls",
            plan.chosen_sql(audience)
        );
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(pattern)
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<(Platform, Classes)> = Vec::new();
        for (platform, cls, n) in rows {
            let platform = Platform::parse(&platform).ok_or_else(|| {
                anyhow::anyhow!("a person in the database has platform {platform:?}")
            })?;
            let class = Class::from_code(cls)
                .ok_or_else(|| anyhow::anyhow!("reach class {cls} out of range"))?;
            match out.iter_mut().find(|(p, _)| *p == platform) {
                Some((_, c)) => c.add(class, n),
                None => {
                    let mut c = Classes::default();
                    c.add(class, n);
                    out.push((platform, c));
                }
            }
        }
        Ok(out)
    }

    /// How many people and linked groups in a broadcast to everyone in `unit_code`'s subtree
    /// are on a platform other than `platform`, or with another account than `account` when
    /// given (they cannot get a picture kept there).
    pub async fn audience_elsewhere(
        &self,
        unit_code: &UnitCode,
        platform: Platform,
        account: Option<&str>,
    ) -> Result<i64> {
        let Some(pattern) = self.subtree_pattern(unit_code.as_str()).await? else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM people p WHERE {} \
             AND (p.platform <> $2 OR ($3 <> '' AND p.account <> $3))) + \
             (SELECT COUNT(*) FROM member_groups g WHERE {GROUPS_WHERE} \
             AND (g.platform <> $2 OR ($3 <> '' AND g.account <> $3)))",
            audience_where(Audience::Everyone)
        );
        let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(pattern)
            .bind(platform.as_str())
            // Without an account, every account of the platform can show it.
            .bind(account.map(str::to_string).unwrap_or_default())
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// How many linked groups (coverage's `/linkgroup`) in `unit_code`'s subtree a broadcast
    /// to everyone also reaches.
    pub async fn audience_groups(&self, unit_code: &UnitCode) -> Result<i64> {
        let Some(path) = self.subtree_pattern(unit_code.as_str()).await? else {
            return Ok(0);
        };
        let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM member_groups g WHERE {GROUPS_WHERE}"
        )))
        .bind(path)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Stores a draft for the author to preview; its id.
    pub async fn create_broadcast_draft(
        &self,
        author_id: PersonId,
        author: &str,
        unit_code: &UnitCode,
        text: &str,
        payload: &str,
    ) -> Result<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO broadcasts (author_id, author, unit_code, text, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(author_id)
        .bind(author)
        .bind(unit_code.as_str())
        .bind(text)
        .bind(payload)
        .bind(self.now())
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// A broadcast by id.
    pub async fn broadcast(&self, id: i64) -> Result<Option<Broadcast>> {
        let sql = format!("SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = $1");
        Ok(sqlx::query_as::<_, Broadcast>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Chooses the audience of a draft. False when it is no longer a draft of this author.
    pub async fn set_broadcast_audience(
        &self,
        id: i64,
        author_id: PersonId,
        audience: Audience,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE broadcasts SET audience = $1 WHERE id = $2 AND author_id = $3 AND status = 'draft'",
        )
        .bind(audience.as_str())
        .bind(id)
        .bind(author_id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Discards a draft. False when it is no longer a draft of this author.
    pub async fn discard_broadcast(&self, id: i64, author_id: PersonId) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE broadcasts SET status = 'discarded', finished_at = $1 \
             WHERE id = $2 AND author_id = $3 AND status = 'draft'",
        )
        .bind(self.now())
        .bind(id)
        .bind(author_id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues a draft: every recipient in one `INSERT ... SELECT`, and the author's progress
    /// message, in one transaction. The draft's status is the idempotency key: a second
    /// confirmation (a double tap, a retried webhook, another replica) finds it queued already
    /// and does nothing.
    pub async fn queue_broadcast(
        &self,
        id: i64,
        author_id: PersonId,
        progress_to: &ChatAddress,
        progress: crate::platform::Outgoing,
    ) -> Result<Queued> {
        let plan = ReachPlan {
            now: self.now(),
            ..ReachPlan::default()
        };
        self.queue_broadcast_planned(id, author_id, progress_to, progress, &plan)
            .await
    }

    /// [`Store::queue_broadcast`] under `plan`: each person of the audience once, on the
    /// cheapest account that reaches them now; free recipients and the billed ones the plan
    /// allows are queued, the others of the audience are recorded as skipped (with the
    /// reason) so the summary reports the classes the preview showed; those who blocked the
    /// bot, left or opted out are counted as excluded.
    pub async fn queue_broadcast_planned(
        &self,
        id: i64,
        author_id: PersonId,
        progress_to: &ChatAddress,
        progress: crate::platform::Outgoing,
        plan: &ReachPlan,
    ) -> Result<Queued> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "UPDATE broadcasts SET status = 'running', queued_at = $1, spend = $4 \
             WHERE id = $2 AND author_id = $3 AND status = 'draft'",
        )
        .bind(now)
        .bind(id)
        .bind(author_id)
        .bind(plan.spend.as_str())
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Queued::Already);
        }
        let (unit_code, audience): (String, String) =
            sqlx::query_as("SELECT unit_code, audience FROM broadcasts WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let audience = Audience::parse(&audience).unwrap_or(Audience::Everyone);
        let path: Option<(String,)> = sqlx::query_as("SELECT path FROM units WHERE code = $1")
            .bind(&unit_code)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((path,)) = path else {
            tx.rollback().await?;
            return Ok(Queued::Already);
        };
        let pattern = path;
        let chosen = plan.chosen_sql(audience);
        let queued = plan.queued_sql("chosen");
        let sql = format!(
            "INSERT INTO outbox (platform, account, chat_id, is_group, person_id, broadcast_id, priority, \
             payload, status, next_attempt_at, created_at) \
             {chosen} SELECT chosen.platform, chosen.account, chosen.chat_id, 0, chosen.id, $2, $3, NULL, \
             'queued', $4, $4 \
             FROM chosen WHERE {queued} ORDER BY chosen.id"
        );
        let mut inserted = sqlx::query(AssertSqlSafe(sql))
            .bind(pattern.clone())
            .bind(id)
            .bind(Priority::Broadcast as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        // The rest of the audience that a platform lets nobody reach for free now: skipped
        // rows with the reason, settled at once.
        let sql = format!(
            "INSERT INTO outbox (platform, account, chat_id, is_group, person_id, broadcast_id, priority, \
             payload, status, next_attempt_at, created_at, last_error) \
             {chosen} SELECT chosen.platform, chosen.account, chosen.chat_id, 0, chosen.id, $2, $3, NULL, \
             'skipped', $4, $4, \
             CASE WHEN chosen.cls = {billed} THEN $5 ELSE $6 END \
             FROM chosen WHERE chosen.cls <= {closed} AND NOT {queued} ORDER BY chosen.id",
            billed = Class::Billed.code(),
            closed = Class::Unreachable(crate::reach::Unreachable::WindowClosed).code(),
        );
        let skipped = sqlx::query(AssertSqlSafe(sql))
            .bind(pattern.clone())
            .bind(id)
            .bind(Priority::Broadcast as i64)
            .bind(now)
            .bind(SKIP_BILLED)
            .bind(SKIP_WINDOW)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        inserted += skipped;
        let sql = format!(
            "{chosen} SELECT \
             COALESCE(SUM(CASE WHEN chosen.cls = {billed} AND {queued} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN chosen.cls = {billed} AND {queued} THEN chosen.price ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN chosen.cls > {closed} THEN 1 ELSE 0 END), 0) FROM chosen",
            billed = Class::Billed.code(),
            closed = Class::Unreachable(crate::reach::Unreachable::WindowClosed).code(),
        );
        let (billed, billed_cost, excluded): (i64, i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(pattern.clone())
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE broadcasts SET skipped = skipped + $1, billed = $2, billed_cost = $3, excluded = $4 \
             WHERE id = $5",
        )
        .bind(skipped)
        .bind(billed)
        .bind(billed_cost)
        .bind(excluded)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if audience == Audience::Everyone {
            let sql = format!(
                "INSERT INTO outbox (platform, account, chat_id, is_group, person_id, broadcast_id, \
                 priority, payload, status, next_attempt_at, created_at) \
                 SELECT g.platform, g.account, g.chat_id, 1, NULL, $2, $3, NULL, 'queued', $4, $4 \
                 FROM member_groups g \
                 WHERE {GROUPS_WHERE} ORDER BY g.chat_id"
            );
            inserted += sqlx::query(AssertSqlSafe(sql))
                .bind(pattern)
                .bind(id)
                .bind(Priority::Broadcast as i64)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        let ids = Store::enqueue_in(
            &mut tx,
            now,
            &[NewOutboxItem {
                to: progress_to.clone(),
                person_id: Some(author_id),
                broadcast_id: None,
                priority: Priority::Reply,
                message: progress,
                dedupe_key: Some(format!("bc:{id}:progress")),
            }],
        )
        .await?;
        sqlx::query(
            "UPDATE broadcasts SET total = $1, progress_outbox_id = $2, last_progress_at = $3 WHERE id = $4",
        )
        .bind(inserted)
        .bind(ids.first().copied())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Queued::Now(inserted))
    }

    /// Cancels a running broadcast: what is still queued is not sent, and what a sender holds
    /// is cancelled by that sender. What it did, or `None` when it was not running.
    pub async fn cancel_broadcast(&self, id: i64) -> Result<Option<Stopped>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE broadcasts SET status = 'cancelling' WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let dropped = sqlx::query(
            "UPDATE outbox SET status = 'cancelled', last_error = 'cancelled' \
             WHERE broadcast_id = $1 AND status = 'queued'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        // It stays `cancelling` until the rows in flight are settled; then the progress task
        // sends the last figures and marks it `cancelled`.
        sqlx::query(
            "UPDATE broadcasts SET cancelled = cancelled + $1, finished_at = $2 WHERE id = $3",
        )
        .bind(dropped)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // Rows a sender claimed and has not settled yet: it cancels them when it gets to them
        // (it reads the broadcast's status before each send).
        let (held,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE broadcast_id = $1 AND status = 'sending'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let (sent,): (i64,) = sqlx::query_as("SELECT sent FROM broadcasts WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Stopped {
            dropped,
            held,
            sent,
        }))
    }

    /// Broadcasts still sending (or cancelled with rows in flight), for the progress task.
    pub async fn running_broadcasts(&self) -> Result<Vec<Broadcast>> {
        let sql = format!(
            "SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE status IN ('running', 'cancelling') \
             ORDER BY id"
        );
        Ok(sqlx::query_as::<_, Broadcast>(AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?)
    }

    /// The latest broadcasts an author may see: their own, or every one for `None`.
    pub async fn recent_broadcasts(
        &self,
        author_id: Option<PersonId>,
        limit: i64,
    ) -> Result<Vec<Broadcast>> {
        let filter = if author_id.is_some() {
            "author_id = $1 AND"
        } else {
            "$1 = $1 AND"
        };
        let sql = format!(
            "SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE {filter} status <> 'draft' \
             AND status <> 'discarded' ORDER BY id DESC LIMIT $2"
        );
        Ok(sqlx::query_as::<_, Broadcast>(AssertSqlSafe(sql))
            .bind(author_id.unwrap_or(0))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Records that the progress message showed `done` at `at`.
    pub async fn set_broadcast_progress(&self, id: i64, at: Millis, done: i64) -> Result<()> {
        sqlx::query(
            "UPDATE broadcasts SET last_progress_at = $1, last_progress_done = $2 WHERE id = $3",
        )
        .bind(at)
        .bind(done)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks a running broadcast done (a stopped one cancelled). False when another task did
    /// it first.
    pub async fn finish_broadcast(&self, id: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE broadcasts SET status = CASE WHEN status = 'cancelling' THEN 'cancelled' ELSE 'done' END, \
             finished_at = $1 WHERE id = $2 AND status IN ('running', 'cancelling')",
        )
        .bind(self.now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Failed recipients of a broadcast by reason (unreachable ones included), most first.
    pub async fn broadcast_failures(&self, id: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(last_error, ''), COUNT(*) FROM outbox WHERE broadcast_id = $1 \
             AND (status = 'failed' OR status = 'skipped') GROUP BY last_error ORDER BY COUNT(*) DESC",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The status of an outbox row and the platform message id it got when it went out
    /// (`None` when the row is gone).
    pub async fn outbox_row_state(&self, id: i64) -> Result<Option<(String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT status, message_id FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The platform message id of a sent outbox row (to edit it later).
    pub async fn outbox_message_id(&self, id: i64) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT message_id FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.and_then(|(m,)| m))
    }

    /// A broadcast's status (draft, running, cancelled, done, ...).
    pub async fn broadcast_status(&self, id: i64) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT status FROM broadcasts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(s,)| s))
    }

    /// The message every recipient of a broadcast gets (outbox JSON).
    pub async fn broadcast_payload(&self, id: i64) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT payload FROM broadcasts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|(p,)| p))
    }

    /// How many outbox rows of a broadcast are in each status (tests and benchmarks).
    pub async fn broadcast_row_statuses(&self, id: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM outbox WHERE broadcast_id = $1 GROUP BY status ORDER BY status",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }
}
