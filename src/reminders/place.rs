//! Where a reminder goes in time: inside the person's free window (the platform's messaging
//! window, from their last message) and inside the daytime window, never outside either.
//!
//! A reminder wants to go at its offset after the person's last activity. When that moment
//! is at night it waits for the morning; when the free window closes before the morning, it
//! goes at the latest daytime moment that is still inside the window instead, so a
//! reminder is never silently skipped (Messenger: late on the first day, before 24 hours
//! have passed). Pure arithmetic on milliseconds and the campaign's time zone.

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::clock::{Millis, in_window};

/// "Never": the due time of a person who has nothing left to be reminded of until they are
/// active again (the largest BIGINT, so `due <= now` is never true).
pub const NEVER: Millis = i64::MAX;

/// A reminder goes at least this long after the person's last activity.
pub const MIN_QUIET_MS: Millis = 3_600_000;

/// Two reminders to one person are at least this far apart.
pub const MIN_GAP_MS: Millis = 4 * 3_600_000;

/// The daytime window reminders are placed in.
#[derive(Debug, Clone, Copy)]
pub struct Daytime {
    /// The campaign's time zone.
    pub tz: Tz,
    /// Minutes after local midnight, `[start, end)`; may wrap midnight.
    pub window: (u32, u32),
    /// Reminders are placed at least this long before the window ends (the sender holds a
    /// reminder that reaches it after the end until the next morning).
    pub lead_ms: Millis,
}

/// When one reminder may be queued: from `due` until `until` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The moment it is due.
    pub due: Millis,
    /// The last moment it may still be queued ([`NEVER`] without a free window).
    pub until: Millis,
}

impl Daytime {
    /// The window reminders are placed in: the daytime window less the lead at its end
    /// (the whole window when it is shorter than the lead).
    fn placing_window(&self) -> (u32, u32) {
        let (start, end) = self.window;
        let len = (end + 1440 - start) % 1440;
        let lead = u32::try_from(self.lead_ms / 60_000).unwrap_or(u32::MAX);
        if len == 0 || lead >= len {
            return self.window;
        }
        (start, (end + 1440 - lead) % 1440)
    }

    /// The local date and minute after midnight of `t`.
    fn local(&self, t: Millis) -> Option<(NaiveDate, u32)> {
        use chrono::Timelike;
        let local = self.tz.timestamp_millis_opt(t).single()?;
        Some((local.date_naive(), local.hour() * 60 + local.minute()))
    }

    /// `minute` after local midnight of `date`, in ms (the first such moment; an hour later
    /// when a clock change skips it).
    fn at(&self, date: NaiveDate, minute: u32) -> Option<Millis> {
        let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?;
        let naive = date.and_time(time);
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                self.tz
                    .from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.timestamp_millis())
    }

    /// The first moment at or after `t` inside the placing window.
    pub fn first_at_or_after(&self, t: Millis) -> Option<Millis> {
        let window = self.placing_window();
        let (date, minute) = self.local(t)?;
        if in_window(minute, window) {
            return Some(t);
        }
        let today = self.at(date, window.0)?;
        if today > t {
            Some(today)
        } else {
            self.at(date.succ_opt()?, window.0)
        }
    }

    /// The last moment before `t` (at a minute's precision) inside the placing window.
    pub fn last_before(&self, t: Millis) -> Option<Millis> {
        let window = self.placing_window();
        let z = t - 1;
        let (date, minute) = self.local(z)?;
        if in_window(minute, window) {
            return Some(z);
        }
        let last_minute = (window.1 + 1439) % 1440;
        let today = self.at(date, last_minute)?;
        if today <= z {
            Some(today)
        } else {
            self.at(date.pred_opt()?, last_minute)
        }
    }
}

/// Places one reminder that wants to go at `desired`, not before `after` (the least quiet
/// time, and the least gap after the previous reminder), and only while the free window is
/// open (`until`: its close less the lead; `None` without a window). `None` when no daytime
/// moment fits in the window: nothing can go until the person writes again.
pub fn place(desired: Millis, after: Millis, until: Option<Millis>, day: &Daytime) -> Option<Slot> {
    let first = day.first_at_or_after(desired.max(after))?;
    let Some(until) = until else {
        return Some(Slot {
            due: first,
            until: NEVER,
        });
    };
    if first < until {
        return Some(Slot { due: first, until });
    }
    let latest = day.last_before(until)?;
    (latest >= after).then_some(Slot { due: latest, until })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;
    const M: Millis = 60_000;

    /// 2020-06-01 local time (UTC+7) at `h:m` plus `day` days.
    fn local(day: i64, h: i64, m: i64) -> Millis {
        1_590_944_400_000 + day * 24 * H + h * H + m * M
    }

    fn day() -> Daytime {
        Daytime {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            window: (8 * 60, 20 * 60),
            lead_ms: H,
        }
    }

    #[test]
    fn night_waits_for_the_morning_without_a_window() {
        let slot = place(local(1, 21, 0), local(0, 22, 0), None, &day()).expect("placed");
        assert_eq!(slot.due, local(2, 8, 0));
        assert_eq!(slot.until, NEVER);
        let slot = place(local(1, 12, 0), local(0, 13, 0), None, &day()).expect("placed");
        assert_eq!(slot.due, local(1, 12, 0));
        // Past the placing window's end (19:00 with a lead of an hour): the next morning.
        let slot = place(local(1, 19, 30), local(0, 20, 0), None, &day()).expect("placed");
        assert_eq!(slot.due, local(2, 8, 0));
    }

    #[test]
    fn messenger_goes_late_on_the_first_day_when_the_morning_is_too_late() {
        // Last message at 07:00: 20 hours later is 03:00, the morning (08:00) is after the
        // window closes (07:00, less the lead: 06:00), so the evening before (18:59).
        let last = local(0, 7, 0);
        let until = last + 24 * H - H;
        let slot = place(last + 20 * H, last + MIN_QUIET_MS, Some(until), &day()).expect("placed");
        assert_eq!(slot.due, local(0, 18, 59));
        assert!(slot.due < until);
        // Last message at 11:00: 07:00 the next day, so 08:00, before 10:00.
        let last = local(0, 11, 0);
        let until = last + 23 * H;
        let slot = place(last + 20 * H, last + MIN_QUIET_MS, Some(until), &day()).expect("placed");
        assert_eq!(slot.due, local(1, 8, 0));
        // Last message at 15:00: 11:00 the next day, inside both windows.
        let last = local(0, 15, 0);
        let slot = place(last + 20 * H, last + H, Some(last + 23 * H), &day()).expect("placed");
        assert_eq!(slot.due, local(1, 11, 0));
    }

    #[test]
    fn inside_the_window_while_the_window_is_open() {
        // The free window closes at 12:00 the next day less the lead: 11:00. Wanted at
        // 13:00: the latest daytime moment before 11:00 is 10:59:59.999.
        let last = local(0, 12, 0);
        let until = last + 23 * H;
        let slot = place(last + 25 * H, last + H, Some(until), &day()).expect("placed");
        assert_eq!(slot.due, until - 1);
        // No daytime moment at all between the least quiet time and the close: none.
        let last = local(0, 19, 30);
        assert_eq!(
            place(last + 2 * H, last + H, Some(last + 6 * H), &day()),
            None
        );
    }

    #[test]
    fn windows_that_wrap_midnight() {
        let night = Daytime {
            window: (22 * 60, 6 * 60),
            ..day()
        };
        assert_eq!(
            night.first_at_or_after(local(0, 12, 0)),
            Some(local(0, 22, 0))
        );
        assert_eq!(
            night.first_at_or_after(local(0, 23, 0)),
            Some(local(0, 23, 0))
        );
        assert_eq!(night.last_before(local(0, 12, 0)), Some(local(0, 4, 59)));
        assert_eq!(night.last_before(local(0, 3, 0)), Some(local(0, 3, 0) - 1));
    }
}
