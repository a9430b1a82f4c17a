//! Telegram, through teloxide's Bot API client. Updates arrive by long polling or through the
//! webhook route; both feed [`to_inbound`]. Delivery goes through [`Telegram`], which maps
//! Bot API errors to [`DeliveryError`](super::DeliveryError) classes. Rate limiting is decided
//! in one place, the outbox worker; teloxide's own `Throttle` adaptor is not used.

mod account;
mod check;
mod config;
mod deliver;
mod group_admins;
mod polling;
mod routes;
mod updates;

use std::sync::Arc;

pub use account::{TelegramAccount, derived_webhook_secret};
pub use config::{TelegramConfig, limits};
pub use deliver::{Telegram, classify};
pub use polling::{polling_client, polling_client_timeout, run_polling, set_commands};
pub use updates::to_inbound;

use crate::accounts::{AccountFile, AccountInfo, FileKey, KeyKind};
use crate::domain::Platform;
use crate::platform::Adapter;

/// The Telegram bot configured in the environment (`TELOXIDE_TOKEN`, see [`TelegramConfig`]).
pub fn accounts(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Vec<Arc<dyn Adapter>>> {
    Ok(TelegramConfig::from_lookup(get)?
        .map(|c| {
            Arc::new(TelegramAccount::new(AccountInfo::of_platform(Platform::Telegram), c))
                as Arc<dyn Adapter>
        })
        .into_iter()
        .collect())
}

/// A Telegram entry of an accounts file: each key stands for the variable of the single
/// bot (see [`TelegramConfig`]).
pub const FILE: AccountFile = AccountFile {
    platform: Platform::Telegram,
    keys: &[
        key("token_env", "TELOXIDE_TOKEN", KeyKind::Secret),
        key("api_url", "TELOXIDE_API_URL", KeyKind::Own),
        key("username", "BLUEZONE_BOT_USERNAME", KeyKind::Own),
        key("webhook_secret_env", "BLUEZONE_WEBHOOK_SECRET", KeyKind::Secret),
        key("limits.global_per_sec", "BLUEZONE_TG_GLOBAL_PER_SEC", KeyKind::Shared),
        key("limits.private_per_sec", "BLUEZONE_TG_PRIVATE_PER_SEC", KeyKind::Shared),
        key("limits.private_burst", "BLUEZONE_TG_PRIVATE_BURST", KeyKind::Shared),
        key("limits.group_per_min", "BLUEZONE_TG_GROUP_PER_MIN", KeyKind::Shared),
        key("limits.answers_per_sec", "BLUEZONE_TG_ANSWERS_PER_SEC", KeyKind::Shared),
        key("limits.poll_timeout_secs", "BLUEZONE_TG_POLL_TIMEOUT_SECS", KeyKind::Shared),
        key("limits.rate_margin", "BLUEZONE_RATE_MARGIN", KeyKind::Shared),
        key("limits.paid_per_sec", "BLUEZONE_TG_PAID_PER_SEC", KeyKind::Shared),
        key("limits.paid_stars_per_msg", "BLUEZONE_TG_PAID_STARS_PER_MSG", KeyKind::Shared),
        key("limits.paid_star_budget", "BLUEZONE_TG_PAID_STAR_BUDGET", KeyKind::Shared),
    ],
    build: |info, get| {
        let config = TelegramConfig::from_lookup(get)?.ok_or_else(|| {
            anyhow::anyhow!("a Telegram account needs `token_env` (or a `username` to link to)")
        })?;
        Ok(Arc::new(TelegramAccount::new(info, config)))
    },
};

const fn key(key: &'static str, var: &'static str, kind: KeyKind) -> FileKey {
    FileKey { key, var, kind }
}
