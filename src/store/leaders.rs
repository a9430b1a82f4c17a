//! Leaders and one-time leader invitations.

use anyhow::Result;
use rand::Rng;

use super::Store;
use super::people::unit_code;
use super::units::path_codes;
use crate::domain::{PersonId, UnitCode};

/// Why an invitation could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteError {
    /// No such token.
    Unknown,
    /// Past its expiry time.
    Expired,
    /// Already used.
    Used,
}

/// An unguessable token: 32 characters from A-Z a-z 0-9 (about 190 bits).
fn new_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

impl Store {
    /// Creates a one-time leader invitation for `unit_code`, valid for `ttl_days`.
    pub async fn create_invitation(
        &self,
        unit_code: &UnitCode,
        created_by: &str,
        ttl_days: i64,
    ) -> Result<String> {
        let token = new_token();
        let now = self.now();
        sqlx::query(
            "INSERT INTO invitations (token, unit_code, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.clone())
        .bind(unit_code.as_str())
        .bind(created_by)
        .bind(now)
        .bind(now + ttl_days * 86_400_000)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// Uses an invitation: makes the person a leader of its unit. Works once, before expiry.
    pub async fn redeem_invitation(
        &self,
        token: &str,
        person: PersonId,
    ) -> Result<Result<UnitCode, InviteError>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row: Option<(String, i64, Option<i64>, String)> = sqlx::query_as(
            "SELECT unit_code, expires_at, used_by, created_by FROM invitations WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((unit, expires_at, used_by, created_by)) = row else {
            return Ok(Err(InviteError::Unknown));
        };
        let unit = unit_code(&unit)?;
        if used_by.is_some() {
            return Ok(Err(InviteError::Used));
        }
        if expires_at <= now {
            return Ok(Err(InviteError::Expired));
        }
        let r = sqlx::query(
            "UPDATE invitations SET used_by = $1, used_at = $2 WHERE token = $3 AND used_by IS NULL",
        )
        .bind(person)
        .bind(now)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(Err(InviteError::Used));
        }
        sqlx::query(
            "INSERT INTO leaders (person_id, unit_code, granted_by, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id, unit_code) DO NOTHING",
        )
        .bind(person)
        .bind(unit.to_string())
        .bind(created_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(unit))
    }

    /// The units a person leads (each with its whole subtree).
    pub async fn led_units(&self, person: PersonId) -> Result<Vec<UnitCode>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT unit_code FROM leaders WHERE person_id = $1 ORDER BY unit_code")
                .bind(person)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(|(c,)| unit_code(c)).collect()
    }

    /// Whether the person leads `unit_code` or a unit above it.
    pub async fn leads(&self, person: PersonId, unit_code: &UnitCode) -> Result<bool> {
        let led = self.led_units(person).await?;
        if led.is_empty() {
            return Ok(false);
        }
        let Some(unit) = self.unit(unit_code).await? else {
            return Ok(false);
        };
        let ancestors = path_codes(&unit.path);
        Ok(led.iter().any(|l| ancestors.contains(&l.as_str())))
    }
}
