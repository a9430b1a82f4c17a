//! Zalo Official Account API v3. Webhooks carry `X-ZEvent-Signature: mac=<hex>`, a plain
//! SHA-256 over app id (or OA id), raw body, timestamp and OA secret; anything else is
//! refused. Delivery sends consultation messages within the 7-day interaction window, with
//! buttons as `oa.query.show` taps that come back as the button's text. The access token is
//! renewed with single-use, rotating refresh tokens kept in the database ([`Tokens`]).

mod account;
mod check;
mod config;
mod deliver;
mod routes;
mod token;
mod webhook;

use std::sync::Arc;

pub use account::ZaloAccount;

pub use config::ZaloConfig;
pub use deliver::{WINDOW_MS, Zalo, classify};
pub use token::{TOKEN_NAME, Tokens};
pub use webhook::{signature_ok, to_inbounds};

use crate::accounts::{AccountFile, AccountInfo, FileKey, KeyKind};
use crate::domain::Platform;
use crate::platform::Adapter;

/// The zalo account configured in the environment (see [`ZaloConfig`]).
pub fn accounts(get: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Vec<Arc<dyn Adapter>>> {
    Ok(ZaloConfig::from_lookup(get)?
        .map(|c| {
            Arc::new(ZaloAccount::new(AccountInfo::of_platform(Platform::Zalo), c))
                as Arc<dyn Adapter>
        })
        .into_iter()
        .collect())
}

/// A Zalo entry of an accounts file: each key stands for the variable of the single OA (see
/// [`ZaloConfig`]).
pub const FILE: AccountFile = AccountFile {
    platform: Platform::Zalo,
    keys: &[
        key("app_id", "ZALO_APP_ID", KeyKind::Own),
        key("oa_id", "ZALO_OA_ID", KeyKind::Own),
        key("oa_secret_env", "ZALO_OA_SECRET", KeyKind::Secret),
        key("app_secret_env", "ZALO_SECRET_KEY", KeyKind::Secret),
        key("refresh_token_env", "ZALO_REFRESH_TOKEN", KeyKind::Secret),
        key("api_url", "ZALO_API_URL", KeyKind::Own),
        key("oauth_url", "ZALO_OAUTH_URL", KeyKind::Own),
        key("limits.sends_per_second", "ZALO_SENDS_PER_SECOND", KeyKind::Shared),
        key("limits.free_window_hours", "ZALO_FREE_WINDOW_HOURS", KeyKind::Shared),
        key("limits.billed_until_days", "ZALO_BILLED_UNTIL_DAYS", KeyKind::Shared),
        key("limits.price_per_message", "ZALO_PRICE_PER_MESSAGE", KeyKind::Shared),
        key("limits.monthly_budget", "ZALO_MONTHLY_BUDGET", KeyKind::Shared),
    ],
    build: |info, get| {
        let config = ZaloConfig::from_lookup(get)?
            .ok_or_else(|| anyhow::anyhow!("a Zalo account needs `app_id`"))?;
        Ok(Arc::new(ZaloAccount::new(info, config)))
    },
};

const fn key(key: &'static str, var: &'static str, kind: KeyKind) -> FileKey {
    FileKey { key, var, kind }
}
