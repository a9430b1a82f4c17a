//! Member groups: a group chat linked to a unit, and who joined through its button.

use anyhow::{Context, Result};

use super::Store;
use super::people::unit_code;
use crate::domain::{PersonId, Platform, UnitCode};

/// A linked group.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberGroup {
    /// The platform's chat id.
    pub chat_id: String,
    /// The unit its members join.
    pub unit_code: UnitCode,
    /// The group's title when linked.
    pub title: String,
    /// The leader who linked it.
    pub linked_by: i64,
    /// How many people joined through its button.
    pub joined: i64,
}

/// chat_id, unit_code, title, linked_by, joined, as stored.
type GroupRow = (String, String, String, i64, i64);

impl Store {
    /// Links (or re-links) a group to a unit; broadcasts reach it through account `account`
    /// (a [`Platform`] names its single account).
    pub async fn link_group(
        &self,
        platform: Platform,
        account: impl AsRef<str>,
        chat_id: &str,
        unit_code: &UnitCode,
        title: &str,
        by: PersonId,
    ) -> Result<()> {
        let title: String = title.chars().take(128).collect();
        sqlx::query(
            "INSERT INTO member_groups (platform, chat_id, unit_code, title, linked_by, linked_at, account) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (platform, chat_id) DO UPDATE SET \
             unit_code = excluded.unit_code, title = excluded.title, linked_by = excluded.linked_by, \
             linked_at = excluded.linked_at, account = excluded.account",
        )
        .bind(platform.as_str())
        .bind(chat_id)
        .bind(unit_code.as_str())
        .bind(title)
        .bind(by)
        .bind(self.now())
        .bind(account.as_ref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The group linked at this chat, if any.
    pub async fn member_group(
        &self,
        platform: Platform,
        chat_id: &str,
    ) -> Result<Option<MemberGroup>> {
        let row: Option<GroupRow> = sqlx::query_as(
            "SELECT chat_id, unit_code, title, linked_by, joined FROM member_groups \
             WHERE platform = $1 AND chat_id = $2",
        )
        .bind(platform.as_str())
        .bind(chat_id)
        .fetch_optional(self.pool())
        .await?;
        let Some((chat_id, code, title, linked_by, joined)) = row else {
            return Ok(None);
        };
        Ok(Some(MemberGroup {
            unit_code: unit_code(&code)
                .with_context(|| format!("group {chat_id} in the database is damaged"))?,
            chat_id,
            title,
            linked_by,
            joined,
        }))
    }

    /// Unlinks a group (unlink command, or the bot removed). Whether it was linked.
    pub async fn unlink_group(&self, platform: Platform, chat_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM member_groups WHERE platform = $1 AND chat_id = $2")
            .bind(platform.as_str())
            .bind(chat_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// A group became a supergroup with a new chat id: its link and joins move with it.
    pub async fn migrate_group(&self, platform: Platform, from: &str, to: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE member_groups SET chat_id = $1 WHERE platform = $2 AND chat_id = $3 \
             AND NOT EXISTS (SELECT 1 FROM member_groups g WHERE g.platform = $2 AND g.chat_id = $1)",
        )
        .bind(to)
        .bind(platform.as_str())
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE group_joins SET chat_id = $1 WHERE platform = $2 AND chat_id = $3 \
             AND NOT EXISTS (SELECT 1 FROM group_joins j WHERE j.platform = $2 AND j.chat_id = $1 \
             AND j.person_id = group_joins.person_id)",
        )
        .bind(to)
        .bind(platform.as_str())
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records that `person` pressed the group's button. False when they had pressed it before.
    pub async fn record_group_join(
        &self,
        platform: Platform,
        chat_id: &str,
        person: PersonId,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "INSERT INTO group_joins (platform, chat_id, person_id, joined_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (platform, chat_id, person_id) DO NOTHING",
        )
        .bind(platform.as_str())
        .bind(chat_id)
        .bind(person)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let new = r.rows_affected() == 1;
        if new {
            sqlx::query(
                "UPDATE member_groups SET joined = joined + 1 WHERE platform = $1 AND chat_id = $2",
            )
            .bind(platform.as_str())
            .bind(chat_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }
}
