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

/// The Telegram bot configured in the environment (`TELOXIDE_TOKEN`, see [`TelegramConfig`]).
pub fn accounts(
    get: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn crate::platform::Adapter>>> {
    Ok(TelegramConfig::from_lookup(get)?
        .map(|c| Arc::new(TelegramAccount::new(c)) as Arc<dyn crate::platform::Adapter>)
        .into_iter()
        .collect())
}
