//! All SQL lives here, one file per table family. Queries are written once and run on both
//! SQLite (the embedded default) and PostgreSQL (several replicas) through sqlx's `Any`
//! driver: times are BIGINT milliseconds, flags are BIGINT 0/1, sums are cast to BIGINT, and
//! the few statements that must differ (queue claiming) pick their dialect from [`Backend`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

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
mod turns;
mod types;
pub mod units;

pub use broadcasts::{Audience, Broadcast, Queued, ReachPlan, Stopped};
pub use db::{Backend, MigrationStatus, OUTBOX_CHANNEL, Store, Tx, Undone, Work, is_transient};
pub use leaders::InviteError;
pub use outbox::{Completion, Enqueued, Handed, Mark, NewOutboxItem, OutboxRow, Priority};
pub use people::{Person, ReadAhead, Sender};
pub use reminders::{ReminderCandidate, ReminderPlan};
pub use units::{ImportSummary, Unit, UnitRow};

/// The `VALUES` rows of a multi-row `INSERT`: `rows` copies of `row`, in which `{1}` to
/// `{width}` stand for the row's own parameters, numbered on (`$1`.. for the first row,
/// `$width+1`.. for the second), separated by commas.
pub(crate) fn values_rows(rows: usize, width: usize, row: &str) -> String {
    let mut out = String::new();
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&numbered(row, i * width, width));
    }
    out
}

/// `row` with `{1}` to `{width}` written as the parameters `$offset+1` to `$offset+width`.
pub(crate) fn numbered(row: &str, offset: usize, width: usize) -> String {
    let mut out = row.to_string();
    // Highest first, so `{1}` never eats the start of `{10}`.
    for k in (1..=width).rev() {
        out = out.replace(&format!("{{{k}}}"), &format!("${}", offset + k));
    }
    out
}

/// Statement texts built once, by what their shape depends on (see [`built`]).
pub(crate) type Built<K> = std::sync::LazyLock<std::sync::Mutex<HashMap<K, Arc<str>>>>;

/// The statement of shape `key` from `cache`, built by `build` the first time.
pub(crate) fn built<K: Hash + Eq>(
    cache: &Built<K>,
    key: K,
    build: impl FnOnce() -> String,
) -> Arc<str> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| build().into())
        .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_rows_number_each_rows_parameters_on() {
        assert_eq!(
            super::values_rows(2, 3, "({1}, 'x', {2}, {3}, {2})"),
            "($1, 'x', $2, $3, $2), ($4, 'x', $5, $6, $5)"
        );
        assert_eq!(super::values_rows(1, 10, "({10}, {1})"), "($10, $1)");
    }
}
