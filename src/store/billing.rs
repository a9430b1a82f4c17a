//! Billed sends: what the outbox needs to decide, at the moment of sending, whether a person
//! can be written to and at what cost ([`Store::contact_by_chat`]), and the price of a billed
//! row's attempt, reserved against the account's budget and written on the row before the
//! message goes ([`Store::reserve_row_spend`]), so a budget is never exceeded and a
//! broadcast's summary can add up what its billed messages cost.

use anyhow::Result;

use super::Store;
use crate::reach::Contact;

impl Store {
    /// What the person behind chat `chat_id` of account `account` says about reaching them:
    /// their last message, and whether they blocked the bot or opted out (`None`: nobody
    /// known).
    pub async fn contact_by_chat(
        &self,
        account: impl AsRef<str>,
        chat_id: &str,
    ) -> Result<Option<Contact>> {
        let account = account.as_ref();
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT last_inbound_at, unreachable, opted_out FROM people \
             WHERE account = $1 AND chat_id = $2 ORDER BY last_inbound_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(chat_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(last, unreachable, opted_out)| Contact {
            last_inbound_at: last,
            blocked: unreachable != 0,
            opted_out: opted_out != 0,
        }))
    }

    /// What outbox row `id`'s latest attempt reserved, with the period it was reserved in.
    pub async fn row_cost(&self, id: i64) -> Result<Option<(i64, String)>> {
        let row: Option<(Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT cost, cost_period FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some((Some(cost), Some(period))) => Some((cost, period)),
            _ => None,
        })
    }

    /// Reserves `amount` of `account`'s `budget` for `period` for an attempt to send outbox
    /// row `id`, and writes it on the row (replacing an earlier attempt's figure, whose
    /// reservation stays spent); false (nothing reserved) when the budget does not allow it.
    /// The reservation comes first: a crash between the two leaves the budget under-spent,
    /// never over.
    pub async fn reserve_row_spend(
        &self,
        id: i64,
        account: &str,
        period: &str,
        amount: i64,
        budget: i64,
    ) -> Result<bool> {
        if !self.reserve_spend(account, period, amount, budget).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE outbox SET cost = $1, cost_period = $2 WHERE id = $3")
            .bind(amount)
            .bind(period)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(true)
    }

    /// Gives back what outbox row `id`'s latest attempt reserved (its message was refused
    /// before it went).
    /// The row forgets its cost first, so a crash in between leaves the budget under-spent
    /// and two releases never give back twice.
    pub async fn release_row_spend(&self, id: i64, account: &str) -> Result<()> {
        let Some((cost, period)) = self.row_cost(id).await? else {
            return Ok(());
        };
        let r = sqlx::query(
            "UPDATE outbox SET cost = NULL, cost_period = NULL WHERE id = $1 AND cost IS NOT NULL",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 1 {
            self.release_spend(account, &period, cost).await?;
        }
        Ok(())
    }

    /// The billed messages broadcast `id` sent and what they cost, for its summary:
    /// (rows sent at a cost, their total in the platform's currency).
    pub async fn broadcast_billed(&self, id: i64) -> Result<(i64, i64)> {
        let (n, total): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(cost) AS BIGINT) FROM outbox \
             WHERE broadcast_id = $1 AND status = 'sent' AND cost IS NOT NULL",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok((n, total.unwrap_or(0)))
    }
}
