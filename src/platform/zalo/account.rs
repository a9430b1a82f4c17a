//! One Zalo Official Account as an [`Adapter`]: `zalo.me` links, what Zalo can do, and its
//! start-up (the token keeper, then its webhook route).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Tokens, Zalo, ZaloConfig, routes};
use crate::doctor::{Check, CheckContext};
use crate::domain::{Platform, StartPayload};
use crate::platform::adapter::{Adapter, Capabilities, StartContext, Started};

/// How often the token keeper checks the access token.
const TOKEN_CHECK: Duration = Duration::from_secs(600);

/// One Zalo OA account.
#[derive(Debug)]
pub struct ZaloAccount {
    config: Arc<ZaloConfig>,
}

impl ZaloAccount {
    /// The OA in `config`.
    pub fn new(config: ZaloConfig) -> ZaloAccount {
        ZaloAccount {
            config: Arc::new(config),
        }
    }
}

#[async_trait::async_trait]
impl Adapter for ZaloAccount {
    fn account_id(&self) -> &str {
        "zalo"
    }

    fn platform(&self) -> Platform {
        Platform::Zalo
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits_messages: false,
            max_text: super::deliver::MAX_TEXT,
            max_buttons: super::deliver::MAX_BUTTONS,
            max_label: super::deliver::MAX_TITLE,
            // Free for 48 hours after the last interaction, billed until 7 days (within
            // the monthly budget; none by default: billing off), refused after.
            reach: self.config.reach_rules(),
            links_for_others: false,
        }
    }

    /// OA links carry no payload: the OA's link followed by the command to type
    /// (`https://zalo.me/<oa id> /start u_794`).
    fn deep_link(&self, payload: &StartPayload) -> Option<String> {
        Some(format!(
            "https://zalo.me/{} /start {}",
            self.config.oa_id,
            payload.encode()
        ))
    }

    /// The OA's link (`https://zalo.me/<oa id>`); the command to type is in the text.
    fn share_url(&self, _link: &str, _text: &str) -> Option<String> {
        Some(format!("https://zalo.me/{}", self.config.oa_id))
    }

    async fn start(&self, ctx: &StartContext<'_>) -> Result<Started> {
        let tokens = Tokens::load(self.config.clone(), ctx.store.clone())
            .await
            .context("loading the Zalo tokens")?;
        ctx.tracker
            .spawn(tokens.clone().keep_fresh(TOKEN_CHECK, ctx.shutdown.clone()));
        let tz = ctx
            .settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        let zalo = Arc::new(
            Zalo::new(self.config.clone(), ctx.store.clone(), tokens).in_time_zone(tz),
        );
        let routes = routes::router(ctx.inbox, self.account_id(), self.config.clone(), zalo.clone());
        tracing::info!("Zalo OA enabled: webhook at /webhooks/{}", self.account_id());
        Ok(Started {
            deliver: zalo,
            routes: Some(routes),
        })
    }

    /// A working access token (got as `serve` gets one), and the OA it opens.
    async fn check(&self, ctx: &CheckContext<'_>) -> Vec<Check> {
        super::check::checks(self.account_id(), &self.config, ctx).await
    }
}
