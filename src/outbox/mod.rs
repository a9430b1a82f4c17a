//! Delivery: the persistent outbox (rows in [`crate::store::outbox`]) and the workers that
//! send them through a platform adapter.

pub mod worker;

pub use worker::{Outcome, Worker};
