//! One Facebook Page as an [`Adapter`]: `m.me` links, what Messenger can do, and its
//! start-up (the "Get started" button, then its webhook route).

use std::sync::Arc;

use anyhow::Result;

use super::{Messenger, MessengerConfig, routes};
use crate::doctor::{Check, CheckContext};
use crate::accounts::AccountInfo;
use crate::config::Settings;
use crate::domain::{Platform, StartPayload};
use crate::platform::adapter::{AccountStatus, Adapter, Capabilities, StartContext, Started};
use crate::store::Store;

/// One Messenger Page account.
#[derive(Debug)]
pub struct MessengerAccount {
    /// Its id, root unit and administrators.
    info: AccountInfo,
    config: Arc<MessengerConfig>,
}

impl MessengerAccount {
    /// The Page in `config`, as account `info`.
    pub fn new(info: AccountInfo, mut config: MessengerConfig) -> MessengerAccount {
        config.account = info.id.clone();
        MessengerAccount {
            info,
            config: Arc::new(config),
        }
    }
}

#[async_trait::async_trait]
impl Adapter for MessengerAccount {
    fn account_id(&self) -> &str {
        &self.info.id
    }

    fn root_unit(&self) -> Option<crate::domain::UnitCode> {
        self.info.root.clone()
    }

    fn admins(&self) -> &[String] {
        &self.info.admins
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
        let routes = routes::router(
            ctx.inbox,
            self.account_id(),
            self.config.clone(),
            messenger.clone(),
        );
        tracing::info!(
            "Messenger enabled: webhook at /webhooks/messenger/{}",
            self.account_id()
        );
        Ok(Started {
            deliver: messenger,
            routes: Some(routes),
            led: None,
        })
    }

    /// The Page behind the token, and whether it sends its events to an app's webhook.
    async fn check(&self, _ctx: &CheckContext<'_>) -> Vec<Check> {
        super::check::checks(self.account_id(), &self.config).await
    }

    /// `GET {graph}/{version}/me` with the Page token: the Page's name when it works. Meta
    /// keeps the webhook address in the app's dashboard, so only this service's side is
    /// shown.
    async fn status(&self, _store: &Store, settings: &Settings) -> AccountStatus {
        let base = self.config.graph_url.as_str().trim_end_matches('/');
        let url = format!("{base}/{}/me", self.config.api_version);
        let asked = reqwest::Client::new()
            .get(url)
            .query(&[
                ("fields", "id,name"),
                ("access_token", self.config.page_access_token.expose()),
            ])
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        let credentials = match asked {
            Ok(resp) => match resp.json::<serde_json::Value>().await {
                Ok(v) if v.get("error").is_none() => Ok(v
                    .get("name")
                    .or_else(|| v.get("id"))
                    .and_then(|n| n.as_str())
                    .unwrap_or("ok")
                    .to_string()),
                Ok(v) => Err(format!(
                    "the Page token was refused: {}",
                    v.pointer("/error/message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("error")
                )),
                Err(e) => Err(format!("unreadable answer: {e}")),
            },
            // reqwest names the address; the token is only in its query, which is left out.
            Err(e) => Err(format!("Graph API unreachable: {}", e.without_url())),
        };
        AccountStatus {
            credentials,
            webhook: local_webhook(settings, Platform::Messenger, self.account_id()),
        }
    }
}

/// Where the platform is to post account `account`'s events (set in its dashboard), or why
/// there is no address.
pub(crate) fn local_webhook(settings: &Settings, platform: Platform, account: &str) -> String {
    match &settings.webhook_url {
        Some(public) => match crate::platform::adapter::webhook_address(public, platform, account)
        {
            Ok(url) => format!("webhook {url} (set in the platform's dashboard)"),
            Err(e) => format!("bad BLUEZONE_WEBHOOK_URL: {e}"),
        },
        None => format!(
            "webhook at /webhooks/{platform}/{account} (BLUEZONE_WEBHOOK_URL not set)"
        ),
    }
}
