//! Starting Messenger and Zalo: their outbox workers, Zalo's token keeper and their webhook
//! routes. Called by [`startup`](crate::startup) next to Telegram.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::domain::Platform;
use crate::http::Routes;
use crate::outbox::{PlatformLimits, Worker, WorkerConfig};
use crate::platform::Deliver;
use crate::platform::messenger::Messenger;
use crate::platform::profile::Profiles;
use crate::platform::zalo::{Tokens, Zalo};
use crate::store::Store;

/// How often the Zalo token keeper checks the access token.
const TOKEN_CHECK: Duration = Duration::from_secs(600);

/// Starts every configured platform other than Telegram and adds its webhook route; starts
/// the hourly clean-up of old webhook event claims.
pub async fn start_others(
    store: &Store,
    outbox_ready: &Arc<Notify>,
    settings: &Settings,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
    routes: &mut Routes,
    delivery: &mut crate::outbox::Delivery,
) -> Result<()> {
    // Webhook event claims are kept three days, then forgotten (hourly).
    let (store2, stop) = (store.clone(), shutdown.clone());
    tracker.spawn(async move {
        loop {
            crate::http::purge_claims(&store2).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    });
    if let Some(cfg) = settings.messenger.clone() {
        let cfg = Arc::new(cfg);
        let messenger = Messenger::new(cfg.clone(), store.clone());
        if let Err(e) = messenger.set_get_started().await {
            tracing::warn!(error = %e, "setting Messenger's Get started button failed");
        }
        let messenger = Arc::new(messenger);
        routes
            .profiles
            .push((Platform::Messenger, messenger.clone() as Arc<dyn Profiles>));
        let worker = worker(
            store,
            messenger,
            outbox_ready,
            settings,
            cfg.sends_per_second,
        );
        delivery.add_worker(worker);
        routes.messenger = Some(cfg);
        tracing::info!("Messenger enabled: webhook at /webhooks/messenger");
    }
    if let Some(cfg) = settings.zalo.clone() {
        let cfg = Arc::new(cfg);
        let tokens = Tokens::load(cfg.clone(), store.clone())
            .await
            .context("loading the Zalo tokens")?;
        tracker.spawn(tokens.clone().keep_fresh(TOKEN_CHECK, shutdown.clone()));
        let zalo = Zalo::new(cfg.clone(), store.clone(), tokens);
        let zalo = Arc::new(zalo);
        routes
            .profiles
            .push((Platform::Zalo, zalo.clone() as Arc<dyn Profiles>));
        let worker = worker(store, zalo, outbox_ready, settings, cfg.sends_per_second);
        delivery.add_worker(worker);
        routes.zalo = Some(cfg);
        tracing::info!("Zalo OA enabled: webhook at /webhooks/zalo");
    }
    Ok(())
}

/// An outbox worker for `deliver` at `per_second` requests over all chats (Messenger and Zalo
/// document no per-chat rate). Rates are timed by the system clock, as for Telegram.
fn worker(
    store: &Store,
    deliver: Arc<dyn Deliver>,
    ready: &Arc<Notify>,
    settings: &Settings,
    per_second: u32,
) -> Worker {
    let limits = PlatformLimits {
        global_per_sec: Some(per_second),
        margin: 0.02,
        ..PlatformLimits::unlimited()
    };
    Worker::with_config(
        store.clone(),
        deliver,
        ready.clone(),
        WorkerConfig::from_settings(settings, limits),
        Arc::new(SystemClock),
    )
}
