//! Small facts kept between runs.

use anyhow::Result;

use super::Store;

impl Store {
    /// Reads a value.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>> {
        let v: Option<(String,)> = sqlx::query_as("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(v.map(|(v,)| v))
    }

    /// Writes a value only when the key is new; whether it was (claims a key atomically).
    pub async fn kv_insert_new(&self, key: &str, value: &str) -> Result<bool> {
        let r =
            sqlx::query("INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key)
                .bind(value)
                .execute(self.pool())
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces `key`'s value only while it is still `old`; whether it was (takes over a
    /// claim atomically).
    pub async fn kv_replace(&self, key: &str, old: &str, new: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE kv SET value = $1 WHERE key = $2 AND value = $3")
            .bind(new)
            .bind(key)
            .bind(old)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets a key.
    pub async fn kv_delete(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM kv WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Writes a value.
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO kv (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
