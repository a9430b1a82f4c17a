//! Spending: a broadcast's spend choice and the ledger of what billed messages cost, per
//! account and period. A price is reserved (atomically, against the budget) before the
//! message is sent, so the budget holds across crashes and replicas.

use anyhow::{Result, anyhow};

use super::Store;
use crate::reach::Spend;

impl Store {
    /// What broadcast `id`'s leader chose to spend (free only when the broadcast is unknown).
    pub async fn broadcast_spend(&self, id: i64) -> Result<Spend> {
        let v: Option<(String,)> = sqlx::query_as("SELECT spend FROM broadcasts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        match v {
            None => Ok(Spend::FreeOnly),
            Some((s,)) => Spend::parse(&s)
                .ok_or_else(|| anyhow!("broadcast {id} in the database is damaged: spend {s:?}")),
        }
    }

    /// Records what broadcast `id`'s leader chose to spend.
    pub async fn set_broadcast_spend(&self, id: i64, spend: Spend) -> Result<()> {
        sqlx::query("UPDATE broadcasts SET spend = $1 WHERE id = $2")
            .bind(spend.as_str())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Reserves `amount` of `account`'s budget for `period`; false (nothing reserved) when
    /// that would take the period's spending past `budget`.
    pub async fn reserve_spend(
        &self,
        account: &str,
        period: &str,
        amount: i64,
        budget: i64,
    ) -> Result<bool> {
        if amount <= 0 {
            return Ok(true);
        }
        if amount > budget {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO spend_ledger (account, period, spent) VALUES ($1, $2, 0) \
             ON CONFLICT (account, period) DO NOTHING",
        )
        .bind(account)
        .bind(period)
        .execute(self.pool())
        .await?;
        let r = sqlx::query(
            "UPDATE spend_ledger SET spent = spent + $1 \
             WHERE account = $2 AND period = $3 AND spent + $1 <= $4",
        )
        .bind(amount)
        .bind(account)
        .bind(period)
        .bind(budget)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives back a reservation whose message was not sent after all (refused before it
    /// left); never below zero.
    pub async fn release_spend(&self, account: &str, period: &str, amount: i64) -> Result<()> {
        sqlx::query(
            "UPDATE spend_ledger SET spent = CASE WHEN spent > $1 THEN spent - $1 ELSE 0 END \
             WHERE account = $2 AND period = $3",
        )
        .bind(amount)
        .bind(account)
        .bind(period)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// What `account` has spent (reserved) in `period`.
    pub async fn spent(&self, account: &str, period: &str) -> Result<i64> {
        let v: Option<(i64,)> =
            sqlx::query_as("SELECT spent FROM spend_ledger WHERE account = $1 AND period = $2")
                .bind(account)
                .bind(period)
                .fetch_optional(self.pool())
                .await?;
        Ok(v.map_or(0, |(s,)| s))
    }
}
