//! Time, injected: the service uses the system clock, tests move a manual one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch: the unit every stored time uses.
pub type Millis = i64;

/// A source of "now".
pub trait Clock: Send + Sync {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to, for tests of reminders, quiet hours and expiry.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn at(ms: Millis) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set_ms(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// Minutes after local midnight and the local date (`YYYY-MM-DD`), in the campaign's time
/// zone; the scheduled jobs (reminders, digests) and the daytime windows read time this way.
pub fn local(settings: &crate::config::Settings, now: Millis) -> (u32, String) {
    use chrono::{Datelike, TimeZone, Timelike};
    let tz = settings
        .campaign
        .tz()
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
    match tz.timestamp_millis_opt(now).single() {
        Some(t) => (
            t.hour() * 60 + t.minute(),
            format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
        ),
        None => (0, String::new()),
    }
}

/// Whether `minute` (after local midnight) is inside `[start, end)`, which may wrap midnight.
pub fn in_window(minute: u32, (start, end): (u32, u32)) -> bool {
    if start <= end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

#[cfg(test)]
mod tests {
    use super::in_window;

    #[test]
    fn windows_may_wrap_midnight() {
        assert!(in_window(8 * 60, (480, 1200)));
        assert!(!in_window(20 * 60, (480, 1200)));
        assert!(!in_window(7 * 60 + 59, (480, 1200)));
        assert!(in_window(23 * 60, (22 * 60, 6 * 60)));
        assert!(in_window(60, (22 * 60, 6 * 60)));
        assert!(!in_window(12 * 60, (22 * 60, 6 * 60)));
    }
}
