//! Wiring: the pool, the engine, the platforms, the workers and the HTTP server, run until a
//! stop signal. `main.rs` only parses the command line and calls in here.

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use teloxide::Bot;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, Update};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::conversation::Engine;
use crate::outbox::Worker;
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
    /// bind 127.0.0.1:0 and read the port first).
    pub async fn run_on(
        self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let tracker = TaskTracker::new();
        let mut router = Router::new().route("/healthz", get(|| async { "ok" }));
        let Some(tg) = self.settings.telegram.clone() else {
            anyhow::bail!(
                "no platform is configured: set TELOXIDE_TOKEN (or use `bluezone-bot chat` to try the bot in the terminal)"
            );
        };
        let mut bot = Bot::new(tg.token.expose());
        if let Some(url) = &tg.api_url {
            bot = bot.set_api_url(url.clone());
        }
        let telegram = Telegram::new(bot.clone());
        let me = bot
            .get_me()
            .await
            .context("Telegram getMe failed (check TELOXIDE_TOKEN)")?;
        let username = me
            .username
            .clone()
            .unwrap_or_else(|| self.settings.bot_username.clone());
        tracing::info!(bot = %username, "connected to Telegram");
        if let Err(e) = telegram::set_commands(&telegram).await {
            tracing::warn!(error = %e, "setting the command menu failed");
        }
        let worker = Worker::new(
            self.store.clone(),
            Arc::new(telegram.clone()),
            self.outbox_ready.clone(),
        );
        tracker.spawn(worker.run(shutdown.clone()));
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
                if let Some(secret) = &self.settings.webhook_secret {
                    req = req.secret_token(secret.expose().to_string());
                }
                req.await.context("Telegram setWebhook failed")?;
                let state = Arc::new(WebhookState {
                    engine: self.engine.clone(),
                    secret: self
                        .settings
                        .webhook_secret
                        .as_ref()
                        .map(|s| s.expose().to_string()),
                    username: username.clone(),
                });
                router = router.route(
                    "/webhooks/telegram",
                    post(telegram_webhook).with_state(state),
                );
            }
            None => {
                bot.delete_webhook()
                    .await
                    .context("Telegram deleteWebhook failed")?;
                tracker.spawn(telegram::run_polling(
                    self.engine.clone(),
                    telegram.clone(),
                    username.clone(),
                    25,
                    shutdown.clone(),
                ));
            }
        }
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
        tracker.close();
        shutdown.cancelled().await;
        tracing::info!("stopping: finishing work in flight");
        tracker.wait().await;
        self.store.close().await;
        Ok(())
    }
}

struct WebhookState {
    engine: Engine,
    secret: Option<String>,
    username: String,
}

async fn telegram_webhook(
    AxState(state): AxState<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if let Some(secret) = &state.secret {
        let given = headers
            .get("x-telegram-bot-api-secret-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(given.ct_eq(secret.as_bytes())) {
            return StatusCode::UNAUTHORIZED;
        }
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    // Telegram retries non-2xx answers: a retried update is recognised by its id. The id is
    // claimed before handling, so retries that overlap the first attempt are not handled too.
    let key = format!("telegram.webhook.{}", update.id.0);
    match state.engine.store().kv_insert_new(&key, "1").await {
        Ok(true) => {}
        Ok(false) => return StatusCode::OK,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE,
    }
    if let Some(inbound) = telegram::to_inbound(&update, &state.username)
        && let Err(e) = state.engine.handle(&inbound).await
    {
        tracing::error!(error = ?e, "webhook update failed");
        // Let Telegram's retry be handled.
        let _ = state.engine.store().kv_delete(&key).await;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
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
