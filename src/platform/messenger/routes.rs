//! The webhook routes of one Page: the verification handshake (`GET`) and signed event
//! batches (`POST`, refused unless `X-Hub-Signature-256` checks out).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Messenger, MessengerConfig, signature_ok, to_inbounds, verify_handshake};
use crate::domain::Platform;
use crate::platform::inbox::{Inbox, Source, signed_json};

struct Hook {
    inbox: Inbox,
    source: Arc<Source>,
    config: Arc<MessengerConfig>,
}

/// `GET /` (handshake) and `POST /` (events) for the Page `account` in `config`; its events
/// are claimed as `<account>.event.<id>`.
pub fn router(
    inbox: &Inbox,
    account: &str, config: Arc<MessengerConfig>, messenger: Arc<Messenger>) -> Router {
    let source = inbox.register(Source {
        account: Some(config.account.clone()),
        profiles: Some(messenger),
        // Buttons that do not fit are numbered lines: a typed number presses one.
        typed_choices: true,
        claim_prefix: format!("{account}.event"),
    });
    Router::new()
        .route("/", get(handshake).post(webhook))
        .with_state(Arc::new(Hook {
            inbox: inbox.clone(),
            source,
            config,
        }))
}

async fn handshake(
    State(hook): State<Arc<Hook>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match verify_handshake(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
        hook.config.verify_token.expose(),
    ) {
        Some(challenge) => (StatusCode::OK, challenge).into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

async fn webhook(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    let signed = signature_ok(sig, &body, hook.config.app_secret.expose());
    let value = match signed_json(Platform::Messenger, signed, &body) {
        Ok(value) => value,
        Err(status) => return status,
    };
    let events = to_inbounds(&value);
    hook.inbox.take_claimed(&hook.source, events).await.status()
}
