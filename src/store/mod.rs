//! All SQL lives here, one file per table family. Queries are written once and run on both
//! SQLite (the embedded default) and PostgreSQL (several replicas) through sqlx's `Any`
//! driver: times are BIGINT milliseconds, flags are BIGINT 0/1, sums are cast to BIGINT, and
//! the few statements that must differ (queue claiming) pick their dialect from [`Backend`].

pub mod billing;
pub mod broadcasts;
pub mod coverage;
mod db;
pub mod groups;
pub mod kv;
pub mod leaders;
pub mod lease;
pub mod links;
pub mod messaging;
pub mod outbox;
pub mod people;
pub mod reminders;
pub mod spend;
mod types;
pub mod units;

pub use broadcasts::{Audience, Broadcast, Queued, ReachPlan, Stopped};
pub use db::{Backend, MigrationStatus, OUTBOX_CHANNEL, Store, Tx, Work};
pub use leaders::InviteError;
pub use outbox::{Completion, Mark, NewOutboxItem, OutboxRow, Priority};
pub use people::Person;
pub use reminders::{ReminderCandidate, ReminderPlan};
pub use units::{ImportSummary, Unit, UnitRow};
