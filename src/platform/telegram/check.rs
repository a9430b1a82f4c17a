//! What `bluezone-bot doctor` asks Telegram of one bot: whether the token works (getMe) and
//! whether the webhook is the one the settings call for (getWebhookInfo): the bot's own
//! address under `BLUEZONE_WEBHOOK_URL`, or none in long-polling mode.

use teloxide::Bot;
use teloxide::prelude::Requester;

use super::config::TelegramConfig;
use crate::doctor::{Check, CheckContext};

/// The checks of the bot `account` configured by `config`.
pub(super) async fn checks(
    account: &str,
    config: &TelegramConfig,
    ctx: &CheckContext<'_>,
) -> Vec<Check> {
    let credentials = format!("{account} credentials");
    let webhook = format!("{account} webhook");
    let Some(token) = &config.token else {
        return vec![Check::fail(credentials, "no TELOXIDE_TOKEN")];
    };
    let hide = [token.expose()];
    let mut bot = Bot::new(token.expose());
    if let Some(url) = &config.api_url {
        bot = bot.set_api_url(url.clone());
    }
    let me = match bot.get_me().await {
        Ok(me) => me,
        Err(e) => {
            return vec![
                Check::fail(credentials, format!("getMe failed: {:#}", anyhow::Error::from(e)))
                    .hiding(&hide),
                Check::fail(webhook, "not checked: the token does not work"),
            ];
        }
    };
    let reported = me.username.clone().unwrap_or_default();
    let mut found = format!("bot @{reported} (getMe)");
    if let Some(linked) = config.username.as_deref().filter(|l| *l != reported) {
        found.push_str(&format!("; deep links name @{linked} (BLUEZONE_BOT_USERNAME)"));
    }
    let mut out = vec![Check::ok(credentials, found)];
    let expected = match &ctx.settings.webhook_url {
        Some(public) => match crate::platform::adapter::webhook_address(public, crate::domain::Platform::Telegram, account) {
            Ok(url) => Some(url),
            Err(e) => {
                out.push(Check::fail(webhook, format!("BLUEZONE_WEBHOOK_URL: {e:#}")));
                return out;
            }
        },
        None => None,
    };
    let info = match bot.get_webhook_info().await {
        Ok(info) => info,
        Err(e) => {
            let why = format!("getWebhookInfo failed: {:#}", anyhow::Error::from(e));
            out.push(Check::fail(webhook, why).hiding(&hide));
            return out;
        }
    };
    let pending = info.pending_update_count;
    let last_error = match (&info.last_error_date, &info.last_error_message) {
        (Some(at), Some(message)) => {
            format!("; last delivery error {}: {message}", at.format("%Y-%m-%d %H:%M UTC"))
        }
        _ => String::new(),
    };
    let check = match (expected, info.url) {
        (Some(want), Some(set)) if want == set => {
            Check::ok(webhook, format!("{set}, {pending} updates pending{last_error}"))
        }
        (Some(want), Some(set)) => Check::fail(
            webhook,
            format!("Telegram posts to {set}, but the settings expect {want} (serve sets it at start)"),
        ),
        (Some(want), None) => Check::fail(
            webhook,
            format!("none set; the settings expect {want} (serve sets it at start)"),
        ),
        (None, None) => Check::ok(webhook, "none: long polling (no BLUEZONE_WEBHOOK_URL)"),
        (None, Some(set)) => Check::fail(
            webhook,
            format!(
                "Telegram posts to {set}, but BLUEZONE_WEBHOOK_URL is not set: serve would \
                 delete that webhook and poll (does another deployment use this bot?)"
            ),
        ),
    };
    out.push(check.hiding(&hide));
    out
}
