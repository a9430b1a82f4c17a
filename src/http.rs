//! The public HTTP server (platform webhooks and `/healthz`) and, on its own listener, the
//! Prometheus `/metrics` ([`metrics_router`]): counters and queue depths are no business of
//! whoever can reach the webhooks.
//!
//! Every webhook route checks its platform's proof of origin before reading the body as
//! anything (Telegram: the secret token header; Messenger: the HMAC of the raw body; Zalo:
//! the SHA-256 mac), answers 403/401 to forgeries without processing them, and drops
//! retried deliveries by their event id (claimed in the database before handling, released
//! when handling fails so the platform's retry is handled).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;
use teloxide::types::Update;

use crate::conversation::Engine;
use crate::domain::Platform;
use crate::metrics;
use crate::platform::messenger::{self, MessengerConfig};
use crate::platform::profile::Profiles;
use crate::platform::zalo::{self, ZaloConfig};
use crate::platform::{Event, Inbound, choices, telegram};

/// What the Telegram webhook route needs.
pub struct TelegramHook {
    /// The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret: Option<String>,
    /// The bot's username (commands addressed `/cmd@bot`).
    pub username: String,
}

/// Which routes to serve.
#[derive(Default)]
pub struct Routes {
    /// Telegram in webhook mode.
    pub telegram: Option<TelegramHook>,
    /// Messenger, when configured.
    pub messenger: Option<Arc<MessengerConfig>>,
    /// Zalo, when configured.
    pub zalo: Option<Arc<ZaloConfig>>,
    /// Where to ask a new person's name, per platform (webhooks that carry only an id).
    pub profiles: Vec<(Platform, Arc<dyn Profiles>)>,
}

struct Shared {
    engine: Engine,
    profiles: Vec<(Platform, Arc<dyn Profiles>)>,
    telegram: Option<TelegramHook>,
    messenger: Option<Arc<MessengerConfig>>,
    zalo: Option<Arc<ZaloConfig>>,
    /// One inbound event per chat at a time.
    chats: crate::platform::chat_lock::ChatLocks,
}

/// The router for `routes`. Routes of platforms that are not configured answer 404.
pub fn router(engine: Engine, routes: Routes) -> Router {
    let shared = Arc::new(Shared {
        engine,
        profiles: routes.profiles,
        telegram: routes.telegram,
        messenger: routes.messenger,
        zalo: routes.zalo,
        chats: Default::default(),
    });
    let mut router = Router::new().route("/healthz", get(|| async { "ok" }));
    if shared.telegram.is_some() {
        router = router.route("/webhooks/telegram", post(telegram_webhook));
    }
    if shared.messenger.is_some() {
        router = router.route(
            "/webhooks/messenger",
            get(messenger_handshake).post(messenger_webhook),
        );
    }
    if shared.zalo.is_some() {
        router = router.route("/webhooks/zalo", post(zalo_webhook));
    }
    router.with_state(shared)
}

/// What the metrics listener needs.
struct MetricsState {
    store: crate::store::Store,
    /// The bearer token a scrape must show, when one is configured.
    token: Option<crate::config::Secret>,
}

/// The router of the metrics listener: `GET /metrics` (behind `Authorization: Bearer <token>`
/// when `token` is set) and `/healthz`; nothing else.
pub fn metrics_router(store: crate::store::Store, token: Option<crate::config::Secret>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_route))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(MetricsState { store, token }))
}

async fn metrics_route(AxState(s): AxState<Arc<MetricsState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
            )
                .into_response();
        }
    }
    let depth = s.store.outbox_depth().await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "reading the outbox depth failed");
        Vec::new()
    });
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&depth),
    )
        .into_response()
}

async fn telegram_webhook(
    AxState(s): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(hook) = &s.telegram else {
        return StatusCode::NOT_FOUND;
    };
    if let Some(secret) = &hook.secret {
        let given = headers
            .get("x-telegram-bot-api-secret-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(given.ct_eq(secret.as_bytes())) {
            metrics::record_refused_webhook(Platform::Telegram);
            return StatusCode::UNAUTHORIZED;
        }
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let events: Vec<(String, Inbound)> = telegram::to_inbound(&update, &hook.username)
        .map(|i| (update.id.0.to_string(), i))
        .into_iter()
        .collect();
    if events.is_empty() {
        // Still claim the id, so a retry of an ignored update stays ignored.
        let _ = s
            .engine
            .store()
            .kv_insert_new(
                &format!("telegram.webhook.{}", update.id.0),
                &s.engine.store().now().to_string(),
            )
            .await;
        return StatusCode::OK;
    }
    handle_events(&s, Platform::Telegram, "telegram.webhook", events).await
}

async fn messenger_handshake(
    AxState(s): AxState<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(cfg) = &s.messenger else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match messenger::verify_handshake(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
        cfg.verify_token.expose(),
    ) {
        Some(challenge) => (StatusCode::OK, challenge).into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

async fn messenger_webhook(
    AxState(s): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(cfg) = &s.messenger else {
        return StatusCode::NOT_FOUND;
    };
    let sig = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    if !messenger::signature_ok(sig, &body, cfg.app_secret.expose()) {
        metrics::record_refused_webhook(Platform::Messenger);
        tracing::warn!("Messenger webhook with a missing or bad signature refused");
        return StatusCode::FORBIDDEN;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let events = cleaned(messenger::to_inbounds(&value));
    handle_events(&s, Platform::Messenger, "messenger.event", events).await
}

async fn zalo_webhook(
    AxState(s): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(cfg) = &s.zalo else {
        return StatusCode::NOT_FOUND;
    };
    let sig = headers.get("x-zevent-signature").map(|v| v.as_bytes());
    if !zalo::signature_ok(sig, &body, &cfg.app_id, &cfg.oa_id, cfg.oa_secret.expose()) {
        metrics::record_refused_webhook(Platform::Zalo);
        tracing::warn!("Zalo webhook with a missing or bad signature refused");
        return StatusCode::FORBIDDEN;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut events = cleaned(zalo::to_inbounds(&value));
    // A new follower is greeted as if they had sent /start (following opens the window).
    for (_, inbound) in events.iter_mut() {
        if inbound.event == Event::Unblocked
            && let Ok(None) = s
                .engine
                .store()
                .person_by_platform_id(Platform::Zalo, &inbound.sender.user_id)
                .await
        {
            inbound.event = Event::Command {
                name: "start".into(),
                args: String::new(),
            };
        }
    }
    handle_events(&s, Platform::Zalo, "zalo.event", events).await
}

/// Webhook events with every platform string (event ids included) made safe to store.
fn cleaned(events: Vec<(String, Inbound)>) -> Vec<(String, Inbound)> {
    events
        .into_iter()
        .map(|(mut key, inbound)| {
            crate::platform::clean_line(&mut key);
            (key, inbound.cleaned())
        })
        .collect()
}

/// The claim prefixes of webhook events, for [`purge_claims`].
pub const CLAIM_PREFIXES: [&str; 3] = ["telegram.webhook", "messenger.event", "zalo.event"];

/// Forgets event claims older than three days (platforms retry for hours at most).
pub async fn purge_claims(store: &crate::store::Store) {
    let before = store.now() - 3 * 24 * 3600 * 1000;
    for prefix in CLAIM_PREFIXES {
        match store.purge_event_claims(prefix, before).await {
            Ok(n) if n > 0 => tracing::debug!(prefix, n, "old webhook claims forgotten"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, prefix, "forgetting old webhook claims failed"),
        }
    }
}

/// How long a claimed event may be in hand before a retry of it takes over (the first
/// attempt crashed): longer than any handling takes.
const CLAIM_LEASE_MS: i64 = 30_000;

/// What a webhook event's claim says.
enum Claim {
    /// Ours to handle.
    Mine,
    /// Handled before: answer 200 and do nothing.
    Done,
    /// Another attempt is handling it right now: ask the platform to retry later.
    Busy,
}

/// Claims `claim` (`prefix.key`) for this attempt. The claim holds the time it was taken; a
/// `.done` key beside it says the event was handled. A claim left by an attempt that died
/// before finishing is taken over once [`CLAIM_LEASE_MS`] has passed, so a crash between
/// claiming and handling loses nothing.
async fn claim_event(store: &crate::store::Store, claim: &str) -> anyhow::Result<Claim> {
    let now = store.now();
    if store.kv_insert_new(claim, &now.to_string()).await? {
        return Ok(Claim::Mine);
    }
    if store.kv_get(&format!("{claim}.done")).await?.is_some() {
        return Ok(Claim::Done);
    }
    let Some(held) = store.kv_get(claim).await? else {
        // Released by a failed attempt just now: the platform's next retry takes it.
        return Ok(Claim::Busy);
    };
    let since = held.parse::<i64>().unwrap_or(0);
    if now - since < CLAIM_LEASE_MS {
        return Ok(Claim::Busy);
    }
    if store.kv_replace(claim, &held, &now.to_string()).await? {
        tracing::warn!(
            claim,
            "taking over a webhook event an earlier attempt did not finish"
        );
        Ok(Claim::Mine)
    } else {
        Ok(Claim::Busy)
    }
}

/// Handles webhook events once each: claims `prefix.key` first (a retry finds it taken, or
/// takes it over when the attempt holding it died), turns typed choices into presses, and
/// lets the engine do the rest. A failure releases the claim and answers 500, so the
/// platform retries; an event still in hand answers 503 for the same reason. The other
/// events of a batch are handled either way.
async fn handle_events(
    s: &Shared,
    platform: Platform,
    prefix: &str,
    events: Vec<(String, Inbound)>,
) -> StatusCode {
    let engine = &s.engine;
    let mut status = StatusCode::OK;
    for (key, mut inbound) in events {
        let claim = format!("{prefix}.{key}");
        match claim_event(engine.store(), &claim).await {
            Ok(Claim::Mine) => {}
            Ok(Claim::Done) => continue,
            Ok(Claim::Busy) => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                continue;
            }
            Err(e) => {
                tracing::error!(error = ?e, "claiming a webhook event failed");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        // Telegram has real buttons; elsewhere a number or a label may press one.
        if platform != Platform::Telegram
            && let Event::Text(text) = &inbound.event
        {
            match choices::resolve(engine.store(), platform, &inbound.chat.id, text).await {
                Ok(Some(pressed)) => inbound.event = pressed,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = ?e, "reading numbered choices failed"),
            }
        }
        name_sender(s, platform, &mut inbound).await;
        // One event per chat at a time on this replica: two quick messages do not both work
        // from the same saved state.
        let handled = {
            let _turn = s
                .chats
                .lock(&format!("{platform}:{}", inbound.chat.id))
                .await;
            engine.handle(&inbound).await
        };
        match handled {
            Ok(()) => {
                let done = format!("{claim}.done");
                if let Err(e) = engine
                    .store()
                    .kv_insert_new(&done, &engine.store().now().to_string())
                    .await
                {
                    // The claim stays: a retry after the lease handles it again rather than
                    // never.
                    tracing::warn!(error = ?e, "marking a webhook event handled failed");
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, %platform, "webhook event failed");
                let _ = engine.store().kv_delete(&claim).await;
                status = StatusCode::INTERNAL_SERVER_ERROR;
            }
        }
    }
    status
}

/// Fills in the sender's name where the webhook gave none: the stored one, or (for a new
/// account, or one still without a name) the platform's, asked once.
async fn name_sender(s: &Shared, platform: Platform, inbound: &mut Inbound) {
    if !inbound.sender.display_name.is_empty() {
        return;
    }
    let Some((_, profiles)) = s.profiles.iter().find(|(p, _)| *p == platform) else {
        return;
    };
    let user = inbound.sender.user_id.clone();
    match s
        .engine
        .store()
        .person_by_platform_id(platform, &user)
        .await
    {
        Ok(Some(p)) if !p.display_name.is_empty() => inbound.sender.display_name = p.display_name,
        Ok(_) => {
            if let Some(mut name) = profiles.display_name(&user).await {
                // The platform's profile is as untrusted as its webhooks.
                crate::platform::clean_line(&mut name);
                inbound.sender.display_name = name;
            }
        }
        Err(e) => tracing::warn!(error = ?e, "reading a person failed"),
    }
}
