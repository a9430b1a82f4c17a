//! Cross-platform identity: one person with accounts on Telegram, Zalo and Messenger. A
//! one-time code is shown on one account (the primary) and typed on another, which becomes
//! linked (`people.linked_to`). A linked account never counts in the unit counters: its member,
//! confirmation and verification move to the primary, so the person counts once everywhere.

use anyhow::Result;
use rand::Rng;

use super::people::set_unit_in;
use super::units::Counters;
use super::{Store, Tx};
use crate::clock::Millis;
use crate::domain::PersonId;

/// What typing a link code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The typing account is now linked to this primary account.
    Linked(PersonId),
    /// The two accounts were linked already.
    AlreadyLinked,
    /// The code is unknown, used or expired.
    Invalid,
    /// The code was typed on the account that made it.
    SameAccount,
}

/// unit_code, confirmed_at, verified_at, linked_to.
type Row = (Option<String>, Option<i64>, Option<i64>, Option<i64>);

async fn read(tx: &mut Tx, id: PersonId) -> Result<Option<Row>> {
    // Lock the row first (a no-op write works on both databases).
    sqlx::query("UPDATE people SET linked_to = linked_to WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(sqlx::query_as(
        "SELECT unit_code, confirmed_at, verified_at, linked_to FROM people WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A code of 6 characters that are hard to confuse when typed.
fn new_code() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

impl Store {
    /// A new one-time link code for `person`, valid for `ttl_ms`. Earlier codes of the same
    /// person stop working.
    pub async fn link_code_create(&self, person: PersonId, ttl_ms: Millis) -> Result<String> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM link_codes WHERE person_id = $1 OR expires_at <= $2")
            .bind(person)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let code = loop {
            let code = new_code();
            let r = sqlx::query(
                "INSERT INTO link_codes (code, person_id, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (code) DO NOTHING",
            )
            .bind(code.clone())
            .bind(person)
            .bind(now + ttl_ms)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                break code;
            }
        };
        tx.commit().await?;
        Ok(code)
    }

    /// Links `person` (who typed `code`) to the account that made the code, moving its
    /// counts to that account in the same transaction. The code is spent.
    pub async fn link_redeem(&self, person: PersonId, code: &str) -> Result<LinkOutcome> {
        let code = code.trim().to_uppercase();
        let mut tx = self.begin().await?;
        let owner: Option<(i64,)> =
            sqlx::query_as("SELECT person_id FROM link_codes WHERE code = $1 AND expires_at > $2")
                .bind(code.clone())
                .bind(self.now())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((owner,)) = owner else {
            return Ok(LinkOutcome::Invalid);
        };
        if owner == person {
            return Ok(LinkOutcome::SameAccount);
        }
        // Spending the code is the claim: of two redeems at once, only one deletes it.
        let spent = sqlx::query("DELETE FROM link_codes WHERE code = $1 AND person_id = $2")
            .bind(code)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        if spent.rows_affected() != 1 {
            return Ok(LinkOutcome::Invalid);
        }
        // The primary is the code owner's own primary when it is linked itself.
        let Some(owner_row) = read(&mut tx, owner).await? else {
            return Ok(LinkOutcome::Invalid);
        };
        let primary = owner_row.3.unwrap_or(owner);
        if primary == person {
            tx.commit().await?;
            return Ok(LinkOutcome::AlreadyLinked);
        }
        let Some(mut b_row) = read(&mut tx, person).await? else {
            return Ok(LinkOutcome::Invalid);
        };
        if b_row.3 == Some(primary) {
            tx.commit().await?;
            return Ok(LinkOutcome::AlreadyLinked);
        }
        // The typing account is linked to another primary already: that whole group joins
        // (its primary, which is the one counted, is what moves), so nobody counts twice.
        let mut person = person;
        if let Some(other) = b_row.3 {
            let Some(row) = read(&mut tx, other).await? else {
                return Ok(LinkOutcome::Invalid);
            };
            person = other;
            b_row = row;
        }
        let (b_unit, b_confirmed, b_verified, b_linked) = b_row;
        let Some((a_unit, a_confirmed, a_verified, _)) = read(&mut tx, primary).await? else {
            return Ok(LinkOutcome::Invalid);
        };
        // 1. The typing account stops counting on its own.
        if b_linked.is_none()
            && let Some(unit) = b_unit.as_deref()
        {
            let minus = Counters {
                members: -1,
                confirmed: -i64::from(b_confirmed.is_some()),
                verified: -i64::from(b_verified.is_some()),
                reported: 0,
            };
            Store::adjust_counters(&mut tx, unit, minus).await?;
        }
        sqlx::query("UPDATE people SET linked_to = $1 WHERE id = $2 OR linked_to = $2")
            .bind(primary)
            .bind(person)
            .execute(&mut *tx)
            .await?;
        // 2. Its confirmation and verification move to the primary (counted once).
        let newly_confirmed = a_confirmed.is_none() && b_confirmed.is_some();
        let newly_verified = a_verified.is_none() && b_verified.is_some();
        sqlx::query(
            "UPDATE people SET confirmed_at = COALESCE(confirmed_at, $1), \
             verified_at = COALESCE(verified_at, $2) WHERE id = $3",
        )
        .bind(b_confirmed)
        .bind(b_verified)
        .bind(primary)
        .execute(&mut *tx)
        .await?;
        match (&a_unit, &b_unit) {
            (Some(unit), _) if newly_confirmed || newly_verified => {
                let plus = Counters {
                    members: 0,
                    confirmed: i64::from(newly_confirmed),
                    verified: i64::from(newly_verified),
                    reported: 0,
                };
                Store::adjust_counters(&mut tx, unit, plus).await?;
            }
            // 3. A primary without a unit takes the linked account's unit (and counts there).
            (None, Some(unit)) => set_unit_in(&mut tx, primary, Some(unit)).await?,
            _ => {}
        }
        tx.commit().await?;
        Ok(LinkOutcome::Linked(primary))
    }

    /// Confirms `primary` because one of its linked accounts confirmed, inside the caller's
    /// transaction; counts it when it is new.
    pub(crate) async fn confirm_primary_in(
        tx: &mut Tx,
        primary: PersonId,
        now: Millis,
    ) -> Result<()> {
        let r = sqlx::query(
            "UPDATE people SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(primary)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() == 1 {
            let row: Option<(Option<String>, Option<i64>)> =
                sqlx::query_as("SELECT unit_code, linked_to FROM people WHERE id = $1")
                    .bind(primary)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some((Some(unit), None)) = row {
                let plus = Counters {
                    confirmed: 1,
                    ..Counters::default()
                };
                Store::adjust_counters(tx, &unit, plus).await?;
            }
        }
        Ok(())
    }

    /// The accounts linked to `primary`, and the primary of a linked account.
    pub async fn linked_accounts(&self, person: PersonId) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, platform FROM people WHERE linked_to = $1 OR id = \
             (SELECT linked_to FROM people WHERE id = $1) ORDER BY id",
        )
        .bind(person)
        .fetch_all(self.pool())
        .await?)
    }
}
