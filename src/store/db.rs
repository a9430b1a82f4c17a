//! The connection pool, migrations and transactions.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::clock::{Millis, SharedClock};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in WAL mode: the embedded default, one writer at a time.
    Sqlite,
    /// PostgreSQL: for several replicas.
    Postgres,
}

/// The database's migrations against the ones this build carries (`bluezone-bot doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// How many migrations this build carries.
    pub known: usize,
    /// How many of them are applied, with the same checksum.
    pub applied: usize,
    /// Versions this build carries that are not applied yet (`serve` or `migrate` applies
    /// them).
    pub pending: Vec<i64>,
    /// Applied versions this build does not know: the database was migrated by a newer
    /// build, and this one must not run against it.
    pub unknown: Vec<i64>,
    /// Versions applied from a different text than this build's.
    pub changed: Vec<i64>,
    /// A version whose migration failed half-way, if any.
    pub dirty: Option<i64>,
}

impl MigrationStatus {
    /// Whether the database is exactly at this build's schema.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.changed.is_empty()
            && self.dirty.is_none()
    }
}

/// A write transaction.
pub type Tx = Transaction<'static, Any>;

/// The database handle every part of the service shares. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: SharedClock,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `url` (`sqlite://file.db` or `postgres://…`). A SQLite file is created when
    /// missing and switched to WAL mode.
    pub async fn connect(url: &str, clock: SharedClock) -> Result<Store> {
        Store::open(url, clock, true, Duration::from_secs(30)).await
    }

    /// Connects to `url` only if the database is there: a missing SQLite file is an error,
    /// not a new empty database (`bluezone-bot doctor` looks, it does not create). Gives up
    /// after 10 s rather than the service's 30.
    pub async fn connect_existing(url: &str, clock: SharedClock) -> Result<Store> {
        Store::open(url, clock, false, Duration::from_secs(10)).await
    }

    async fn open(url: &str, clock: SharedClock, create: bool, wait: Duration) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let mode = if create { "rwc" } else { "rw" };
                format!("{url}{sep}mode={mode}")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).context("parsing DATABASE_URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(wait)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        if backend == Backend::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .context("switching SQLite to WAL")?;
        }
        Ok(Store {
            pool,
            backend,
            clock,
        })
    }

    /// Applies the migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("applying migrations")?;
        Ok(())
    }

    /// How the database's applied migrations compare with the ones this build carries,
    /// without applying any.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        use sqlx::migrate::Migrate;
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let table = migrator.table_name.as_ref();
        let exists_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let exists: i64 = sqlx::query_scalar(exists_sql)
            .bind(table)
            .fetch_one(&self.pool)
            .await
            .context("looking for the migrations table")?;
        let known: Vec<&sqlx::migrate::Migration> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .collect();
        let mut status = MigrationStatus {
            known: known.len(),
            ..MigrationStatus::default()
        };
        if exists == 0 {
            status.pending = known.iter().map(|m| m.version).collect();
            return Ok(status);
        }
        let mut conn = self.pool.acquire().await.context("a connection")?;
        status.dirty = conn
            .dirty_version(table)
            .await
            .context("reading the migrations table")?;
        let applied = conn
            .list_applied_migrations(table)
            .await
            .context("reading the migrations table")?;
        for m in &known {
            match applied.iter().find(|a| a.version == m.version) {
                Some(a) if a.checksum == m.checksum => status.applied += 1,
                Some(_) => status.changed.push(m.version),
                None => status.pending.push(m.version),
            }
        }
        status.unknown = applied
            .iter()
            .filter(|a| !known.iter().any(|m| m.version == a.version))
            .map(|a| a.version)
            .collect();
        Ok(status)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the store's own modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The clock every stored time comes from.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Now, in milliseconds.
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so two writers wait for each other instead of failing with SQLITE_BUSY.
    pub async fn begin(&self) -> Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        tx.context("starting a transaction")
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
