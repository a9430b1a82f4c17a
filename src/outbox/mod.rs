//! Delivery: the persistent outbox (rows in [`crate::store::outbox`]), the sender workers
//! that send them within each platform's rate limits, and the scheduler that runs broadcast
//! progress ([`crate::broadcast::step`]), reminders ([`crate::reminders`]) and daily digests
//! ([`crate::digest`]) once a second.

pub mod lead;
pub mod limits;
pub mod scheduler;
pub mod settings;
pub mod worker;

pub use lead::{Delivery, Leading};
pub use limits::{CallKind, Limiter, PlatformLimits};
pub use scheduler::{Scheduler, Tick};
pub use settings::DeliverySettings;
pub use worker::{Daytime, Outcome, Worker, WorkerConfig};
