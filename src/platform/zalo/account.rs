//! One Zalo Official Account as an [`Adapter`]: `zalo.me` links, what Zalo can do, and its
//! start-up (the token keeper, then its webhook route).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Tokens, Zalo, ZaloConfig, routes};
use crate::doctor::{Check, CheckContext};
use crate::accounts::AccountInfo;
use crate::config::Settings;
use crate::domain::{Platform, StartPayload};
use crate::platform::adapter::{AccountStatus, Adapter, Capabilities, StartContext, Started};
use crate::store::Store;

/// How often the token keeper checks the access token.
const TOKEN_CHECK: Duration = Duration::from_secs(600);

/// One Zalo OA account.
#[derive(Debug)]
pub struct ZaloAccount {
    /// Its id, root unit and administrators.
    info: AccountInfo,
    config: Arc<ZaloConfig>,
}

impl ZaloAccount {
    /// The OA in `config`, as account `info`.
    pub fn new(info: AccountInfo, mut config: ZaloConfig) -> ZaloAccount {
        config.account = info.id.clone();
        ZaloAccount {
            info,
            config: Arc::new(config),
        }
    }
}

#[async_trait::async_trait]
impl Adapter for ZaloAccount {
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
        tracing::info!(
            "Zalo OA enabled: webhook at /webhooks/zalo/{}",
            self.account_id()
        );
        Ok(Started {
            deliver: zalo,
            routes: Some(routes),
            led: None,
        })
    }

    /// A working access token (got as `serve` gets one), and the OA it opens.
    async fn check(&self, ctx: &CheckContext<'_>) -> Vec<Check> {
        super::check::checks(self.account_id(), &self.config, ctx).await
    }

    /// The stored access token (the OA's single-use refresh tokens are never spent here):
    /// whether Zalo accepts it (`GET /v2.0/oa/getoa`), or why there is none.
    async fn status(&self, store: &Store, settings: &Settings) -> AccountStatus {
        let webhook = crate::platform::messenger::local_webhook(
            settings,
            Platform::Zalo,
            self.account_id(),
        );
        let row = match store.token(&self.config.account).await {
            Ok(row) => row,
            Err(e) => {
                return AccountStatus {
                    credentials: Err(format!("reading the stored tokens failed: {e}")),
                    webhook,
                };
            }
        };
        let credentials = match row.and_then(|r| r.access_token.map(|a| (a, r.access_expires_at))) {
            None => Err("no access token yet: one is obtained from ZALO_REFRESH_TOKEN when the OA starts".into()),
            Some((_, expires)) if expires <= store.now() => {
                Err("the stored access token has expired: it is renewed when the OA runs".into())
            }
            Some((access, _)) => {
                let url = format!(
                    "{}/v2.0/oa/getoa",
                    self.config.api_url.as_str().trim_end_matches('/')
                );
                let asked = reqwest::Client::new()
                    .get(url)
                    .header("access_token", access)
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await;
                match asked {
                    Ok(resp) => match resp.json::<serde_json::Value>().await {
                        Ok(v) if v.get("error").and_then(|e| e.as_i64()) == Some(0) => Ok(v
                            .pointer("/data/name")
                            .and_then(|n| n.as_str())
                            .unwrap_or(&self.config.oa_id)
                            .to_string()),
                        Ok(v) => Err(format!(
                            "the access token was refused: {}",
                            v.get("message").and_then(|m| m.as_str()).unwrap_or("error")
                        )),
                        Err(e) => Err(format!("unreadable answer: {e}")),
                    },
                    Err(e) => Err(format!("Zalo unreachable: {}", e.without_url())),
                }
            }
        };
        AccountStatus {
            credentials,
            webhook,
        }
    }
}
