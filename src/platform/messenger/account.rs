//! One Facebook Page as an [`Adapter`]: `m.me` links, what Messenger can do, and its
//! start-up (the "Get started" button, then its webhook route).

use std::sync::Arc;

use anyhow::Result;

use super::{Messenger, MessengerConfig, routes};
use crate::doctor::{Check, CheckContext};
use crate::domain::{Platform, StartPayload};
use crate::platform::adapter::{Adapter, Capabilities, StartContext, Started};

/// One Messenger Page account.
#[derive(Debug)]
pub struct MessengerAccount {
    config: Arc<MessengerConfig>,
}

impl MessengerAccount {
    /// The Page in `config`.
    pub fn new(config: MessengerConfig) -> MessengerAccount {
        MessengerAccount {
            config: Arc::new(config),
        }
    }
}

#[async_trait::async_trait]
impl Adapter for MessengerAccount {
    fn account_id(&self) -> &str {
        "messenger"
    }

    fn platform(&self) -> Platform {
        Platform::Messenger
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits_messages: false,
            max_text: super::plan::MAX_TEXT,
            max_buttons: super::plan::MAX_QUICK_REPLIES,
            max_label: super::plan::MAX_TITLE,
            // Free for 24 hours after the person's last message, then unreachable.
            reach: self.config.reach_rules(),
            links_for_others: false,
        }
    }

    /// `https://m.me/<page>?ref=<payload>`; the `ref` comes back in a referral event, which
    /// the webhook turns into `/start <payload>`.
    fn deep_link(&self, payload: &StartPayload) -> Option<String> {
        Some(format!(
            "https://m.me/{}?ref={}",
            self.config.page_id,
            payload.encode()
        ))
    }

    /// The `m.me` link itself (Messenger's own forward carries it on).
    fn share_url(&self, link: &str, _text: &str) -> Option<String> {
        link.starts_with("https://").then(|| link.to_string())
    }

    async fn start(&self, ctx: &StartContext<'_>) -> Result<Started> {
        let tz = ctx
            .settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        let messenger = Messenger::new(self.config.clone(), ctx.store.clone()).in_time_zone(tz);
        if let Err(e) = messenger.set_get_started().await {
            tracing::warn!(error = %e, "setting Messenger's Get started button failed");
        }
        let messenger = Arc::new(messenger);
        let routes = routes::router(ctx.inbox, self.account_id(), self.config.clone(), messenger.clone());
        tracing::info!(
            "Messenger enabled: webhook at /webhooks/{}",
            self.account_id()
        );
        Ok(Started {
            deliver: messenger,
            routes: Some(routes),
        })
    }

    /// The Page behind the token, and whether it sends its events to an app's webhook.
    async fn check(&self, _ctx: &CheckContext<'_>) -> Vec<Check> {
        super::check::checks(self.account_id(), &self.config).await
    }
}
