//! The only platform-aware code. Each adapter turns its platform's updates into [`Inbound`]
//! events for the conversation engine and delivers rendered [`Outgoing`] messages from the
//! outbox, classifying failures as [`DeliveryError`] so the outbox can decide what to do.

pub mod chat_lock;
pub mod choices;
pub mod console;
pub mod deep_link;
pub mod group_admins;
pub mod inbox;
mod message;
pub mod messenger;
pub mod plain;
pub mod profile;
pub mod telegram;
pub mod zalo;

pub use message::{
    Chat, ChatKind, Delivered, DeliveryError, Event, Inbound, OutButton, Outgoing, PhotoRef,
    Sender, clean_line, clean_text,
};

use crate::domain::{ChatAddress, Platform};

/// Sends one rendered message to one chat. Implemented by every platform adapter.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// The platform this adapter talks to.
    fn platform(&self) -> Platform;

    /// Sends `message` to `to` and reports what happened.
    async fn deliver(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError>;
}
