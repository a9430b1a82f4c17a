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

/// The zalo account configured in the environment (see [`ZaloConfig`]).
pub fn accounts(
    get: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn crate::platform::Adapter>>> {
    Ok(ZaloConfig::from_lookup(get)?
        .map(|c| Arc::new(ZaloAccount::new(c)) as Arc<dyn crate::platform::Adapter>)
        .into_iter()
        .collect())
}
