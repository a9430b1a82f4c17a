//! The webhook route of one OA: events are refused unless `X-ZEvent-Signature` checks out;
//! a new follower is greeted as if they had sent `/start`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::{Zalo, ZaloConfig, signature_ok, to_inbounds};
use crate::domain::Platform;
use crate::platform::inbox::{Inbox, Source, signed_json};
use crate::platform::{Event, Inbound};

struct Hook {
    inbox: Inbox,
    source: Arc<Source>,
    config: Arc<ZaloConfig>,
}

/// `POST /` for the OA `account` in `config`; its events are claimed as
/// `<account>.event.<id>`.
pub fn router(
    inbox: &Inbox,
    account: &str, config: Arc<ZaloConfig>, zalo: Arc<Zalo>) -> Router {
    let source = inbox.register(Source {
        account: Some(config.account.clone()),
        profiles: Some(zalo),
        // A tapped button comes back as its label; numbered lines as their number.
        typed_choices: true,
        claim_prefix: format!("{account}.event"),
    });
    Router::new().route("/", post(webhook)).with_state(Arc::new(Hook {
        inbox: inbox.clone(),
        source,
        config,
    }))
}

async fn webhook(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let cfg = &hook.config;
    let sig = headers.get("x-zevent-signature").map(|v| v.as_bytes());
    let signed = signature_ok(sig, &body, &cfg.app_id, &cfg.oa_id, cfg.oa_secret.expose());
    let value = match signed_json(Platform::Zalo, signed, &body) {
        Ok(value) => value,
        Err(status) => return status,
    };
    // Cleaned before the follower is looked up by id (the inbox cleans again, harmlessly).
    let mut events: Vec<(String, Inbound)> = to_inbounds(&value)
        .into_iter()
        .map(|(key, inbound)| (key, inbound.cleaned()))
        .collect();
    // A new follower is greeted as if they had sent /start (following opens the window).
    for (_, inbound) in events.iter_mut() {
        if inbound.event == Event::Unblocked
            && let Ok(None) = hook
                .inbox
                .store()
                .person_by_platform_id(&hook.config.account, &inbound.sender.user_id)
                .await
        {
            inbound.event = Event::Command {
                name: "start".into(),
                args: String::new(),
            };
        }
    }
    hook.inbox.take_claimed(&hook.source, events).await.status()
}
