//! Long polling and the command menu.

use std::time::Duration;

use anyhow::Context;
use teloxide::Bot;
use teloxide::payloads::{GetUpdatesSetters, SetMyCommandsSetters};
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, BotCommand};
use tokio_util::sync::CancellationToken;

use super::Telegram;
use super::updates::to_inbound;
use crate::conversation::keys::*;
use crate::domain::Locale;
use crate::i18n::{Key, Msg, render};
use crate::platform::inbox::{Inbox, Source};


/// The commands shown in Telegram's menu, per language.
const MENU: &[(&str, &Key)] = &[
    ("start", &CMD_START),
    ("guide", &CMD_GUIDE),
    ("installed", &CMD_INSTALLED),
    ("status", &CMD_STATUS),
    ("language", &CMD_LANGUAGE),
    ("help", &CMD_HELP),
    ("stop", &CMD_STOP),
];

/// Sets the command menu for each language, and the default (Vietnamese) one.
pub async fn set_commands(telegram: &Telegram) -> anyhow::Result<()> {
    for locale in Locale::ALL {
        let commands: Vec<BotCommand> = MENU
            .iter()
            .map(|(name, key)| BotCommand::new(*name, render(locale, &Msg::new(key))))
            .collect();
        telegram
            .bot()
            .set_my_commands(commands.clone())
            .language_code(locale.code())
            .await?;
        if locale == Locale::default() {
            telegram.bot().set_my_commands(commands).await?;
        }
    }
    Ok(())
}

/// How much longer than the poll's own timeout the HTTP client waits for its answer: Telegram
/// holds an idle `getUpdates` for the whole timeout, then answers (with some network delay).
const POLL_GRACE_SECS: u64 = 10;

/// The HTTP client for long polling: its timeout exceeds the poll's, or every idle poll ends
/// in a client error (teloxide's default client gives up after 17 s). `TELOXIDE_PROXY` is
/// honoured as teloxide does.
pub fn polling_client(poll_timeout_secs: u32) -> anyhow::Result<reqwest::Client> {
    let mut builder = teloxide::net::default_reqwest_settings()
        .timeout(polling_client_timeout(poll_timeout_secs));
    if let Ok(proxy) = std::env::var("TELOXIDE_PROXY") {
        builder = builder.proxy(reqwest::Proxy::all(proxy).context("TELOXIDE_PROXY")?);
    }
    builder.build().context("building the polling HTTP client")
}

/// The polling client's timeout for a poll of `poll_timeout_secs`.
pub fn polling_client_timeout(poll_timeout_secs: u32) -> Duration {
    Duration::from_secs(u64::from(poll_timeout_secs) + POLL_GRACE_SECS)
}

/// Polls for updates until `shutdown`, handing each to the [`Inbox`] in order (the offset
/// keeps an update from being handled twice, so no claim is taken). The offset is saved
/// after each update. Polling has a client of its own ([`polling_client`]); messages are
/// sent with the adapter's.
pub async fn run_polling(
    inbox: Inbox,
    // The account the updates are for.
    account: crate::domain::AccountId,
    // Where the last handled update id is kept (`<account>.update_offset`), so a restart
    // neither loses nor repeats updates.
    offset_key: String,
    telegram: Telegram,
    bot_username: String,
    poll_timeout_secs: u32,
    shutdown: CancellationToken,
) {
    // Telegram has real buttons and names the sender in every update.
    let source = Source {
        account: Some(account),
        ..Source::default()
    };
    let mut offset: i32 = match inbox.store().kv_get(&offset_key).await {
        Ok(Some(v)) => v.parse().unwrap_or(0),
        _ => 0,
    };
    let bot = match polling_client(poll_timeout_secs) {
        Ok(client) => {
            Bot::with_client(telegram.bot().token(), client).set_api_url(telegram.bot().api_url())
        }
        Err(e) => {
            tracing::error!(error = ?e, "polling with the default client");
            telegram.bot().clone()
        }
    };
    let mut failures: u32 = 0;
    loop {
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(poll_timeout_secs)
            .allowed_updates(vec![
                AllowedUpdate::Message,
                AllowedUpdate::CallbackQuery,
                AllowedUpdate::MyChatMember,
            ]);
        let updates = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = request => r,
        };
        match updates {
            Ok(updates) => {
                failures = 0;
                for update in updates {
                    if let Some(inbound) = to_inbound(&update, &bot_username)
                        && let Err(e) = inbox.take(&source, inbound).await
                    {
                        tracing::error!(error = ?e, update = update.id.0, "update failed");
                    }
                    offset = update.id.0 as i32 + 1;
                    if let Err(e) = inbox.store().kv_set(&offset_key, &offset.to_string()).await {
                        tracing::error!(error = ?e, "saving the update offset failed");
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let wait = crate::backoff::Backoff {
                    base: Duration::from_secs(1),
                    cap: Duration::from_secs(30),
                    jitter: false,
                }
                .delay(failures);
                tracing::warn!(error = %e, ?wait, "getUpdates failed");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::polling_client_timeout;

    #[test]
    fn the_polling_client_outlives_the_poll() {
        // teloxide's default client gives up after 17 s: shorter than the 25 s poll.
        for poll in [0, 2, 25, 50] {
            assert!(polling_client_timeout(poll) >= Duration::from_secs(u64::from(poll) + 5));
        }
    }
}
