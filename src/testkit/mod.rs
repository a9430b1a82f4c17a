//! Test doubles shared by the integration tests (`tests/`) and the benchmarks (`benches/`).
//!
//! Compiled always (benchmarks cannot see `#[cfg(test)]` code), but nothing in the service
//! uses it. Every double listens on 127.0.0.1 only.
//!
//! - [`FakeTelegram`]: a Bot API server that records what the bot sends, lets a test inject
//!   updates, fail chosen chats with real Bot API errors and optionally enforce Telegram's
//!   rate limits.

pub mod fake_telegram;

pub use fake_telegram::{
    Call, Counters, Failure, FakeTelegram, Outcome, TelegramLimits, TgUser, Upload,
};
