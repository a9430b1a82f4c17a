//! The only platform-aware code. Each adapter turns its platform's updates into [`Inbound`]
//! events for the conversation engine and delivers rendered [`Outgoing`] messages from the
//! outbox, classifying failures as [`DeliveryError`] so the outbox can decide what to do.

pub mod adapter;
pub mod chat_lock;
pub mod choices;
pub mod console;
pub mod group_admins;
pub mod inbox;
mod message;
pub mod plain;
pub mod profile;

/// Declares each platform's folder and lists it in [`PLATFORMS`].
macro_rules! platforms {
    ($($name:ident),* $(,)?) => {
        $(pub mod $name;)*
        /// Every platform the service can run, each reading its accounts from the
        /// environment in its own folder (`<name>::accounts`).
        pub const PLATFORMS: &[ReadAccounts] = &[$($name::accounts),*];
        /// How each platform's accounts are written in an accounts file (`<name>::FILE`).
        pub const ACCOUNT_FILES: &[crate::accounts::AccountFile] = &[$($name::FILE),*];
    };
}

// The registration line: a new platform is its folder `src/platform/<name>/` (with a
// `pub fn accounts` and a `pub const FILE`) and its name here.
platforms![telegram, messenger, zalo];

pub use adapter::{
    AccountStatus, Adapter, Capabilities, LeadTask, Platforms, ReadAccounts, StartContext, Started,
};

pub use message::{
    Chat, ChatKind, Delivered, DeliveryError, Event, Inbound, OutButton, Outgoing, PhotoRef,
    Sender, clean_line, clean_text,
};

use crate::domain::{ChatAddress, Platform};
use crate::outbox::PlatformLimits;

/// Sends one rendered message to one chat. Implemented by every platform adapter.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// The platform this adapter talks to.
    fn platform(&self) -> Platform;

    /// The account it sends as: its worker claims this account's outbox rows (by default
    /// the platform's single account, named after the platform).
    fn account_id(&self) -> &str {
        self.platform().as_str()
    }

    /// The platform's rate limits for this account, which the outbox worker keeps to (none
    /// by default: the console).
    fn limits(&self) -> PlatformLimits {
        PlatformLimits::unlimited()
    }

    /// Sends `message` to `to` and reports what happened.
    async fn deliver(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError>;

    /// Sends `message` to `to` as outbox row `row` (the outbox calls this): a platform that
    /// bills messages needs to know the row (to reserve its price once) and its broadcast
    /// (what its leader chose to spend). By default the same as [`Deliver::deliver`].
    async fn deliver_row(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
        row: SendContext,
    ) -> Result<Delivered, DeliveryError> {
        let _ = row;
        self.deliver(to, message).await
    }

    /// The account's paid broadcast mode, if it has one (Telegram's `allow_paid_broadcast`):
    /// the outbox sends a paid broadcast's rows at its rate, within its Star budget.
    fn paid_speed(&self) -> Option<crate::reach::PaidSpeed> {
        None
    }

    /// Sends one message of a paid broadcast (the platform bills it). Without a paid mode it
    /// is an ordinary [`Deliver::deliver`].
    async fn deliver_paid(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        self.deliver(to, message).await
    }
}

/// What the outbox knows of a message beyond its address and content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendContext {
    /// The outbox row (`None`: sent outside the outbox).
    pub row_id: Option<i64>,
    /// The broadcast the row belongs to, if any.
    pub broadcast_id: Option<i64>,
}

/// Every configured account of every platform, read through `get`.
pub fn accounts_from_lookup(
    get: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<std::sync::Arc<dyn Adapter>>> {
    let mut all = Vec::new();
    for read in PLATFORMS {
        all.extend(read(get)?);
    }
    Ok(all)
}
