//! One Telegram bot as an [`Adapter`]: its links (the username Telegram reports, unless
//! `BLUEZONE_BOT_USERNAME` overrides it; nothing made up), what it can do, and its start-up:
//! getMe, the command menu, then the webhook (when a public address is set) or long polling.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use subtle::ConstantTimeEq;
use teloxide::Bot;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;

use super::config::TelegramConfig;
use super::{Telegram, routes, run_polling, set_commands};
use crate::doctor::{Check, CheckContext};
use crate::accounts::AccountInfo;
use crate::config::Settings;
use crate::domain::{Platform, StartPayload};
use crate::platform::adapter::{
    AccountStatus, Adapter, Capabilities, LeadTask, StartContext, Started, webhook_address,
};
use crate::store::Store;

/// One Telegram bot account.
#[derive(Debug)]
pub struct TelegramAccount {
    /// Its id, root unit and administrators.
    info: AccountInfo,
    config: TelegramConfig,
    /// The username Telegram reported (`getMe`), set once at startup.
    reported: OnceLock<String>,
}

impl TelegramAccount {
    /// The account in `config`; its username is still to be learned unless the settings
    /// name it.
    pub fn new(info: AccountInfo, config: TelegramConfig) -> TelegramAccount {
        TelegramAccount {
            info,
            config,
            reported: OnceLock::new(),
        }
    }

    /// Records the username Telegram reported. The first one wins.
    pub fn learn_username(&self, username: &str) {
        let name = username.trim().trim_start_matches('@');
        if !name.is_empty() {
            let _ = self.reported.set(name.to_string());
        }
    }

    /// The username links name: the override, else what Telegram reported.
    pub fn username(&self) -> Option<&str> {
        self.config
            .username
            .as_deref()
            .or_else(|| self.reported.get().map(String::as_str))
    }
}

#[async_trait::async_trait]
impl Adapter for TelegramAccount {
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
        Platform::Telegram
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits_messages: true,
            max_text: 4096,
            max_buttons: 100,
            max_label: 64,
            reach: crate::reach::ReachRules {
                paid_speed: self.config.paid_speed,
                ..crate::reach::ReachRules::ALWAYS_FREE
            },
            links_for_others: true,
        }
    }

    fn serves(&self) -> bool {
        self.config.token.is_some()
    }

    /// `https://t.me/<bot>?start=<payload>`, once the bot's username is known.
    fn deep_link(&self, payload: &StartPayload) -> Option<String> {
        self.username()
            .map(|bot| format!("https://t.me/{bot}?start={}", payload.encode()))
    }

    /// Telegram's share dialog, `https://t.me/share/url?url=<link>&text=<text>`.
    fn share_url(&self, link: &str, text: &str) -> Option<String> {
        if !link.starts_with("https://") {
            return None;
        }
        let mut url = url::Url::parse("https://t.me/share/url").ok()?;
        url.query_pairs_mut()
            .append_pair("url", link)
            .append_pair("text", text);
        Some(url.to_string())
    }

    async fn start(&self, ctx: &StartContext<'_>) -> Result<Started> {
        let token = self
            .config
            .token
            .as_ref()
            .context("Telegram has no TELOXIDE_TOKEN")?;
        let mut bot = Bot::new(token.expose());
        if let Some(url) = &self.config.api_url {
            bot = bot.set_api_url(url.clone());
        }
        let telegram = Telegram::with_limits(bot.clone(), self.config.limits)
            .with_paid_speed(self.config.paid_speed)
            .for_account(self.info.id.clone());
        ctx.platforms
            .register_group_admins(self.account_id(), Arc::new(telegram.clone()));
        let me = bot
            .get_me()
            .await
            .context("Telegram getMe failed (check TELOXIDE_TOKEN)")?;
        // Every bot has a username; commands addressed `/cmd@bot` name this one.
        let reported = me.username.clone().unwrap_or_default();
        self.learn_username(&reported);
        match self.username() {
            Some(linked) if linked != reported => tracing::warn!(
                account = %self.info.id,
                bot = %reported,
                links = %linked,
                "connected to Telegram; BLUEZONE_BOT_USERNAME makes deep links name another bot"
            ),
            _ => tracing::info!(account = %self.info.id, bot = %reported, "connected to Telegram"),
        }
        if let Err(e) = set_commands(&telegram).await {
            tracing::warn!(error = %e, "setting the command menu failed");
        }
        let allowed = vec![
            AllowedUpdate::Message,
            AllowedUpdate::CallbackQuery,
            AllowedUpdate::MyChatMember,
        ];
        let (routes, led) = match &ctx.settings.webhook_url {
            Some(public) => {
                let url = webhook_address(public, Platform::Telegram, self.account_id())
                    .context("BLUEZONE_WEBHOOK_URL")?;
                // Never an open webhook: without a configured secret, one is derived from
                // the bot token (the same on every replica, unknown to whoever lacks it).
                let secret = match &self.config.webhook_secret {
                    Some(s) => s.expose().to_string(),
                    None => derived_webhook_secret(token.expose()),
                };
                bot.set_webhook(url)
                    .allowed_updates(allowed)
                    .secret_token(secret.clone())
                    .await
                    .context("Telegram setWebhook failed")?;
                let routes = routes::router(ctx.inbox.clone(), &self.info.id, secret, reported);
                (Some(routes), None)
            }
            None => {
                bot.delete_webhook()
                    .await
                    .context("Telegram deleteWebhook failed")?;
                // Polled by the replica that leads the bot (see `outbox::lead`), from the
                // offset kept in the database.
                let (inbox, account) = (ctx.inbox.clone(), self.info.id.clone());
                let (poller, timeout) = (telegram.clone(), self.config.poll_timeout_secs);
                let offset_key = format!("{}.update_offset", self.account_id());
                let led: LeadTask = Arc::new(move |stop| {
                    Box::pin(run_polling(
                        inbox.clone(),
                        account.clone(),
                        offset_key.clone(),
                        poller.clone(),
                        reported.clone(),
                        timeout,
                        stop,
                    ))
                });
                (None, Some(led))
            }
        };
        Ok(Started {
            deliver: Arc::new(telegram),
            routes,
            led,
        })
    }

    /// getMe, then getWebhookInfo against the address the settings call for.
    async fn check(&self, ctx: &CheckContext<'_>) -> Vec<Check> {
        super::check::checks(self.account_id(), &self.config, ctx).await
    }

    /// The same questions as `doctor` ([`Adapter::check`]: getMe, then getWebhookInfo
    /// against the address the settings call for), as one line of `accounts list`.
    async fn status(&self, store: &Store, settings: &Settings) -> AccountStatus {
        let ctx = CheckContext {
            settings,
            store: Some(store),
        };
        AccountStatus::from_checks(&self.check(&ctx).await)
    }
}

/// The webhook secret used when none is configured: HMAC-SHA256 of a fixed label under the
/// bot token, in hex (Telegram allows `A-Z a-z 0-9 _ -`, up to 256 characters).
pub fn derived_webhook_secret(token: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(b"bluezone-bot telegram webhook secret");
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the secret header `given` is the expected one (compared in constant time).
pub(super) fn secret_ok(given: &[u8], secret: &str) -> bool {
    bool::from(given.ct_eq(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(vars: &[(&str, &str)]) -> TelegramAccount {
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let config = TelegramConfig::from_lookup(&get)
            .expect("valid")
            .expect("configured");
        TelegramAccount::new(AccountInfo::of_platform(Platform::Telegram), config)
    }

    fn unit() -> StartPayload {
        StartPayload::parse("u_794").expect("payload")
    }

    #[test]
    fn links_name_the_bot_telegram_reports() {
        let a = account(&[("TELOXIDE_TOKEN", "1:x")]);
        // Nothing made up before Telegram has answered.
        assert_eq!(a.deep_link(&unit()), None);
        assert_eq!(a.share_url("/start u_794", "t"), None);
        a.learn_username("@LongAnBot");
        a.learn_username("SomebodyElse");
        assert_eq!(
            a.deep_link(&unit()).as_deref(),
            Some("https://t.me/LongAnBot?start=u_794")
        );
    }

    #[test]
    fn paid_speed_is_part_of_the_reach_rules() {
        let a = account(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BLUEZONE_TG_PAID_STAR_BUDGET", "10000"),
        ]);
        let paid = a.capabilities().reach.paid_speed.expect("paid speed");
        assert_eq!((paid.per_sec, paid.star_tenths_budget), (1000, 100_000));
        // Off by default: Telegram allows paid broadcasts only to eligible bots.
        let off = account(&[("TELOXIDE_TOKEN", "1:x")]);
        assert_eq!(off.capabilities().reach.paid_speed, None);
    }

    #[test]
    fn the_variable_overrides_what_telegram_reports() {
        let a = account(&[("BLUEZONE_BOT_USERNAME", "@Chosen")]);
        assert!(!a.serves(), "a username alone runs no bot");
        a.learn_username("Reported");
        assert_eq!(
            a.deep_link(&unit()).as_deref(),
            Some("https://t.me/Chosen?start=u_794")
        );
    }
}
