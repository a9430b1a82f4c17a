//! What the Zalo and Messenger adapters keep between runs: rotating OAuth tokens, the time a
//! chat last wrote (platform messaging windows) and the outbox depth for `/metrics`.

use anyhow::Result;
use sqlx::FromRow;

use super::Store;
use crate::clock::Millis;

/// A stored OAuth token pair.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct TokenRow {
    /// The access token, once one was obtained.
    pub access_token: Option<String>,
    /// When the access token expires (ms).
    pub access_expires_at: i64,
    /// The refresh token to spend next.
    pub refresh_token: String,
    /// The refresh token spent to get the current pair.
    pub previous_refresh_token: Option<String>,
    /// The refresh token last imported from the environment.
    pub seed_refresh_token: Option<String>,
}

const TOKEN_COLUMNS: &str =
    "access_token, access_expires_at, refresh_token, previous_refresh_token, seed_refresh_token";

impl Store {
    /// Imports the operator's refresh token `seed` for `name` when the database has none, or
    /// when `seed` differs from the one imported last time (the operator re-authorised).
    /// Otherwise the stored, already rotated tokens win: the environment's token was spent
    /// long ago. Returns the stored row.
    pub async fn token_seed(&self, name: &str, seed: &str) -> Result<TokenRow> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO platform_tokens (name, refresh_token, seed_refresh_token, updated_at) \
             VALUES ($1, $2, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(seed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE platform_tokens SET refresh_token = $1, seed_refresh_token = $1, access_token = NULL, \
             access_expires_at = 0, refreshing_until = 0, updated_at = $2 \
             WHERE name = $3 AND (seed_refresh_token IS NULL OR seed_refresh_token <> $1)",
        )
        .bind(seed)
        .bind(now)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.token(name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("token row {name} vanished"))
    }

    /// The stored tokens for `name`.
    pub async fn token(&self, name: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM platform_tokens WHERE name = $1");
        Ok(sqlx::query_as::<_, TokenRow>(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Takes the refresh lease for `name` until `until`, only if `refresh_token` is still the
    /// stored one (a pair rotated since it was read must be read again, not spent again);
    /// false when another process holds the lease or the pair changed.
    pub async fn token_lease(
        &self,
        name: &str,
        until: Millis,
        refresh_token: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE platform_tokens SET refreshing_until = $1 \
             WHERE name = $2 AND refreshing_until <= $3 AND refresh_token = $4",
        )
        .bind(until)
        .bind(name)
        .bind(self.now())
        .bind(refresh_token)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives the refresh lease back without a new pair (the refresh failed).
    pub async fn token_release(&self, name: &str) -> Result<()> {
        sqlx::query("UPDATE platform_tokens SET refreshing_until = 0 WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Saves a freshly issued pair in one statement, only if `spent` is still the stored
    /// refresh token (compare-and-swap: a stale process cannot overwrite a newer pair).
    pub async fn token_rotate(
        &self,
        name: &str,
        spent: &str,
        access: &str,
        expires_at: Millis,
        refresh: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE platform_tokens SET access_token = $1, access_expires_at = $2, refresh_token = $3, \
             previous_refresh_token = $4, refreshing_until = 0, updated_at = $5 \
             WHERE name = $6 AND refresh_token = $4",
        )
        .bind(access)
        .bind(expires_at)
        .bind(refresh)
        .bind(spent)
        .bind(self.now())
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Marks the access token for `name` as no longer working (the platform refused it), so
    /// the next send refreshes first.
    pub async fn token_expire_access(&self, name: &str, access: &str) -> Result<()> {
        sqlx::query(
            "UPDATE platform_tokens SET access_expires_at = 0 WHERE name = $1 AND access_token = $2",
        )
        .bind(name)
        .bind(access)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// When the person behind a private chat of account `account` last wrote to it, if the
    /// chat is known.
    pub async fn last_inbound_by_chat(
        &self,
        account: impl AsRef<str>,
        chat_id: &str,
    ) -> Result<Option<Millis>> {
        let account = account.as_ref();
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT last_inbound_at FROM people WHERE account = $1 AND chat_id = $2 \
             ORDER BY last_inbound_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(chat_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(t,)| t))
    }

    /// Forgets webhook event claims under `prefix` (values are claim times in ms) older than
    /// `before`: platforms stop retrying after hours, so the claims need not live forever.
    pub async fn purge_event_claims(&self, prefix: &str, before: Millis) -> Result<u64> {
        let r = sqlx::query(
            // CASE keeps the cast away from other keys' values (SQL does not promise to test
            // the LIKE first).
            "DELETE FROM kv WHERE key LIKE $1 \
             AND (CASE WHEN key LIKE $1 THEN CAST(value AS BIGINT) ELSE NULL END) < $2",
        )
        .bind(format!("{prefix}.%"))
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Outbox rows waiting or being sent, per platform and status (through the index of
    /// unfinished rows, `outbox_chat_order`: its condition is written the same way here).
    pub async fn outbox_depth(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT platform, status, CAST(COUNT(*) AS BIGINT) FROM outbox \
             WHERE status IN ('queued', 'sending') GROUP BY platform, status ORDER BY platform, status",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
