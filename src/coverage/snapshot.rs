//! Daily snapshots: the subtree counters of every unit, one row per unit and day, for trends
//! and the ▲/▼ marks. The task rewrites today's rows every hour (the last write of a day is
//! that day's figure) and once at start; `bluezone-bot report --snapshot` writes them on
//! demand.

use std::time::Duration;

use anyhow::Result;
use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::clock::Millis;
use crate::store::Store;

/// How often today's snapshot is rewritten.
pub const EVERY: Duration = Duration::from_secs(3600);

/// The campaign-local day of `ms`.
pub fn day_of(ms: Millis, tz: Tz) -> NaiveDate {
    match tz.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.date_naive(),
        chrono::LocalResult::None => chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.date_naive())
            .unwrap_or_default(),
    }
}

/// The stored form of a day.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Parses a stored day.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Today, in the campaign's time zone, by the store's clock.
pub fn today(store: &Store, tz: Tz) -> NaiveDate {
    day_of(store.now(), tz)
}

/// The day before `day`.
pub fn day_before(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(1)).unwrap_or(day)
}

/// Writes today's snapshot of every unit; the number of rows.
pub async fn write_today(store: &Store, tz: Tz) -> Result<u64> {
    store.write_snapshot(&day_key(today(store, tz))).await
}

/// Writes today's snapshot now and then every [`EVERY`] until `shutdown`.
pub async fn run(store: Store, tz: Tz, shutdown: CancellationToken) {
    loop {
        match write_today(&store, tz).await {
            Ok(n) => tracing::debug!(rows = n, "coverage snapshot written"),
            Err(e) => tracing::warn!(error = ?e, "writing the coverage snapshot failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().expect("tz");
        // 2020-08-01 18:00 UTC is 2020-08-02 01:00 in Vietnam.
        let ms = 1_596_304_800_000;
        assert_eq!(day_key(day_of(ms, tz)), "2020-08-02");
        assert_eq!(day_key(day_before(day_of(ms, tz))), "2020-08-01");
        assert_eq!(parse_day("2020-08-02"), Some(day_of(ms, tz)));
    }
}
