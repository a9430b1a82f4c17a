//! The delivery tasks (one sender per platform and the scheduler) run in the replica that
//! holds the delivery lease ([`Store::try_lead`]); the other replicas answer webhooks and
//! queue messages, and take over within seconds when the leader stops or dies. What they
//! queue wakes the leader's senders through PostgreSQL's `NOTIFY` ([`listen`]); what the
//! leader queues itself wakes them in-process.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Scheduler, Worker};
use crate::store::{Backend, OUTBOX_CHANNEL, Store};

/// How often a follower asks for the lease, and a leader checks it still holds it.
const CHECK: Duration = Duration::from_secs(2);

/// The senders and the scheduler, started together while this replica leads.
#[derive(Default)]
pub struct Delivery {
    workers: Vec<Worker>,
    scheduler: Option<Scheduler>,
}

impl Delivery {
    /// Nothing yet.
    pub fn new() -> Delivery {
        Delivery::default()
    }

    /// Adds a platform's sender.
    pub fn add_worker(&mut self, worker: Worker) {
        self.workers.push(worker);
    }

    /// Sets the scheduler (progress, reminders, digests).
    pub fn set_scheduler(&mut self, scheduler: Scheduler) {
        self.scheduler = Some(scheduler);
    }

    /// Leads whenever it can until `shutdown`; then the tasks finish what is in flight.
    pub async fn run(self, store: Store, shutdown: CancellationToken) {
        loop {
            let lease = match store.try_lead().await {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    tracing::debug!("another replica leads delivery");
                    if wait(&shutdown).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "asking for the delivery lease failed");
                    if wait(&shutdown).await {
                        return;
                    }
                    continue;
                }
            };
            tracing::info!("leading delivery: sending from this replica");
            store.set_leading(true);
            let stop = shutdown.child_token();
            let tasks = TaskTracker::new();
            for w in &self.workers {
                tasks.spawn(w.clone().run(stop.clone()));
            }
            // Replies queued by the other replicas wake the senders at once.
            if store.backend() == Backend::Postgres {
                tasks.spawn(listen(store.clone(), self.workers.clone(), stop.clone()));
            }
            if let Some(s) = &self.scheduler {
                tasks.spawn(s.clone().run(stop.clone()));
            }
            tasks.close();
            let mut lease = lease;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(CHECK) => {
                        if !lease.holds().await {
                            tracing::warn!("lost the delivery lease; stopping the senders");
                            stop.cancel();
                            break;
                        }
                    }
                }
            }
            tasks.wait().await;
            store.set_leading(false);
            lease.release().await;
            if shutdown.is_cancelled() {
                return;
            }
        }
    }
}

/// Waits [`CHECK`]; true when shutting down.
async fn wait(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(CHECK) => false,
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
                    if wait(&stop).await {
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
        if wait(&stop).await {
            return;
        }
    }
}
