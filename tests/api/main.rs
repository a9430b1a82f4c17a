//! Integration tests: the real bot against a fake Telegram Bot API on a loopback port, on
//! SQLite (default) or PostgreSQL (`BLUEZONE_TEST_POSTGRES_URL`). One binary, one module per
//! area; shared setup in `helpers`.

mod accounts;
mod concurrency;
mod console;
mod control_chars;
mod coverage;
mod deep_links;
mod delivery;
mod doctor;
mod groups;
mod helpers;
mod inbound;
mod journey;
mod linking;
mod messenger;
mod metrics;
mod paid_speed;
mod platform_broadcast;
mod platform_fakes;
mod rates;
mod reach_preview;
mod reach_send;
mod reminder_windows;
mod replicas;
mod restart;
mod roles;
mod rows;
mod schema;
mod serve;
mod spend;
mod telegram_errors;
mod units;
mod webhook;
mod zalo;
