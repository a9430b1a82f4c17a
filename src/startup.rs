//! Wiring: the pool, the engine, the platform accounts, the workers and the HTTP server, run
//! until a stop signal. `main.rs` only parses the command line and calls in here. Each
//! configured account ([`Settings::accounts`]) is started the same way: its sending half
//! gets an outbox worker at its own limits, its webhook routes are mounted under
//! `/webhooks/<account id>`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::conversation::Engine;
use crate::outbox::{Delivery, Scheduler, Worker, WorkerConfig};
use crate::platform::StartContext;
use crate::platform::inbox::Inbox;
use crate::store::Store;

/// The bundled sample units (Long An, 2020).
pub const SAMPLE_UNITS: &str = include_str!("../assets/units/long_an_2020.csv");

/// A built application: a migrated store and an engine, ready to run.
pub struct App {
    /// The settings it was built from.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// The conversation engine.
    pub engine: Engine,
    /// Wakes the outbox workers when something is queued.
    pub outbox_ready: Arc<Notify>,
}

impl App {
    /// Connects to the database, applies migrations and builds the engine.
    pub async fn build(settings: Settings) -> Result<App> {
        App::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Like [`App::build`], with an injected clock.
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> Result<App> {
        let store = Store::connect(&settings.database_url, clock).await?;
        store.migrate().await?;
        let settings = Arc::new(settings);
        let outbox_ready = Arc::new(Notify::new());
        let engine = Engine::new(store.clone(), settings.clone(), outbox_ready.clone());
        Ok(App {
            settings,
            store,
            engine,
            outbox_ready,
        })
    }

    /// Runs every configured platform, the outbox workers and the HTTP server until
    /// `shutdown` is cancelled; then lets work in flight finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(self.settings.listen)
            .await
            .with_context(|| format!("listening on {}", self.settings.listen))?;
        self.run_on(listener, shutdown).await
    }

    /// [`App::run_until_stopped`] with the HTTP server on an already bound listener (tests
    /// bind 127.0.0.1:0 and read the port first); `/metrics` on `BLUEZONE_METRICS_LISTEN`.
    pub async fn run_on(
        self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let metrics = match self.settings.metrics_listen {
            // The bot serves its people without metrics rather than not at all.
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot listen for /metrics (BLUEZONE_METRICS_LISTEN); running without metrics");
                    None
                }
            },
            None => None,
        };
        self.run_with_metrics(listener, metrics, shutdown).await
    }

    /// [`App::run_on`] with `/metrics` on an already bound listener of its own (or none).
    pub async fn run_with_metrics(
        self,
        listener: tokio::net::TcpListener,
        metrics: Option<tokio::net::TcpListener>,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let tracker = TaskTracker::new();
        let settings = self.settings.clone();
        if !settings.accounts.iter().any(|a| a.serves()) {
            anyhow::bail!(
                "no platform is configured: set TELOXIDE_TOKEN, MESSENGER_PAGE_ACCESS_TOKEN or ZALO_APP_ID, or list accounts in BLUEZONE_ACCOUNTS_FILE (or use `bluezone-bot chat` to try the bot in the terminal)"
            );
        }
        warn_if_no_units(&self.store).await;
        warn_if_roots_unknown(&self.store, &settings).await;
        // Every source of events feeds this one pipeline.
        let inbox = Inbox::new(self.engine.clone());
        // Each account's sender runs in one replica at a time, the replicas sharing the
        // accounts; the scheduler runs in one (see `outbox::lead`).
        let mut delivery = Delivery::new();
        let mut mounts = Vec::new();
        let start = StartContext {
            store: &self.store,
            settings: &settings,
            inbox: &inbox,
            platforms: self.engine.platforms(),
            tracker: &tracker,
            shutdown: &shutdown,
        };
        for account in settings.accounts.iter().filter(|a| a.serves()) {
            let started = account.start(&start).await?;
            // Each account's rate limits are decided here, by its worker, and nowhere else.
            let limits = started.deliver.limits();
            self.engine
                .platforms()
                .register_limits(account.account_id(), limits);
            let worker = Worker::with_config(
                self.store.clone(),
                started.deliver,
                self.outbox_ready.clone(),
                WorkerConfig::from_settings(&settings, limits),
                Arc::new(SystemClock),
            );
            delivery.add_account(worker, started.led);
            if let Some(routes) = started.routes {
                mounts.push((account.platform(), account.account_id().to_string(), routes));
            }
        }
        // Webhook event claims are kept three days, then forgotten (hourly).
        let (claims, stop) = (inbox.clone(), shutdown.clone());
        tracker.spawn(async move {
            loop {
                claims.purge_claims().await;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                }
            }
        });
        // Broadcast progress, reminders and digests.
        delivery.set_scheduler(Scheduler::new(
            self.store.clone(),
            settings.clone(),
            self.outbox_ready.clone(),
        ));
        tracker.spawn(delivery.run(self.store.clone(), shutdown.clone()));
        if let Ok(tz) = settings.campaign.tz() {
            tracker.spawn(crate::coverage::snapshot::run(
                self.store.clone(),
                tz,
                shutdown.clone(),
            ));
        }
        let router = crate::http::router(mounts);
        let addr = listener.local_addr().context("the listener's address")?;
        tracing::info!(%addr, "HTTP server listening");
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        if let Some(metrics) = metrics {
            let addr = metrics
                .local_addr()
                .context("the metrics listener's address")?;
            tracing::info!(%addr, "metrics listening");
            let router =
                crate::http::metrics_router(self.store.clone(), settings.metrics_token.clone());
            let stop = shutdown.clone();
            tracker.spawn(async move {
                let served = axum::serve(metrics, router)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "metrics server failed");
                }
            });
        }
        tracker.close();
        shutdown.cancelled().await;
        tracing::info!("stopping: finishing work in flight");
        tracker.wait().await;
        self.store.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs a warning for each account whose root unit is not imported: its people could choose
/// no unit.
async fn warn_if_roots_unknown(store: &Store, settings: &Settings) {
    for account in &settings.accounts {
        if let Some(root) = account.root_unit()
            && let Ok(None) = store.unit(&root).await
        {
            tracing::warn!(account = account.account_id(), %root, "the account's root unit is not imported: its people can choose no unit");
        }
    }
}

/// Logs a clear warning when no units are imported: citizens could not choose theirs (they
/// are taken straight to the guide) and coverage would be empty.
pub(crate) async fn warn_if_no_units(store: &Store) {
    match store.unit_count().await {
        Ok(0) => tracing::warn!(
            "no units are imported: citizens cannot choose their unit and coverage is empty. \
             Run `bluezone-bot units import UNITS.csv` (or `bluezone-bot units import --sample` for a trial)"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "counting the units failed"),
    }
}
