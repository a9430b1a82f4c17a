//! Which replica sends for which account ([`crate::store::lease`]). Each replica runs one
//! [`Delivery`]: every [`CHECK`] it counts the live replicas, takes free accounts until it
//! leads its share (`ceil(accounts / replicas)`, so N replicas share the accounts and none
//! grabs them all), lets go of accounts beyond its share (a replica that joined gets some),
//! and runs the scheduler while it holds the scheduler's lock. A replica that dies releases
//! its locks with its connection; the others see one replica fewer and take its accounts
//! within seconds. Rows a dead sender had claimed are leased: they go again once the lease
//! runs out, so nothing is lost, and only messages in flight can go twice.
//!
//! Accounts are tried from a different place in the list by each replica, so two replicas
//! starting together do not fight over the same accounts. What else an account must run in
//! one replica only (Telegram's long polling: two pollers of one bot would take each other's
//! updates) starts and stops with its sender.
//!
//! Rows queued by a replica that does not send for every account wake the senders of the
//! others through PostgreSQL's `NOTIFY` ([`listen`]); what a replica queues for an account
//! it sends for wakes that sender in-process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Scheduler, Worker};
use crate::platform::LeadTask;
use crate::store::lease::{LockKey, Seat, check_lock_keys};
use crate::store::{Backend, OUTBOX_CHANNEL, Store};

/// How often a replica looks at the replicas and its share, and checks its seat holds.
pub const CHECK: Duration = Duration::from_secs(1);

/// How long a sender that takes over rows a dead sender had claimed waits first: the
/// platforms' shortest rate window (one second) and a margin.
const TAKEOVER_PAUSE: Duration = Duration::from_millis(1_100);

/// The senders (one per account) and the scheduler of one replica.
#[derive(Default)]
pub struct Delivery {
    workers: Vec<Worker>,
    /// What else each account runs while this replica leads it (Telegram's long polling),
    /// by the worker's place in `workers`.
    led: HashMap<usize, LeadTask>,
    scheduler: Option<Scheduler>,
    /// How often to look again (tests shorten it).
    check: Option<Duration>,
    /// What this replica leads now, for whoever asks ([`Delivery::leading`]).
    leading: Leading,
}

/// What a replica leads now: the ids of the accounts it sends for, and whether it runs the
/// scheduler. Cheap to clone; read it while the delivery runs.
#[derive(Clone, Default)]
pub struct Leading(Arc<Mutex<(Vec<String>, bool)>>);

impl Leading {
    /// The accounts this replica sends for, sorted.
    pub fn accounts(&self) -> Vec<String> {
        let mut ids = self.0.lock().map(|g| g.0.clone()).unwrap_or_default();
        ids.sort();
        ids
    }

    /// Whether this replica runs the scheduler.
    pub fn scheduler(&self) -> bool {
        self.0.lock().map(|g| g.1).unwrap_or(false)
    }

    fn set(&self, accounts: Vec<String>, scheduler: bool) {
        if let Ok(mut g) = self.0.lock() {
            *g = (accounts, scheduler);
        }
    }
}

/// One task this replica runs while it holds a lock.
struct Running {
    stop: CancellationToken,
    /// Its tasks (the sender, and what else the account runs while led), to wait for when
    /// it is given back.
    ids: Vec<tokio::task::Id>,
    /// The order it was taken in (the newest goes first when the share shrinks).
    taken: u64,
}

impl Delivery {
    /// Nothing yet.
    pub fn new() -> Delivery {
        Delivery::default()
    }

    /// Adds an account's sender.
    pub fn add_worker(&mut self, worker: Worker) {
        self.workers.push(worker);
    }

    /// Adds an account's sender, and what else the account runs while this replica leads it
    /// ([`Started::led`](crate::platform::Started::led)).
    pub fn add_account(&mut self, worker: Worker, led: Option<LeadTask>) {
        if let Some(task) = led {
            self.led.insert(self.workers.len(), task);
        }
        self.workers.push(worker);
    }

    /// Sets the scheduler (progress, reminders, digests).
    pub fn set_scheduler(&mut self, scheduler: Scheduler) {
        self.scheduler = Some(scheduler);
    }

    /// Looks at the replicas and the shares every `check` instead of every [`CHECK`].
    pub fn check_every(mut self, check: Duration) -> Delivery {
        self.check = Some(check);
        self
    }

    /// What this replica leads, as it changes.
    pub fn leading(&self) -> Leading {
        self.leading.clone()
    }

    /// Leads its share of the accounts (and the scheduler when it can) until `shutdown`;
    /// then the tasks finish what is in flight. Dropping the future (a killed replica)
    /// aborts the senders and closes the seat, which releases every lock.
    pub async fn run(self, store: Store, shutdown: CancellationToken) {
        if let Err(e) = check_lock_keys(self.workers.iter().map(|w| w.account_id())) {
            tracing::error!(error = %e, "delivery cannot start");
            return;
        }
        let check = self.check.unwrap_or(CHECK);
        // Where this replica starts trying accounts: different on each replica.
        let offset = if self.workers.is_empty() {
            0
        } else {
            rand::random::<u64>() as usize % self.workers.len()
        };
        let mut tasks: JoinSet<()> = JoinSet::new();
        // Rows queued by the other replicas wake this one's senders at once (dropped, and so
        // stopped, with this future).
        let mut listener: JoinSet<()> = JoinSet::new();
        if store.backend() == Backend::Postgres {
            listener.spawn(listen(
                store.clone(),
                self.workers.clone(),
                shutdown.child_token(),
            ));
        }
        loop {
            let mut seat = match store.take_seat().await {
                Ok(seat) => seat,
                Err(e) => {
                    tracing::warn!(error = ?e, "taking a delivery seat failed");
                    if wait(&shutdown, check).await {
                        return;
                    }
                    continue;
                }
            };
            let mut held: HashMap<LockKey, Running> = HashMap::new();
            let mut taken = 0u64;
            let lost = loop {
                match self
                    .turn(&store, &mut seat, &mut held, &mut taken, &mut tasks, offset)
                    .await
                {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(error = ?e, "the delivery seat broke; stopping this replica's senders");
                        break true;
                    }
                }
                self.publish(&held, &store);
                tokio::select! {
                    _ = shutdown.cancelled() => break false,
                    _ = tokio::time::sleep(check) => {}
                }
            };
            for running in held.values() {
                running.stop.cancel();
            }
            while tasks.join_next().await.is_some() {}
            held.clear();
            self.publish(&held, &store);
            seat.release().await;
            if !lost || shutdown.is_cancelled() {
                return;
            }
            if wait(&shutdown, check).await {
                return;
            }
        }
    }

    /// One look: the seat still holds, the share is taken (or given back), the scheduler is
    /// run here if nobody runs it.
    async fn turn(
        &self,
        store: &Store,
        seat: &mut Seat,
        held: &mut HashMap<LockKey, Running>,
        taken: &mut u64,
        tasks: &mut JoinSet<()>,
        offset: usize,
    ) -> anyhow::Result<()> {
        if !seat.holds().await {
            anyhow::bail!("the seat's connection broke");
        }
        // A task ends only when told to; one that panicked lets its account go (its other
        // task is stopped first).
        while let Some(done) = tasks.try_join_next_with_id() {
            if let Err(e) = done {
                tracing::error!(error = %e, "a delivery task failed");
                let id = e.id();
                let failed = held
                    .iter()
                    .find(|(_, r)| r.ids.contains(&id))
                    .map(|(k, _)| *k);
                if let Some((key, running)) =
                    failed.and_then(|key| held.remove(&key).map(|r| (key, r)))
                {
                    running.stop.cancel();
                    let others = running.ids.iter().copied().filter(|i| *i != id);
                    wait_for(tasks, others).await;
                    seat.unlock(key).await?;
                }
            }
        }
        let replicas = seat.replicas().await?.max(1) as usize;
        let n = self.workers.len();
        let share = n.div_ceil(replicas);
        let mine = held
            .keys()
            .filter(|k| matches!(k, LockKey::Account(_)))
            .count();
        if mine > share {
            // A replica joined: give the newest accounts back for it to take, once their
            // senders have put back what they had not sent.
            let mut newest: Vec<(u64, LockKey)> = held
                .iter()
                .filter(|(k, _)| matches!(k, LockKey::Account(_)))
                .map(|(k, r)| (r.taken, *k))
                .collect();
            newest.sort_by_key(|k| std::cmp::Reverse(k.0));
            let mut giving = Vec::new();
            for (_, key) in newest.into_iter().take(mine - share) {
                if let Some(running) = held.remove(&key) {
                    running.stop.cancel();
                    giving.push((key, running.ids));
                }
            }
            wait_for(
                tasks,
                giving.iter().flat_map(|(_, ids)| ids.iter().copied()),
            )
            .await;
            for (key, _) in giving {
                seat.unlock(key).await?;
                let account = self
                    .workers
                    .iter()
                    .map(|w| w.account_id())
                    .find(|id| LockKey::account(id) == key)
                    .unwrap_or("?");
                tracing::info!(
                    account,
                    replicas,
                    share,
                    "gave an account's sending back to another replica"
                );
            }
        } else if mine < share {
            let mut mine = mine;
            for i in 0..n {
                if mine >= share {
                    break;
                }
                let at = (offset + i) % n;
                let worker = &self.workers[at];
                let key = LockKey::account(worker.account_id());
                if held.contains_key(&key) || !seat.try_lock(key).await? {
                    continue;
                }
                let stop = CancellationToken::new();
                // This replica alone sends for the account now: rows its last sender
                // claimed and never finished (it died) go again at once rather than when
                // their lease runs out; and, when there were some, after the platform's
                // one-second window of that sender's last sends has passed.
                let orphaned = match store.expire_claims(worker.account_id()).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = ?e, "taking over claimed rows failed; they go when their lease ends");
                        0
                    }
                };
                let run = worker.clone().run(stop.clone());
                let wait_out = stop.clone();
                let sender = async move {
                    if orphaned > 0 {
                        tokio::select! {
                            _ = wait_out.cancelled() => return,
                            _ = tokio::time::sleep(TAKEOVER_PAUSE) => {}
                        }
                    }
                    run.await;
                };
                let mut ids = vec![tasks.spawn(sender).id()];
                if let Some(task) = self.led.get(&at) {
                    ids.push(tasks.spawn(task(stop.clone())).id());
                }
                *taken += 1;
                held.insert(
                    key,
                    Running {
                        stop,
                        ids,
                        taken: *taken,
                    },
                );
                mine += 1;
                tracing::info!(
                    account = worker.account_id(),
                    replicas,
                    share,
                    "sending for this account from this replica"
                );
            }
        }
        if let Some(s) = &self.scheduler
            && !held.contains_key(&LockKey::Scheduler)
            && seat.try_lock(LockKey::Scheduler).await?
        {
            let stop = CancellationToken::new();
            let ids = vec![tasks.spawn(s.clone().run(stop.clone())).id()];
            *taken += 1;
            held.insert(
                LockKey::Scheduler,
                Running {
                    stop,
                    ids,
                    taken: *taken,
                },
            );
            tracing::info!("running the scheduler (progress, reminders, digests) in this replica");
        }
        Ok(())
    }

    /// Publishes what is held now (and tells the store whether this replica sends for
    /// every account, so that what it queues needs no `NOTIFY`).
    fn publish(&self, held: &HashMap<LockKey, Running>, store: &Store) {
        let accounts: Vec<String> = self
            .workers
            .iter()
            .filter(|w| held.contains_key(&LockKey::account(w.account_id())))
            .map(|w| w.account_id().to_string())
            .collect();
        store.set_leading(!self.workers.is_empty() && accounts.len() == self.workers.len());
        self.leading
            .set(accounts, held.contains_key(&LockKey::Scheduler));
    }
}

/// Waits until the tasks `ids` of `tasks` have ended (they were told to stop).
async fn wait_for(tasks: &mut JoinSet<()>, ids: impl IntoIterator<Item = tokio::task::Id>) {
    let mut ending: std::collections::HashSet<tokio::task::Id> = ids.into_iter().collect();
    while !ending.is_empty() {
        match tasks.join_next_with_id().await {
            Some(Ok((id, ()))) => {
                ending.remove(&id);
            }
            Some(Err(e)) => {
                ending.remove(&e.id());
            }
            None => break,
        }
    }
}

/// Waits `check`; true when shutting down.
async fn wait(shutdown: &CancellationToken, check: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(check) => false,
    }
}

/// Wakes `workers` whenever another replica queues rows (PostgreSQL `LISTEN` on
/// [`OUTBOX_CHANNEL`]), until `stop`. A lost connection is opened again; the senders' own
/// poll covers the moments without one.
pub async fn listen(store: Store, workers: Vec<Worker>, stop: CancellationToken) {
    let url = store.connect_options().database_url.to_string();
    loop {
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect(&url).await?;
            l.listen(OUTBOX_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = stop.cancelled() => return,
            l = listener => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for queued rows failed; retrying");
                    if wait(&stop, CHECK).await {
                        return;
                    }
                    continue;
                }
            },
        };
        loop {
            let got = tokio::select! {
                _ = stop.cancelled() => return,
                n = listener.recv() => n,
            };
            match got {
                Ok(_) => {
                    for w in &workers {
                        w.wake();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for queued rows failed; retrying");
                    break;
                }
            }
        }
        if wait(&stop, CHECK).await {
            return;
        }
    }
}
