//! The connection pool, migrations and transactions.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use sqlx::any::{
    AnyConnectOptions, AnyPoolOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo,
};
use sqlx::{Any, AnyConnection, AnyPool, Either, Execute, Executor, SqlStr, Transaction};
use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard};

use super::outbox::{Enqueued, NewOutboxItem};
use super::people::{ClaimFound, ClaimRead, claim_reads_in};
use super::turns::Turns;
use crate::clock::{Millis, SharedClock};
use crate::domain::{PersonId, State};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The database handle every part of the service shares. Cheap to clone.
///
/// A store may be bound to a [`Work`] (one transaction for one inbound event): every query it
/// makes then runs in that transaction, so an event's reads and writes (the person, the new
/// state, the outbox rows, the webhook claim) commit together or not at all.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: SharedClock,
    shared: Arc<Shared>,
    /// The [`Work`] this handle belongs to, if any: its queries run in the work's
    /// transaction.
    bound: Option<Arc<Member>>,
}

/// What every handle of one store shares.
struct Shared {
    /// SQLite has one writer at a time: writers of this process take turns here, in order,
    /// instead of polling SQLite's lock (`busy_timeout` sleeps between attempts).
    writer: Arc<tokio::sync::Mutex<()>>,
    /// How many writers other than inbound works wait for [`Shared::writer`] (the senders'
    /// claims and outcomes, the scheduler): a shared inbound transaction lets them go first,
    /// so a reply waits for the one transaction running at most, not for every one queued.
    urgent: AtomicUsize,
    /// Inbound transactions (each shared by a group of works) queue here before they take
    /// a connection: on PostgreSQL they leave [`RESERVED`] connections of the pool to
    /// everyone else, so a burst of events does not hold back the replies it queued.
    inbound: Arc<tokio::sync::Semaphore>,
    /// Whether this process sends for every account (holds every account's lock): it then
    /// wakes its senders in-process and needs no PostgreSQL notification.
    leading: AtomicBool,
    /// The shared transaction inbound works join while it is open (group commit, see
    /// [`Store::work`]).
    open: std::sync::Mutex<Option<Arc<Bound>>>,
    /// The senders running in this process, by account: replies queued for them are
    /// claimed as they are written and handed over ([`Store::enqueue_replies_in`]).
    handoffs: super::outbox::Handoffs,
    /// Whether units were seen committed ([`Store::has_units`]).
    units_seen: AtomicBool,
    /// SQLite: the task that checkpoints the log ([`checkpoints`]), stopped when the last
    /// handle goes.
    _checkpointer: Option<tokio_util::task::AbortOnDropHandle<()>>,
}

/// How many works share one transaction at most on SQLite (group commit): SQLite has one
/// writer, so a group runs while the next one forms.
const GROUP_MAX_SQLITE: usize = 64;

/// How many works share one transaction at most on PostgreSQL: several groups run at
/// once, each on a connection of its own.
const GROUP_MAX_POSTGRES: usize = 8;

/// The transaction of one [`Work`], or shared by several (group commit): committed once its
/// last work finished, by that work; rolled back whole when any of them failed.
struct Bound {
    tx: Arc<tokio::sync::Mutex<Option<Transaction<'static, Any>>>>,
    /// Set when a part of a work failed without a savepoint to undo it: the transaction can
    /// then only roll back.
    poisoned: AtomicBool,
    /// Set when a part with a savepoint was dropped unfinished (an early return): its
    /// savepoint is rolled back before the next statement, as a dropped transaction is.
    undo_part: AtomicBool,
    /// Who is in it.
    group: std::sync::Mutex<Group>,
    /// How it ended (`Some(true)`: committed), for the works that wait for the last one.
    outcome: tokio::sync::watch::Sender<Option<bool>>,
    /// This process's SQLite writer turn, held until the transaction ends.
    turn: std::sync::Mutex<Option<OwnedMutexGuard<()>>>,
    /// The inbound transactions' turn ([`Shared::inbound`]), held until it ends.
    gate: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    /// Its works' turns, written just before it commits ([`Store::queue_turn`]).
    turns: std::sync::Mutex<Turns>,
    /// Its works' webhook claims waiting for the connection: whoever takes it next runs
    /// them all ([`Store::claim_read_combined`]).
    claims: std::sync::Mutex<Vec<WaitingClaim>>,
}

/// A claim waiting in [`Bound::claims`], and where its finding goes.
type WaitingClaim = (
    ClaimRead,
    tokio::sync::oneshot::Sender<Result<ClaimFound, String>>,
);

/// The works of one transaction.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// How many joined it.
    members: usize,
    /// How many have not finished yet.
    active: usize,
    /// Whether a work rolled back (everyone's writes are undone).
    failed: bool,
}

/// One work's hold on its (maybe shared) transaction.
struct Member {
    bound: Arc<Bound>,
    /// Set while a part of this work ([`Tx`]) holds the connection: a query the work makes
    /// meanwhile goes to the pool, as it did before works existed.
    holding: AtomicBool,
}

/// How often SQLite's log is copied into the database file ([`checkpoints`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies SQLite's write-ahead log into the database file every [`CHECKPOINT_EVERY`], beside
/// the writer rather than inside its commits. With SQLite's automatic checkpoints, the
/// commit that finds the log over 1,000 pages copies it and syncs the database file before
/// it returns, and every inbound event queued behind that one writer waits meanwhile. A
/// passive checkpoint takes no write lock: the writer goes on, and the log starts over from
/// its beginning at the first transaction after a checkpoint that copied all of it. (The
/// last connection to close copies what is left.)
async fn checkpoints(pool: AnyPool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match done {
            Ok((_, log, copied)) => tracing::trace!(log, copied, "SQLite log checkpointed"),
            Err(_) if pool.is_closed() => return,
            Err(e) => tracing::warn!(error = %e, "checkpointing the SQLite log failed"),
        }
    }
}

/// The PostgreSQL channel that says "rows were queued in the outbox".
pub const OUTBOX_CHANNEL: &str = "bluezone_outbox";

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
                Backend::Postgres => POSTGRES_CONNECTIONS,
            })
            .acquire_timeout(wait)
            // A connection is pinged before use only when it sat idle a while: a ping before
            // every query doubles the round trips of a busy PostgreSQL.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // Pages read through memory, not a read() call each.
                        conn.execute("PRAGMA mmap_size = 268435456").await?;
                        // The log is copied into the database file in the background
                        // ([`checkpoints`]), not by the commit that finds it long.
                        conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        let mut checkpointer = None;
        if backend == Backend::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .context("switching SQLite to WAL")?;
            checkpointer = Some(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
                checkpoints(pool.clone()),
            )));
        }
        Ok(Store {
            pool,
            backend,
            clock,
            shared: Arc::new(Shared {
                writer: Arc::new(tokio::sync::Mutex::new(())),
                urgent: AtomicUsize::new(0),
                inbound: Arc::new(tokio::sync::Semaphore::new(match backend {
                    Backend::Sqlite => 2,
                    Backend::Postgres => (POSTGRES_CONNECTIONS - RESERVED) as usize,
                })),
                leading: AtomicBool::new(false),
                open: std::sync::Mutex::new(None),
                handoffs: Default::default(),
                units_seen: AtomicBool::new(false),
                _checkpointer: checkpointer,
            }),
            bound: None,
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

    /// Where the store's own modules run their queries: the pool, or the transaction of the
    /// [`Work`] this handle is bound to.
    pub(crate) fn pool(&self) -> Exec<'_> {
        Exec {
            pool: &self.pool,
            member: self.bound.as_deref(),
        }
    }

    /// The database URL (a PostgreSQL listener opens a connection of its own).
    pub(crate) fn connect_options(&self) -> AnyConnectOptions {
        (*self.pool.connect_options()).clone()
    }

    /// Says whether this process sends for every account ([`crate::outbox::Delivery`]).
    pub fn set_leading(&self, leading: bool) {
        self.shared.leading.store(leading, Ordering::Relaxed);
    }

    /// Whether this process sends for every account.
    pub fn leading(&self) -> bool {
        self.shared.leading.load(Ordering::Relaxed)
    }

    /// Tells the senders of other processes that rows were queued, in the transaction on
    /// `conn`: on PostgreSQL, when this process does not send itself, a notification on
    /// [`OUTBOX_CHANNEL`] (it goes out when the transaction commits, and not at all when it
    /// rolls back). Senders in this process are woken in-process by whoever queued.
    pub(super) async fn announce_outbox_in(&self, conn: &mut AnyConnection) -> Result<()> {
        if self.backend == Backend::Postgres && !self.leading() {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(OUTBOX_CHANNEL)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// The clock every stored time comes from.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The senders running in this process, to hand claimed replies to.
    pub(super) fn handoffs(&self) -> &super::outbox::Handoffs {
        &self.shared.handoffs
    }

    /// Whether units were seen committed before.
    pub(super) fn units_seen(&self) -> bool {
        self.shared.units_seen.load(Ordering::Relaxed)
    }

    /// Remembers that units exist.
    pub(super) fn set_units_seen(&self) {
        self.shared.units_seen.store(true, Ordering::Relaxed);
    }

    /// Now, in milliseconds.
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so two writers wait for each other instead of failing with SQLITE_BUSY,
    /// after this process's writers before it ([`Shared::writer`]). Inside a [`Work`] it is
    /// a savepoint of the work's transaction, committed with it.
    pub async fn begin(&self) -> Result<Tx> {
        if let Some(member) = &self.bound {
            let (mut conn, holding) = member.hold().await?;
            (&mut **conn).execute("SAVEPOINT bz_part").await?;
            return Ok(Tx(TxKind::Part {
                armed: Poison {
                    bound: Some(member.bound.clone()),
                    savepoint: true,
                },
                conn,
                savepoint: true,
                _holding: holding,
            }));
        }
        let (tx, turn) = self.begin_own(true).await?;
        Ok(Tx(TxKind::Own { tx, _turn: turn }))
    }

    /// A transaction to write a few rows with: inside a [`Work`], the work's own (no
    /// savepoint: a failure there fails the whole work, which then rolls back); otherwise a
    /// new one, as [`Store::begin`].
    pub async fn writer(&self) -> Result<Tx> {
        if let Some(member) = &self.bound {
            let (conn, holding) = member.hold().await?;
            return Ok(Tx(TxKind::Part {
                armed: Poison {
                    bound: Some(member.bound.clone()),
                    savepoint: false,
                },
                conn,
                savepoint: false,
                _holding: holding,
            }));
        }
        self.begin().await
    }

    /// Starts the one transaction of an inbound event: the returned [`Work`]'s store runs
    /// every query in it until [`Work::commit`].
    ///
    /// It is group commit: the works of events that arrive while a transaction is open or
    /// waits to begin (up to [`GROUP_MAX_SQLITE`] or [`GROUP_MAX_POSTGRES`]) join it, their
    /// statements take turns on its connection, and the last one to finish commits it for
    /// all. Events then share a connection, a begin and a commit (on SQLite, the one
    /// writer's turn) instead of queueing for each one by one. A work that fails rolls
    /// everyone back ([`Work::rollback`]); the others learn it as [`Undone`] and run again,
    /// each alone ([`Store::work_alone`]).
    pub async fn work(&self) -> Result<Work> {
        self.work_in(true).await
    }

    /// [`Store::work`] in a transaction of its own.
    pub async fn work_alone(&self) -> Result<Work> {
        self.work_in(false).await
    }

    async fn work_in(&self, group: bool) -> Result<Work> {
        if self.bound.is_some() {
            anyhow::bail!("a work cannot start inside another");
        }
        let (bound, first) = match group {
            true => self.join_open(),
            false => (Arc::new(Bound::new(1)), true),
        };
        if first {
            // Others may join before it has begun: their statements wait for the connection,
            // which the first work holds until the transaction is open.
            let mut slot = bound.tx.clone().lock_owned().await;
            let gate = self.shared.inbound.clone().acquire_owned().await;
            let begun = match gate {
                Ok(gate) => self.begin_own(!group).await.map(|b| (b, gate)),
                Err(_) => Err(anyhow::anyhow!("the store is closed")),
            };
            match begun {
                Ok(((tx, turn), gate)) => {
                    *slot = Some(tx);
                    *bound.turn.lock().unwrap_or_else(|p| p.into_inner()) = turn;
                    *bound.gate.lock().unwrap_or_else(|p| p.into_inner()) = Some(gate);
                }
                Err(e) => {
                    drop(slot);
                    self.close_open(&bound);
                    // The others find no transaction: their statements fail and they leave.
                    let _ = bound.leave(true);
                    bound.outcome.send_replace(Some(false));
                    return Err(e);
                }
            }
        }
        let member = Arc::new(Member {
            bound,
            holding: AtomicBool::new(false),
        });
        Ok(Work {
            store: Store {
                bound: Some(member.clone()),
                ..self.clone()
            },
            member,
        })
    }

    /// Joins the open shared transaction, or opens a new one (`true`: the caller begins it).
    fn join_open(&self) -> (Arc<Bound>, bool) {
        let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bound) = open.as_ref() {
            let mut group = bound.group();
            let max = match self.backend {
                Backend::Sqlite => GROUP_MAX_SQLITE,
                Backend::Postgres => GROUP_MAX_POSTGRES,
            };
            if group.active > 0 && !group.failed && group.members < max {
                group.members += 1;
                group.active += 1;
                let bound = bound.clone();
                if group.members == max {
                    drop(group);
                    *open = None;
                }
                return (bound, false);
            }
        }
        let bound = Arc::new(Bound::new(1));
        *open = Some(bound.clone());
        (bound, true)
    }

    /// Takes `bound` off the open slot, if it is there.
    fn close_open(&self, bound: &Arc<Bound>) {
        let mut open = self.shared.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, bound)) {
            *open = None;
        }
    }

    /// A transaction of its own; on SQLite after this process's writers before it, and
    /// (unless `urgent`) after every urgent writer waiting.
    async fn begin_own(
        &self,
        urgent: bool,
    ) -> Result<(Transaction<'static, Any>, Option<OwnedMutexGuard<()>>)> {
        let tx = match self.backend {
            Backend::Sqlite => {
                let turn = self.writer_turn(urgent).await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await;
                return Ok((tx.context("starting a transaction")?, Some(turn)));
            }
            Backend::Postgres => self.pool.begin().await,
        };
        Ok((tx.context("starting a transaction")?, None))
    }

    /// This process's SQLite writer turn. The turns go in order, except that a shared
    /// inbound transaction whose turn comes while an urgent writer waits goes back in line
    /// behind it.
    async fn writer_turn(&self, urgent: bool) -> OwnedMutexGuard<()> {
        let shared = &self.shared;
        if urgent {
            /// Counts a waiting urgent writer (also one whose wait is abandoned).
            struct Waiting<'a>(&'a AtomicUsize);
            impl Drop for Waiting<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            shared.urgent.fetch_add(1, Ordering::SeqCst);
            let _waiting = Waiting(&shared.urgent);
            return shared.writer.clone().lock_owned().await;
        }
        loop {
            let turn = shared.writer.clone().lock_owned().await;
            if shared.urgent.load(Ordering::SeqCst) == 0 {
                return turn;
            }
            drop(turn);
            tokio::task::yield_now().await;
        }
    }

    /// Runs a webhook claim and sender read ([`Store::claim_reading`]). In a work, the claim
    /// waits with the other works' of its group for the transaction's connection, and the
    /// work that takes it runs every claim waiting, in one round trip, and hands each its
    /// finding: the others need not take the connection at all. (Works join a group together
    /// and start with their claim, so a group's claims mostly go in one or two statements.)
    /// A failure reaches every claim of the batch: in a shared group they all run again
    /// alone.
    pub(super) async fn claim_read_combined(&self, read: ClaimRead) -> Result<ClaimFound> {
        let value = self.now().to_string();
        let member = match &self.bound {
            Some(member) if !member.holding.load(Ordering::Relaxed) => member,
            _ => {
                let mut conn = self.pool.acquire().await?;
                let mut found = claim_reads_in(self.backend, &mut conn, &value, &[read]).await?;
                return found.pop().context("a claim found nothing");
            }
        };
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        member.bound.waiting_claims().push((read, tx));
        // Only the wait for the connection races the finding: settling the transaction is
        // not cut short.
        let guard = tokio::select! {
            biased;
            found = &mut rx => return taken(found),
            guard = member.bound.tx.clone().lock_owned() => guard,
        };
        let conn = member.bound.settled(guard).await;
        let batch = std::mem::take(&mut *member.bound.waiting_claims());
        if !batch.is_empty() {
            let (reads, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let found = match conn {
                Ok(mut conn) => claim_reads_in(self.backend, &mut conn, &value, &reads).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(found) => {
                    for (reply, found) in replies.into_iter().zip(found) {
                        let _ = reply.send(Ok(found));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(format!("{e:#}")));
                    }
                }
            }
            member.pass().await;
        } else {
            drop(conn);
        }
        taken(rx.await)
    }

    /// Queues an inbound event's turn in its work (this store is bound to it): the person's
    /// new state, if it changed, and the replies. They are written when the work's
    /// transaction commits, with the turns of every work sharing it (see
    /// [`Work::commit`]): one statement for the states and one for the replies per group,
    /// which is what lets a group's events through the one writer quickly.
    pub fn queue_turn(
        &self,
        save: Option<(PersonId, &State)>,
        items: Vec<NewOutboxItem>,
    ) -> Result<()> {
        let Some(member) = &self.bound else {
            anyhow::bail!("a turn is queued inside a work");
        };
        let now = self.now();
        member
            .bound
            .turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(save, items, now);
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The connections of a PostgreSQL pool.
const POSTGRES_CONNECTIONS: u32 = 10;

/// Connections of a PostgreSQL pool that inbound transactions leave to the rest (the
/// senders, the scheduler, reads outside a work): four groups of inbound events run at
/// once, and the senders' claims and outcomes never wait for a connection behind them.
const RESERVED: u32 = 6;

/// How long a pooled connection may sit idle before it is pinged on its next use.
const IDLE_PING: Duration = Duration::from_secs(30);

/// One inbound event's work in one transaction (see [`Store::work`]).
pub struct Work {
    store: Store,
    member: Arc<Member>,
}

/// Why a work did not commit: its own failure, or (group commit) another work of its
/// transaction failed and everyone's writes were undone: the event should run again, in a
/// transaction of its own ([`Store::work_alone`]).
#[derive(Debug)]
pub struct Undone;

impl std::fmt::Display for Undone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another event of the shared transaction failed: nothing was written")
    }
}

impl std::error::Error for Undone {}

/// Whether `e` is PostgreSQL giving up a transaction so that others could go on: a deadlock
/// (two transactions waiting for each other's rows; PostgreSQL breaks it after a second) or
/// a serialization failure. Nothing of it was written, and running it again from the start
/// is the cure. Transactions that share a group take their people's rows in the order their
/// events arrive, so two groups (or a group and an event alone) can meet in a deadlock.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        })
}

impl Work {
    /// The store whose every query runs in this work's transaction.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether other works share this work's transaction (a failure here undoes theirs too,
    /// and they run again alone).
    pub fn shared(&self) -> bool {
        self.member.bound.group().members > 1
    }

    /// Commits everything the work wrote, once every work sharing its transaction finished;
    /// an error (and nothing written) when a part of it failed, [`Undone`] when another
    /// work of the transaction failed. The last work to finish writes everyone's turns
    /// ([`Store::queue_turn`]) and gets what they queued: the replies to hand over, whether
    /// others wait for a sender (the others get nothing).
    pub async fn commit(self) -> Result<Enqueued> {
        let bound = self.member.bound.clone();
        match bound.leave(false) {
            Some(failed) => bound.finish(failed, &self.store).await,
            None => match bound.wait().await {
                true => Ok(Enqueued::default()),
                false => Err(Undone.into()),
            },
        }
    }

    /// Undoes everything the work wrote (and, when shared, what the others wrote: they run
    /// again alone).
    pub async fn rollback(self) {
        let bound = self.member.bound.clone();
        if let Some(failed) = bound.leave(true) {
            let _ = bound.finish(failed, &self.store).await;
        }
    }
}

/// The connection of a work's transaction, held by one query or one [`Tx`] at a time.
/// A claim's finding as another work of its group handed it over.
fn taken(
    found: Result<Result<ClaimFound, String>, tokio::sync::oneshot::error::RecvError>,
) -> Result<ClaimFound> {
    match found {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(anyhow::anyhow!("the group's claims failed: {e}")),
        Err(_) => Err(anyhow::anyhow!(
            "the work running the group's claims stopped"
        )),
    }
}

type BoundConn =
    OwnedMappedMutexGuard<Option<Transaction<'static, Any>>, Transaction<'static, Any>>;

impl Bound {
    /// A transaction for `members` works (1: a work of its own) not begun yet.
    fn new(members: usize) -> Bound {
        Bound {
            tx: Arc::new(tokio::sync::Mutex::new(None)),
            poisoned: AtomicBool::new(false),
            undo_part: AtomicBool::new(false),
            group: std::sync::Mutex::new(Group {
                members,
                active: members,
                failed: false,
            }),
            outcome: tokio::sync::watch::channel(None).0,
            turn: std::sync::Mutex::new(None),
            gate: std::sync::Mutex::new(None),
            turns: std::sync::Mutex::new(Turns::default()),
            claims: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn waiting_claims(&self) -> std::sync::MutexGuard<'_, Vec<WaitingClaim>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn group(&self) -> std::sync::MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A work is done with the transaction (`failed`: it rolls back). For the last one,
    /// whether the transaction must roll back.
    fn leave(&self, failed: bool) -> Option<bool> {
        let mut group = self.group();
        group.active = group.active.saturating_sub(1);
        group.failed |= failed;
        (group.active == 0).then_some(group.failed)
    }

    /// Ends the transaction (the last work does): writes the works' turns and commits, or
    /// rolls back when a work failed or a part poisoned it; the waiting works learn how it
    /// ended. When the turns of a shared transaction cannot be written, everyone runs again
    /// alone ([`Undone`]), where a failure is only ever the event's own.
    async fn finish(&self, failed: bool, store: &Store) -> Result<Enqueued> {
        let tx = self.tx.lock().await.take();
        let turns = std::mem::take(&mut *self.turns.lock().unwrap_or_else(|p| p.into_inner()));
        let result = match tx {
            None => Err(anyhow::anyhow!("the work was already finished")),
            Some(tx) if failed || self.poisoned.load(Ordering::Relaxed) => {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "rolling back failed (the connection closes)");
                }
                if failed {
                    Err(Undone.into())
                } else {
                    Err(anyhow::anyhow!(
                        "a part of the work failed: nothing was written"
                    ))
                }
            }
            Some(mut tx) => {
                let written = match self.settle(&mut tx).await {
                    Ok(()) => store.write_turns(&mut tx, turns).await,
                    Err(e) => Err(e.into()),
                };
                match written {
                    Ok(queued) => tx.commit().await.context("committing").map(|()| queued),
                    Err(e) => {
                        if let Err(e) = tx.rollback().await {
                            tracing::warn!(error = %e, "rolling back failed (the connection closes)");
                        }
                        match self.group().members > 1 {
                            true => {
                                tracing::warn!(error = ?e, "writing a group's turns failed; each event runs again alone");
                                Err(Undone.into())
                            }
                            false => Err(e),
                        }
                    }
                }
            }
        };
        // The writer's turn passes on only once the transaction is over.
        drop(self.turn.lock().unwrap_or_else(|p| p.into_inner()).take());
        drop(self.gate.lock().unwrap_or_else(|p| p.into_inner()).take());
        self.outcome.send_replace(Some(result.is_ok()));
        result
    }

    /// Waits until the last work ended the transaction: whether it committed.
    async fn wait(&self) -> bool {
        let mut outcome = self.outcome.subscribe();
        match outcome.wait_for(Option::is_some).await {
            Ok(v) => *v == Some(true),
            Err(_) => false,
        }
    }

    /// Waits for the transaction's connection.
    async fn lock(&self) -> Result<BoundConn> {
        let guard = self.tx.clone().lock_owned().await;
        self.settled(guard).await
    }

    /// The connection behind `guard`, its transaction settled.
    async fn settled(
        &self,
        guard: OwnedMutexGuard<Option<Transaction<'static, Any>>>,
    ) -> Result<BoundConn> {
        let mut conn = OwnedMutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| anyhow::anyhow!("the work was already finished"))?;
        self.settle(&mut conn).await?;
        Ok(conn)
    }

    /// Rolls back the savepoint of a part dropped unfinished, if any.
    async fn settle(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.undo_part.swap(false, Ordering::Relaxed) {
            conn.execute("ROLLBACK TO SAVEPOINT bz_part").await?;
            conn.execute("RELEASE SAVEPOINT bz_part").await?;
        }
        Ok(())
    }
}

impl Member {
    /// The connection for one query: `None` while a part of this work holds it (the query
    /// goes to the pool), else once no other work of the transaction uses it.
    async fn conn(&self) -> Option<Result<BoundConn, sqlx::Error>> {
        if self.holding.load(Ordering::Relaxed) {
            return None;
        }
        let guard = self.bound.tx.clone().lock_owned().await;
        Some(match OwnedMutexGuard::try_map(guard, Option::as_mut) {
            Ok(mut conn) => self.bound.settle(&mut conn).await.map(|()| conn),
            Err(_) => Err(sqlx::Error::PoolClosed),
        })
    }

    /// After a statement: lets the next work of the transaction, woken by the connection
    /// this one just gave up, send its statement before this one goes on with what it does
    /// between statements. Otherwise that waits behind it on this thread, and the
    /// connection, which every work of the group takes in turn, sits idle meanwhile.
    async fn pass(&self) {
        if self.bound.group().members > 1 {
            tokio::task::yield_now().await;
        }
    }

    /// The connection for a part of this work, held until the part ends.
    async fn hold(self: &Arc<Member>) -> Result<(BoundConn, Holding)> {
        let conn = self.bound.lock().await?;
        self.holding.store(true, Ordering::Relaxed);
        Ok((conn, Holding(self.clone())))
    }
}

/// A part of a work holds the connection while this lives.
struct Holding(Arc<Member>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.holding.store(false, Ordering::Relaxed);
    }
}

/// What a part of a work dropped unfinished (an error or an early return between its
/// statements) leaves: with a savepoint, its rollback before the work's next statement;
/// without one, a work that can only roll back.
struct Poison {
    bound: Option<Arc<Bound>>,
    savepoint: bool,
}

impl Drop for Poison {
    fn drop(&mut self) {
        if let Some(bound) = self.bound.take() {
            let flag = if self.savepoint {
                &bound.undo_part
            } else {
                &bound.poisoned
            };
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// A write transaction: its own, or a part of a [`Work`]'s. Dereferences to the connection
/// (`query.execute(&mut *tx)`).
pub struct Tx(TxKind);

enum TxKind {
    Own {
        tx: Transaction<'static, Any>,
        _turn: Option<OwnedMutexGuard<()>>,
    },
    Part {
        /// Dropped first: its flag is set while the connection is still held.
        armed: Poison,
        conn: BoundConn,
        /// Whether it opened a savepoint (and can roll back on its own).
        savepoint: bool,
        /// Dropped last: the work's own queries go to the pool while it lives.
        _holding: Holding,
    },
}

impl Tx {
    /// Commits (a part of a work: keeps its writes for the work's commit).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0 {
            TxKind::Own { tx, .. } => tx.commit().await,
            TxKind::Part {
                mut conn,
                savepoint,
                mut armed,
                ..
            } => {
                if savepoint {
                    (&mut **conn).execute("RELEASE SAVEPOINT bz_part").await?;
                }
                armed.bound = None;
                Ok(())
            }
        }
    }

    /// Rolls back (a part of a work: back to its savepoint).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.0 {
            TxKind::Own { tx, .. } => tx.rollback().await,
            TxKind::Part {
                mut conn,
                savepoint,
                mut armed,
                ..
            } => {
                if savepoint {
                    (&mut **conn)
                        .execute("ROLLBACK TO SAVEPOINT bz_part")
                        .await?;
                    (&mut **conn).execute("RELEASE SAVEPOINT bz_part").await?;
                    armed.bound = None;
                }
                // Without a savepoint the work keeps the poison: it rolls back whole.
                Ok(())
            }
        }
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            TxKind::Own { tx, .. } => tx,
            TxKind::Part { conn, .. } => conn,
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            TxKind::Own { tx, .. } => tx,
            TxKind::Part { conn, .. } => conn,
        }
    }
}

/// Runs a store query on the pool, or in the transaction of the work the store is bound to.
#[derive(Clone, Copy)]
pub(crate) struct Exec<'a> {
    pool: &'a AnyPool,
    member: Option<&'a Member>,
}

impl std::fmt::Debug for Exec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exec")
            .field("bound", &self.member.is_some())
            .finish()
    }
}

impl<'a> Exec<'a> {
    /// Whether the query runs in the work's transaction (not while a part of the same work
    /// holds its connection: that query goes to the pool).
    fn in_work(self) -> Option<&'a Member> {
        self.member.filter(|m| !m.holding.load(Ordering::Relaxed))
    }
}

impl<'c> Executor<'c> for Exec<'c> {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.in_work() {
            None => self.pool.fetch_many(query),
            // The rows of one event's query are few: read them all while holding the
            // connection.
            Some(member) => futures::stream::once(async move {
                let rows: Vec<_> = match member.conn().await {
                    Some(Ok(mut conn)) => (&mut **conn).fetch_many(query).collect().await,
                    Some(Err(e)) => vec![Err(e)],
                    None => self.pool.fetch_many(query).collect().await,
                };
                member.pass().await;
                futures::stream::iter(rows)
            })
            .flatten()
            .boxed(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.in_work() {
            None => self.pool.fetch_optional(query),
            Some(member) => async move {
                let row = match member.conn().await {
                    Some(Ok(mut conn)) => (&mut **conn).fetch_optional(query).await,
                    Some(Err(e)) => Err(e),
                    None => self.pool.fetch_optional(query).await,
                };
                member.pass().await;
                row
            }
            .boxed(),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}
