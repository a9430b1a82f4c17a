//! Wiring: the pool, the engine, the platforms, the workers and the HTTP server, run until a
//! stop signal. `main.rs` only parses the command line and calls in here.

use std::sync::Arc;

use anyhow::{Context, Result};
use teloxide::Bot;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::conversation::Engine;
use crate::outbox::{Delivery, Scheduler, Worker, WorkerConfig};
use crate::platform::inbox::Inbox;
use crate::platform::telegram::{self, Telegram};
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
        let no_platform =
            settings.telegram.is_none() && settings.messenger.is_none() && settings.zalo.is_none();
        if no_platform {
            anyhow::bail!(
                "no platform is configured: set TELOXIDE_TOKEN, MESSENGER_PAGE_ACCESS_TOKEN or ZALO_APP_ID (or use `bluezone-bot chat` to try the bot in the terminal)"
            );
        }
        warn_if_no_units(&self.store).await;
        let mut routes = crate::http::Routes::default();
        // Every source of events feeds this one pipeline.
        let inbox = Inbox::new(self.engine.clone());
        // The senders and the scheduler run in one replica at a time (see `outbox::lead`).
        let mut delivery = Delivery::new();
        if let Some(tg) = settings.telegram.clone() {
            self.start_telegram(tg, &inbox, &tracker, &shutdown, &mut routes, &mut delivery)
                .await?;
        }
        crate::platform_startup::start_others(
            &self.store,
            &self.outbox_ready,
            &settings,
            &tracker,
            &shutdown,
            &mut routes,
            &mut delivery,
        )
        .await?;
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
        let router = crate::http::router(inbox, routes);
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

    /// Connects to Telegram, starts its outbox worker and either polling or the webhook route.
    async fn start_telegram(
        &self,
        tg: crate::config::TelegramConfig,
        inbox: &Inbox,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
        routes: &mut crate::http::Routes,
        delivery: &mut Delivery,
    ) -> Result<()> {
        let mut bot = Bot::new(tg.token.expose());
        if let Some(url) = &tg.api_url {
            bot = bot.set_api_url(url.clone());
        }
        let telegram = Telegram::new(bot.clone());
        self.engine.group_admins().register(
            crate::domain::Platform::Telegram,
            Arc::new(telegram.clone()),
        );
        let me = bot
            .get_me()
            .await
            .context("Telegram getMe failed (check TELOXIDE_TOKEN)")?;
        // Every bot has a username; commands addressed `/cmd@bot` name this one.
        let username = me.username.clone().unwrap_or_default();
        self.engine.links().learn_telegram_username(&username);
        match self.engine.links().telegram_username() {
            Some(linked) if linked != username => tracing::warn!(
                bot = %username,
                links = %linked,
                "connected to Telegram; BLUEZONE_BOT_USERNAME makes deep links name another bot"
            ),
            _ => tracing::info!(bot = %username, "connected to Telegram"),
        }
        if let Err(e) = telegram::set_commands(&telegram).await {
            tracing::warn!(error = %e, "setting the command menu failed");
        }
        // Telegram's rate limits are decided here, by the worker, and nowhere else.
        let worker = Worker::with_config(
            self.store.clone(),
            Arc::new(telegram.clone()),
            self.outbox_ready.clone(),
            WorkerConfig::from_settings(&self.settings, self.settings.delivery.telegram),
            Arc::new(SystemClock),
        );
        delivery.add_worker(worker);
        match &self.settings.webhook_url {
            Some(public) => {
                // `https://host/prefix` must keep its prefix: join below it, not beside it.
                let mut base = public.clone();
                if !base.path().ends_with('/') {
                    base.set_path(&format!("{}/", base.path()));
                }
                let url = base
                    .join("webhooks/telegram")
                    .context("BLUEZONE_WEBHOOK_URL")?;
                let mut req = bot.set_webhook(url).allowed_updates(vec![
                    AllowedUpdate::Message,
                    AllowedUpdate::CallbackQuery,
                    AllowedUpdate::MyChatMember,
                ]);
                // Never an open webhook: without a configured secret, one is derived from the
                // bot token (the same on every replica, unknown to whoever lacks the token).
                let secret = match &self.settings.webhook_secret {
                    Some(s) => s.expose().to_string(),
                    None => derived_webhook_secret(tg.token.expose()),
                };
                req = req.secret_token(secret.clone());
                req.await.context("Telegram setWebhook failed")?;
                routes.telegram = Some(crate::http::TelegramHook {
                    secret: Some(secret),
                    username: username.clone(),
                });
            }
            None => {
                bot.delete_webhook()
                    .await
                    .context("Telegram deleteWebhook failed")?;
                tracker.spawn(telegram::run_polling(
                    inbox.clone(),
                    telegram.clone(),
                    username.clone(),
                    self.settings.delivery.tg_poll_timeout_secs,
                    shutdown.clone(),
                ));
            }
        }
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

/// The webhook secret used when none is configured: HMAC-SHA256 of a fixed label under the
/// bot token, in hex (Telegram allows `A-Z a-z 0-9 _ -`, up to 256 characters).
pub fn derived_webhook_secret(token: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(b"bluezone-bot telegram webhook secret");
    hex::encode(mac.finalize().into_bytes())
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
