//! Facebook Messenger through the Graph API Send API. Webhook POSTs are signed with the app
//! secret (`X-Hub-Signature-256`) and refused unless the signature checks out; messages,
//! quick replies, postbacks and `m.me` referrals become [`Inbound`](super::Inbound) events.
//! Delivery turns buttons into a button template (at most 3), quick replies (at most 13) or
//! numbered text, and keeps to the 24-hour standard messaging window.

mod account;
mod check;
mod config;
mod deliver;
mod plan;
mod routes;
mod webhook;

use std::sync::Arc;

pub use account::MessengerAccount;
pub(crate) use account::local_webhook;

pub use config::MessengerConfig;
pub use deliver::{Messenger, WINDOW_MS, classify};
pub use webhook::{signature_ok, to_inbounds, verify_handshake};

use crate::accounts::{AccountFile, AccountInfo, FileKey, KeyKind};
use crate::domain::Platform;
use crate::platform::Adapter;

/// The messenger account configured in the environment (see [`MessengerConfig`]).
pub fn accounts(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Vec<Arc<dyn Adapter>>> {
    Ok(MessengerConfig::from_lookup(get)?
        .map(|c| {
            Arc::new(MessengerAccount::new(AccountInfo::of_platform(Platform::Messenger), c))
                as Arc<dyn Adapter>
        })
        .into_iter()
        .collect())
}

/// A Messenger entry of an accounts file: each key stands for the variable of the single
/// Page (see [`MessengerConfig`]).
pub const FILE: AccountFile = AccountFile {
    platform: Platform::Messenger,
    keys: &[
        key("page_id", "MESSENGER_PAGE_ID", KeyKind::Own),
        key("page_access_token_env", "MESSENGER_PAGE_ACCESS_TOKEN", KeyKind::Secret),
        key("app_secret_env", "MESSENGER_APP_SECRET", KeyKind::Secret),
        key("verify_token_env", "MESSENGER_VERIFY_TOKEN", KeyKind::Secret),
        key("api_url", "MESSENGER_GRAPH_URL", KeyKind::Own),
        key("api_version", "MESSENGER_API_VERSION", KeyKind::Own),
        key("limits.sends_per_second", "MESSENGER_SENDS_PER_SECOND", KeyKind::Shared),
        key("limits.window_hours", "MESSENGER_WINDOW_HOURS", KeyKind::Shared),
    ],
    build: |info, get| {
        let config = MessengerConfig::from_lookup(get)?.ok_or_else(|| {
            anyhow::anyhow!("a Messenger account needs `page_access_token_env` and `app_secret_env`")
        })?;
        Ok(Arc::new(MessengerAccount::new(info, config)))
    },
};

const fn key(key: &'static str, var: &'static str, kind: KeyKind) -> FileKey {
    FileKey { key, var, kind }
}
