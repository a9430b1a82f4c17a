//! Telegram, through teloxide's Bot API client. Updates arrive by long polling or through the
//! webhook route; both feed [`to_inbound`]. Delivery goes through [`Telegram`], which maps
//! Bot API errors to [`DeliveryError`](super::DeliveryError) classes. Rate limiting is decided
//! in one place, the outbox worker; teloxide's own `Throttle` adaptor is not used.

mod deliver;
mod group_admins;
mod polling;
mod updates;

pub use deliver::{Telegram, classify};
pub use polling::{polling_client, polling_client_timeout, run_polling, set_commands};
pub use updates::to_inbound;
