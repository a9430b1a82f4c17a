//! # fake-platforms
//!
//! Fake platform APIs on random loopback ports, for bluezone-bot's integration tests and
//! benchmarks. Each answers like the real service (errors included), records what the bot
//! sent and lets a test script what comes next. They speak HTTP and JSON only and know nothing
//! of bluezone-bot; they live in a crate of their own so the service binary contains no test
//! code (bluezone-bot lists this crate under `[dev-dependencies]` only).
//!
//! - [`telegram`]: [`FakeTelegram`], a Bot API server that records every call, lets a test
//!   inject updates, fail chosen chats or methods with real Bot API errors and optionally
//!   enforce Telegram's rate limits.
//! - [`messenger`]: the Graph API's Send API, user profiles, the Messenger profile, and the
//!   Page behind the token with its subscribed apps.
//! - [`zalo`]: the OpenAPI message, upload, user-detail and OA-profile endpoints and the
//!   OAuth refresh with single-use rotating refresh tokens.
//! - [`fake_platform`]: what the Messenger and Zalo fakes share ([`FakePlatform`], [`Sent`]).
//!
//! The `fake-telegram` program serves a [`FakeTelegram`] on its own, for trials of the real,
//! installed binary where no bot exists (`scripts/package-test`, `scripts/replicas
//! --fake-telegram`).

pub mod fake_platform;
pub mod messenger;
pub mod telegram;
pub mod zalo;

pub use fake_platform::{FakePlatform, FakeState, Sent, WAIT};
pub use messenger::{
    MESSENGER_PAGE, MESSENGER_PAGE_TOKEN, MESSENGER_SECRET, MESSENGER_VERIFY, fake_messenger,
    messenger_signature,
};
pub use telegram::{
    CALLBACK_ANSWER_DEADLINE, Call, Counters, Failure, FakeTelegram, Outcome, TelegramLimits,
    TgUser, Upload, sequence_of,
};
pub use zalo::{
    ZALO_APP_ID, ZALO_APP_SECRET, ZALO_OA_ID, ZALO_OA_SECRET, fake_zalo, zalo_signature,
};
