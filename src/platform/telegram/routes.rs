//! The webhook route of one Telegram bot: the secret token header is checked before the
//! body is read as anything; the update id is the event's claim.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use teloxide::types::Update;

use super::account::secret_ok;
use super::to_inbound;
use crate::domain::Platform;
use crate::metrics;
use crate::platform::Inbound;
use crate::platform::inbox::{Inbox, Source};

struct Hook {
    inbox: Inbox,
    source: Arc<Source>,
    /// The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    secret: String,
    /// The bot's username (commands addressed `/cmd@bot`).
    username: String,
}

/// `POST /` for the bot `account` whose webhook secret is `secret`; its update ids are
/// claimed as `<account>.webhook.<id>` (update ids are per bot).
pub fn router(
    inbox: Inbox,
    account: &crate::domain::AccountId,
    secret: String,
    username: String,
) -> Router {
    // Telegram has real buttons and names the sender in every update.
    let source = inbox.register(Source {
        account: Some(account.clone()),
        claim_prefix: format!("{account}.webhook"),
        ..Source::default()
    });
    Router::new().route("/", post(webhook)).with_state(Arc::new(Hook {
        inbox,
        source,
        secret,
        username,
    }))
}

async fn webhook(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !secret_ok(given, &hook.secret) {
        metrics::record_refused_webhook(Platform::Telegram);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(update) = serde_json::from_slice::<Update>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let key = update.id.0.to_string();
    let events: Vec<(String, Inbound)> = to_inbound(&update, &hook.username)
        .map(|i| (key.clone(), i))
        .into_iter()
        .collect();
    if events.is_empty() {
        // Still claim the id, so a retry of an ignored update stays ignored.
        hook.inbox.claim_ignored(&hook.source, &key).await;
        return StatusCode::OK;
    }
    hook.inbox.take_claimed(&hook.source, events).await.status()
}
