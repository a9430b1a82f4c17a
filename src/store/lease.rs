//! Who sends for which account. Each account's rate limits (30 messages a second for a
//! Telegram bot) are for the whole account: if two replicas sent for one account at once,
//! the platform would answer 429s. So each account's sender runs in one replica at a time,
//! the one holding the account's PostgreSQL advisory lock; the scheduler (reminders,
//! digests, broadcast progress) has a lock of its own, so its jobs are queued once.
//!
//! A replica holds its locks on one connection of its own, a [`Seat`], which also holds a
//! shared "present" lock: counting the holders of that lock tells how many replicas are
//! alive, so each can take its share of the accounts and leave the rest. When a replica
//! dies its connection closes and PostgreSQL releases every lock it held; the others see
//! one replica fewer and take its accounts over. With SQLite there is one process, and it
//! always leads everything.

use anyhow::{Result, bail};
use sqlx::{AnyConnection, ConnectOptions, Connection};

use super::Store;
use super::db::Backend;

/// The first key of every lock this service takes ("bz"), with the kind in the second half.
const NAMESPACE_ACCOUNT: i32 = 0x627a_6163; // "bzac": one lock per account
const NAMESPACE_OTHER: i32 = 0x627a_7376; // "bzsv": the service's single locks
/// The second key of the scheduler's lock.
const SCHEDULER: i32 = 1;
/// The second key of the lock every replica holds shared while it is alive.
const PRESENT: i32 = 2;

/// A lock a replica may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// The scheduler (broadcast progress, reminders, digests): one replica at a time.
    Scheduler,
    /// One account's sender, by the 32-bit hash of its id ([`LockKey::account`]).
    Account(i32),
}

impl LockKey {
    /// The lock of account `id` (FNV-1a of the id, folded to 32 bits).
    pub fn account(id: &str) -> LockKey {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        LockKey::Account(((h >> 32) ^ h) as u32 as i32)
    }

    /// The two keys PostgreSQL's `pg_try_advisory_lock(int, int)` takes.
    fn keys(self) -> (i32, i32) {
        match self {
            LockKey::Scheduler => (NAMESPACE_OTHER, SCHEDULER),
            LockKey::Account(k) => (NAMESPACE_ACCOUNT, k),
        }
    }
}

/// Checks that `ids` have locks of their own (two ids whose hashes met would share one).
pub fn check_lock_keys<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for id in ids {
        if let Some(other) = seen.insert(LockKey::account(id), id)
            && other != id
        {
            bail!("accounts {other:?} and {id:?} would share a delivery lock: rename one");
        }
    }
    Ok(())
}

/// This replica's place among the replicas: the connection its locks live on (PostgreSQL;
/// closing it releases them all).
pub struct Seat {
    conn: Option<AnyConnection>,
}

impl Store {
    /// Takes a seat: a connection of its own that says this replica is alive (on SQLite, a
    /// seat that always leads).
    pub async fn take_seat(&self) -> Result<Seat> {
        match self.backend() {
            Backend::Sqlite => Ok(Seat { conn: None }),
            Backend::Postgres => {
                let mut conn = self.connect_options().connect().await?;
                let (ns, key) = (NAMESPACE_OTHER, PRESENT);
                sqlx::query("SELECT pg_advisory_lock_shared($1, $2)")
                    .bind(ns)
                    .bind(key)
                    .execute(&mut conn)
                    .await?;
                Ok(Seat { conn: Some(conn) })
            }
        }
    }
}

impl Seat {
    /// How many replicas are alive now (this one included): 1 on SQLite.
    pub async fn replicas(&mut self) -> Result<i64> {
        let Some(conn) = &mut self.conn else {
            return Ok(1);
        };
        let (n,): (i64,) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid = CAST($1 AS oid) AND objid = CAST($2 AS oid) AND objsubid = 2 AND granted",
        )
        .bind(i64::from(NAMESPACE_OTHER))
        .bind(i64::from(PRESENT))
        .fetch_one(conn)
        .await?;
        Ok(n.max(1))
    }

    /// Takes `key` if no other replica holds it (always on SQLite). Taking a lock this seat
    /// holds already is a mistake the caller avoids (PostgreSQL would count it twice).
    pub async fn try_lock(&mut self, key: LockKey) -> Result<bool> {
        let Some(conn) = &mut self.conn else {
            return Ok(true);
        };
        let (a, b) = key.keys();
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1, $2)")
            .bind(a)
            .bind(b)
            .fetch_one(conn)
            .await?;
        Ok(got)
    }

    /// Lets `key` go, for another replica to take.
    pub async fn unlock(&mut self, key: LockKey) -> Result<()> {
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        let (a, b) = key.keys();
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(a)
            .bind(b)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Whether the seat still holds: false when its connection broke (its locks are then
    /// gone and other replicas may take them).
    pub async fn holds(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => c.ping().await.is_ok(),
        }
    }

    /// Gives every lock up now rather than when the connection times out.
    pub async fn release(self) {
        if let Some(c) = self.conn {
            let _ = c.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_locks_are_stable_and_distinct() {
        assert_eq!(LockKey::account("long-an"), LockKey::account("long-an"));
        assert_ne!(LockKey::account("long-an"), LockKey::account("hcm"));
        let ids: Vec<String> = (0..1000).map(|i| format!("bot-{i}")).collect();
        check_lock_keys(ids.iter().map(String::as_str)).expect("no collision in 1000 ids");
    }
}
