//! A fake Telegram Bot API server on a random loopback port.
//!
//! The bot under test talks to it exactly as to api.telegram.org (`POST /bot<TOKEN>/<Method>`,
//! JSON or multipart bodies) because `TELOXIDE_API_URL` points here. The fake:
//!
//! - answers getMe, getUpdates (long poll held at most [`FakeTelegram::MAX_POLL_HOLD`]),
//!   sendMessage, sendPhoto, sendDocument, editMessageText, answerCallbackQuery,
//!   setMyCommands, getChatMember (and `true` for any other method) with real Bot API
//!   shapes; setWebhook and deleteWebhook keep the webhook that getWebhookInfo reports;
//! - records every call ([`Call`]): method, chat, text or caption, reply markup, upload name
//!   and size, the time it was received and what was answered;
//! - lets a test inject updates (`send_text`, `send_command`, `press_button`, `block`, ...),
//!   wait for calls ([`FakeTelegram::wait_for`]), fail a chat or a method with a real Bot API
//!   error ([`Failure`]), and optionally enforce Telegram's rate limits ([`TelegramLimits`]),
//!   answering `429 Too Many Requests: retry after N` as Telegram does.
//!
//! Errors are always 4xx JSON, never 5xx, unless a test asks for [`Failure::BadGateway`]
//! (teloxide sleeps 10 s before reading any 5xx answer).

mod failures;
mod limits;
mod methods;
mod records;
mod server;
mod updates;

#[cfg(test)]
mod tests;

pub use failures::Failure;
pub use limits::TelegramLimits;
pub use methods::CALLBACK_ANSWER_DEADLINE;
pub use records::{Call, Counters, Outcome, TgUser, Upload, sequence_of};
pub use server::FakeTelegram;
