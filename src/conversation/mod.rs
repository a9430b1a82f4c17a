//! The conversation: platform-free. The engine turns one [`Inbound`](crate::platform::Inbound)
//! event into a new persisted state and a list of [`Reply`] values (message keys, not text),
//! which it renders in each reader's language and writes to the outbox together with the new
//! state, in one transaction.

mod action;
mod admin;
mod citizen;
mod coverage;
pub(crate) mod engine;
mod groups;
pub mod keys;
pub(crate) mod link;
mod pager;
pub(crate) mod reply;
#[cfg(test)]
mod tests;
mod units;

pub use crate::domain::State;
pub use action::Action;
pub use engine::{Engine, Entry, Guard, render_reply};
pub use reply::{Button, ButtonAction, Reply, Target, Turn};
