//! The scheduler: once a second it moves broadcast progress along
//! ([`crate::broadcast::step`]), queues the reminders that are due inside the daytime window
//! ([`crate::reminders`]) and the leaders' daily digests at their local time
//! ([`crate::digest`]), and wakes the senders when it queued anything.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::store::Store;

/// What one [`Scheduler::tick`] queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Progress edits queued.
    pub progress_edits: usize,
    /// Broadcasts finished (summary queued).
    pub finished: usize,
    /// Reminders queued.
    pub reminders: i64,
    /// Digests queued.
    pub digests: usize,
}

/// Queues progress edits, reminders and digests.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    settings: Arc<Settings>,
    ready: Arc<Notify>,
}

impl Scheduler {
    /// A scheduler over `store`; `ready` wakes the senders when it queues something.
    pub fn new(store: Store, settings: Arc<Settings>, ready: Arc<Notify>) -> Scheduler {
        Scheduler {
            store,
            settings,
            ready,
        }
    }

    /// Does everything that is due now.
    pub async fn tick(&self) -> Result<Tick> {
        let advanced = crate::broadcast::step::advance(&self.store, &self.settings).await?;
        let tick = Tick {
            progress_edits: advanced.progress_edits,
            finished: advanced.finished,
            reminders: crate::reminders::queue_due(&self.store, &self.settings).await?,
            digests: crate::digest::queue_due(&self.store, &self.settings).await?,
        };
        if tick != Tick::default() {
            self.ready.notify_waiters();
            self.ready.notify_one();
        }
        Ok(tick)
    }

    /// Runs [`Scheduler::tick`] every second until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!(error = ?e, "scheduler tick failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
