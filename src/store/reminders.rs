//! Reminders and digests: whose next reminder is to be planned, the plans (stored on
//! `people`), the due reminders (queued straight from `people` with one `INSERT ... SELECT`
//! per language), and the figures of a leader's daily digest.

use anyhow::{Context, Result};
use sqlx::AssertSqlSafe;

use super::Store;
use crate::clock::Millis;
use crate::domain::{Locale, PersonId, Platform, UnitCode};
use crate::store::Priority;

/// Who may be reminded at all: started, not confirmed, not stopped, reachable, not a linked
/// second account.
const CANDIDATE: &str = "started = 1 AND confirmed_at IS NULL AND opted_out = 0 AND unreachable = 0 \
     AND linked_to IS NULL";

/// A person whose next reminder is to be planned, as the planner needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderCandidate {
    /// Who.
    pub id: PersonId,
    /// Their platform, whose reach rules and reminder offsets apply.
    pub platform: Platform,
    /// Reminder steps passed since their last activity.
    pub reminders_sent: i64,
    /// Their last activity: the offsets count from here.
    pub last_activity_at: Millis,
    /// Their last message: the free window counts from here.
    pub last_inbound_at: Millis,
    /// When the last reminder was queued, if ever.
    pub reminded_at: Option<Millis>,
    /// Whether they may be reminded at all (started, not confirmed, not stopped, reachable,
    /// not a linked second account); nothing is planned for the others.
    pub wanted: bool,
}

/// The plan of one person's next reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPlan {
    /// Who.
    pub id: PersonId,
    /// The activity it was planned from: a plan for an older activity is not written.
    pub last_activity_at: Millis,
    /// The steps passed when it was planned, and whether they could be reminded then: a
    /// plan made from a row that changed meanwhile (a reminder, a restart of the count, a
    /// confirmation, a first message) is not written either.
    pub planned_from: (i64, bool),
    /// The step it is (0-based; earlier steps that are passed are counted as sent).
    pub step: i64,
    /// When it is due ([`NEVER`](crate::reminders::NEVER): nothing left).
    pub due: Millis,
    /// The last moment it may still be queued.
    pub until: Millis,
}

impl Store {
    /// Whether a queued reminder should still go to this person.
    pub async fn reminder_still_wanted(&self, person: PersonId) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT COUNT(*) FROM people WHERE id = $1 AND confirmed_at IS NULL AND opted_out = 0 \
             AND unreachable = 0",
        )
        .bind(person)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some_and(|(n,)| n > 0))
    }

    /// Up to `limit` people whose next reminder is not planned yet (or whose plan ran out at
    /// `now` without being queued). Those who may not be reminded at all come too, with
    /// `wanted` false, so they are marked as having nothing planned and not read again
    /// (both lookups go through an index; nobody is scanned twice).
    pub async fn reminders_to_plan(
        &self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<ReminderCandidate>> {
        let sql = format!(
            "SELECT id, platform, reminders_sent, last_activity_at, last_inbound_at, reminded_at, \
             CAST(CASE WHEN {CANDIDATE} THEN 1 ELSE 0 END AS BIGINT) \
             FROM people WHERE id IN (SELECT id FROM people WHERE reminder_due_at IS NULL \
             UNION SELECT id FROM people WHERE reminder_until <= $1) \
             ORDER BY id LIMIT $2"
        );
        type Row = (PersonId, String, i64, i64, i64, Option<i64>, i64);
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter()
            .map(
                |(id, platform, sent, activity, inbound, reminded, wanted)| {
                    Ok(ReminderCandidate {
                        id,
                        platform: Platform::parse(&platform).with_context(|| {
                            format!("person {id}: unknown platform {platform:?}")
                        })?,
                        reminders_sent: sent,
                        last_activity_at: activity,
                        last_inbound_at: inbound,
                        reminded_at: reminded,
                        wanted: wanted != 0,
                    })
                },
            )
            .collect()
    }

    /// The planned next reminder of `person`: (due, until), `None` while not planned.
    pub async fn reminder_plan(&self, person: PersonId) -> Result<Option<(Millis, Millis)>> {
        let row: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT reminder_due_at, reminder_until FROM people WHERE id = $1")
                .bind(person)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some((Some(due), Some(until))) => Some((due, until)),
            _ => None,
        })
    }

    /// Writes the plans, in one transaction; a person active since their plan was made
    /// keeps the fresh "not planned" mark instead.
    pub async fn set_reminder_plans(&self, plans: &[ReminderPlan]) -> Result<()> {
        let mut tx = self.begin().await?;
        for p in plans {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE people SET reminders_sent = $1, reminder_due_at = $2, reminder_until = $3 \
                     WHERE id = $4 AND last_activity_at = $5 AND reminders_sent = $6 \
                     AND CAST(CASE WHEN {CANDIDATE} THEN 1 ELSE 0 END AS BIGINT) = $7"
            )))
            .bind(p.step)
            .bind(p.due)
            .bind(p.until)
            .bind(p.id)
            .bind(p.last_activity_at)
            .bind(p.planned_from.0)
            .bind(i64::from(p.planned_from.1))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues every planned reminder that is due now and still inside its window, with the
    /// message rendered for each language, and counts it on the people (whose next one is
    /// then planned afresh), in one transaction. Returns how many were queued.
    pub async fn queue_due_reminders(&self, messages: &[(Locale, String)]) -> Result<i64> {
        let now = self.now();
        let due = format!("{CANDIDATE} AND reminder_due_at <= $1 AND reminder_until > $1");
        let mut tx = self.begin().await?;
        let mut queued = 0;
        for (locale, payload) in messages {
            // Anyone whose locale is not listed gets the first message.
            let locale_filter = if Some(locale) == messages.first().map(|m| &m.0) {
                let others: Vec<String> = messages
                    .iter()
                    .skip(1)
                    .map(|(l, _)| format!("'{}'", l.code()))
                    .collect();
                if others.is_empty() {
                    "1 = 1".to_string()
                } else {
                    format!("locale NOT IN ({})", others.join(", "))
                }
            } else {
                format!("locale = '{}'", locale.code())
            };
            let sql = format!(
                "INSERT INTO outbox (platform, account, chat_id, is_group, person_id, broadcast_id, priority, \
                 payload, status, next_attempt_at, dedupe_key, created_at) \
                 SELECT platform, account, chat_id, 0, id, NULL, $2, $3, 'queued', $1, \
                 'rem:' || CAST(id AS TEXT) || ':' || CAST(last_activity_at AS TEXT) || ':' || CAST(reminders_sent AS TEXT), $1 \
                 FROM people WHERE {due} AND {locale_filter} \
                 ON CONFLICT (dedupe_key) DO NOTHING"
            );
            queued += sqlx::query(AssertSqlSafe(sql))
                .bind(now)
                .bind(Priority::Background as i64)
                .bind(payload.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        let sql = format!(
            "UPDATE people SET reminders_sent = reminders_sent + 1, reminded_at = $1, \
             reminder_due_at = NULL, reminder_until = NULL WHERE {due}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Confirmations since `since` among the members of the subtree whose path is `path`.
    pub async fn confirmations_since(&self, path: &str, since: Millis) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM people WHERE confirmed_at >= $1 AND linked_to IS NULL \
             AND unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($2)) = $2)",
        )
        .bind(since)
        .bind(path)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Every leader: person id and unit code.
    pub async fn all_leaders(&self) -> Result<Vec<(PersonId, UnitCode)>> {
        let rows: Vec<(PersonId, String)> = sqlx::query_as(
            "SELECT person_id, unit_code FROM leaders ORDER BY person_id, unit_code",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, code)| Ok((id, super::people::unit_code(&code)?)))
            .collect()
    }
}
