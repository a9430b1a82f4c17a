//! Who sends. On PostgreSQL several replicas share one database, but a platform's rate
//! limits (30 messages a second on Telegram) are for the whole bot: if every replica sent at
//! that rate, Telegram would answer 429s. So the senders and the scheduler run in one replica
//! at a time, the one holding a PostgreSQL advisory lock on its own connection; the others
//! wait and take over within seconds when it stops or dies (its connection closes and the
//! lock goes with it). With SQLite there is one process, and it always leads.

use anyhow::Result;
use sqlx::{AnyConnection, ConnectOptions, Connection};

use super::Store;
use super::db::Backend;

/// The advisory lock key of the delivery leader (an arbitrary constant: "bz-deliv").
const DELIVERY_LOCK: i64 = 0x627a_2d64_656c_6976;

/// This process leads delivery while it holds this.
pub struct Lease {
    /// The connection holding the lock (PostgreSQL); closing it releases the lock.
    conn: Option<AnyConnection>,
}

impl Lease {
    /// Whether the lease still holds: false when its connection broke (the lock is then gone
    /// and another replica may lead).
    pub async fn holds(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => c.ping().await.is_ok(),
        }
    }

    /// Gives the lease up now rather than when the connection times out.
    pub async fn release(self) {
        if let Some(c) = self.conn {
            let _ = c.close().await;
        }
    }
}

impl Store {
    /// Takes the delivery lease if no other process holds it.
    pub async fn try_lead(&self) -> Result<Option<Lease>> {
        match self.backend() {
            Backend::Sqlite => Ok(Some(Lease { conn: None })),
            Backend::Postgres => {
                let mut conn = self.connect_options().connect().await?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(DELIVERY_LOCK)
                    .fetch_one(&mut conn)
                    .await?;
                if got {
                    Ok(Some(Lease { conn: Some(conn) }))
                } else {
                    let _ = conn.close().await;
                    Ok(None)
                }
            }
        }
    }
}
