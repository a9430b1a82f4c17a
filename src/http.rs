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

use crate::domain::Platform;
use crate::metrics;
use crate::platform::inbox::{self, Inbox, Source, Taken};
use crate::platform::messenger::{self, MessengerConfig};
use crate::platform::profile::Profiles;
use crate::platform::zalo::{self, ZaloConfig};
use crate::platform::{Event, Inbound, telegram};

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
    inbox: Inbox,
    /// How each platform's events are taken in.
    sources: HashMap<Platform, Arc<Source>>,
    telegram: Option<TelegramHook>,
    messenger: Option<Arc<MessengerConfig>>,
    zalo: Option<Arc<ZaloConfig>>,
}

/// The router for `routes`. Routes of platforms that are not configured answer 404.
pub fn router(inbox: Inbox, routes: Routes) -> Router {
    let mut sources = HashMap::new();
    for (platform, prefix) in [
        (Platform::Telegram, "telegram.webhook"),
        (Platform::Messenger, "messenger.event"),
        (Platform::Zalo, "zalo.event"),
    ] {
        let profiles = routes
            .profiles
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, p)| p.clone());
        let source = inbox.register(Source {
            profiles,
            // Telegram has real buttons; elsewhere a number or a label may press one.
            typed_choices: platform != Platform::Telegram,
            claim_prefix: prefix.into(),
        });
        sources.insert(platform, source);
    }
    let shared = Arc::new(Shared {
        inbox,
        sources,
        telegram: routes.telegram,
        messenger: routes.messenger,
        zalo: routes.zalo,
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
    let source = &s.sources[&Platform::Telegram];
    if events.is_empty() {
        // Still claim the id, so a retry of an ignored update stays ignored.
        s.inbox
            .claim_ignored(source, &update.id.0.to_string())
            .await;
        return StatusCode::OK;
    }
    status(s.inbox.take_claimed(source, events).await)
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
    let events = messenger::to_inbounds(&value);
    status(
        s.inbox
            .take_claimed(&s.sources[&Platform::Messenger], events)
            .await,
    )
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
    // Cleaned before the follower is looked up by id (the inbox cleans again, harmlessly).
    let mut events: Vec<(String, Inbound)> = zalo::to_inbounds(&value)
        .into_iter()
        .map(|(key, inbound)| (key, inbound.cleaned()))
        .collect();
    // A new follower is greeted as if they had sent /start (following opens the window).
    for (_, inbound) in events.iter_mut() {
        if inbound.event == Event::Unblocked
            && let Ok(None) = s
                .inbox
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
    status(
        s.inbox
            .take_claimed(&s.sources[&Platform::Zalo], events)
            .await,
    )
}

/// The answer a platform gets for a batch of claimed events.
fn status(taken: Taken) -> StatusCode {
    match taken {
        Taken::Handled => StatusCode::OK,
        Taken::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Taken::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Forgets webhook event claims older than three days (platforms retry for hours at most).
pub async fn purge_claims(store: &crate::store::Store) {
    inbox::purge_claims(
        store,
        &["telegram.webhook", "messenger.event", "zalo.event"],
    )
    .await;
}
