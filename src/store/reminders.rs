//! Reminders and digests: who is due a reminder (queued straight from `people` with one
//! `INSERT ... SELECT` per language and step), and the figures of a leader's daily digest.

use anyhow::Result;
use sqlx::AssertSqlSafe;

use super::Store;
use crate::clock::Millis;
use crate::domain::{Locale, PersonId, UnitCode};
use crate::store::Priority;

/// Who may get reminder number `$1` (0-based): started, not confirmed, not stopped, reachable,
/// not a linked second account, quiet since `$2`, and not reminded that far yet. Steps are
/// queued from the last to the first, so someone quiet for long gets one reminder (the latest
/// step due), not all of them at once.
const DUE: &str = "started = 1 AND confirmed_at IS NULL AND opted_out = 0 AND unreachable = 0 \
     AND linked_to IS NULL AND reminders_sent <= $1 AND last_activity_at <= $2";

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

    /// Queues reminder number `step` (0-based) to everyone quiet since `quiet_since`, with
    /// the message rendered for each language, and counts it on the people, in one
    /// transaction. Returns how many were queued.
    pub async fn queue_reminders(
        &self,
        step: i64,
        quiet_since: Millis,
        messages: &[(Locale, String)],
    ) -> Result<i64> {
        let now = self.now();
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
                "INSERT INTO outbox (platform, chat_id, is_group, person_id, broadcast_id, priority, payload, \
                 status, next_attempt_at, dedupe_key, created_at) \
                 SELECT platform, chat_id, 0, id, NULL, $3, $4, 'queued', $5, \
                 'rem:' || CAST(id AS TEXT) || ':' || CAST(last_activity_at AS TEXT) || ':' || CAST($1 AS TEXT), $5 \
                 FROM people WHERE {DUE} AND {locale_filter} \
                 ON CONFLICT (dedupe_key) DO NOTHING"
            );
            queued += sqlx::query(AssertSqlSafe(sql))
                .bind(step)
                .bind(quiet_since)
                .bind(Priority::Background as i64)
                .bind(payload.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        let sql = format!("UPDATE people SET reminders_sent = $1 + 1 WHERE {DUE}");
        sqlx::query(AssertSqlSafe(sql))
            .bind(step)
            .bind(quiet_since)
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
