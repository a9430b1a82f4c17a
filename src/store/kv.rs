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
