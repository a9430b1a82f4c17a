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

pub use config::MessengerConfig;
pub use deliver::{Messenger, WINDOW_MS, classify};
pub use webhook::{signature_ok, to_inbounds, verify_handshake};

/// The messenger account configured in the environment (see [`MessengerConfig`]).
pub fn accounts(
    get: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn crate::platform::Adapter>>> {
    Ok(MessengerConfig::from_lookup(get)?
        .map(|c| Arc::new(MessengerAccount::new(c)) as Arc<dyn crate::platform::Adapter>)
        .into_iter()
        .collect())
}
