//! The figures of a reach preview, as pure arithmetic: how an audience splits into classes on
//! one platform, how many billed messages a budget allows, how long sending takes at a rate,
//! and what a paid broadcast costs in Stars. The preview, the queueing of a broadcast and the
//! benchmark use these same functions, so what a leader is shown is what then happens.

use super::{PaidSpeed, Spend, Unreachable};
use crate::domain::Locale;

/// How one platform's part of an audience can be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes {
    /// Reachable now for free.
    pub free: i64,
    /// Reachable now at a price (inside the billed period).
    pub billed: i64,
    /// Outside every window: reachable again when they write.
    pub window_closed: i64,
    /// They blocked the bot, unfollowed or left.
    pub blocked: i64,
    /// They asked not to get messages.
    pub opted_out: i64,
}

impl Classes {
    /// Counts `n` more people of `class`.
    pub fn add(&mut self, class: Class, n: i64) {
        match class {
            Class::Free => self.free += n,
            Class::Billed => self.billed += n,
            Class::Unreachable(Unreachable::WindowClosed) => self.window_closed += n,
            Class::Unreachable(Unreachable::Blocked) => self.blocked += n,
            Class::Unreachable(Unreachable::OptedOut) => self.opted_out += n,
        }
    }

    /// Those who cannot be reached now, whatever the reason.
    pub fn unreachable(&self) -> i64 {
        self.window_closed + self.blocked + self.opted_out
    }
}

/// A person's class as the database computes it (`0`..`4`, cheapest first): the order is the
/// order of [`super::Reach::cost_rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Free now.
    Free,
    /// Billed now.
    Billed,
    /// Not reachable now.
    Unreachable(Unreachable),
}

impl Class {
    /// The code stored and compared in SQL.
    pub fn code(self) -> i64 {
        match self {
            Class::Free => 0,
            Class::Billed => 1,
            Class::Unreachable(Unreachable::WindowClosed) => 2,
            Class::Unreachable(Unreachable::Blocked) => 3,
            Class::Unreachable(Unreachable::OptedOut) => 4,
        }
    }

    /// The class of a code from SQL.
    pub fn from_code(code: i64) -> Option<Class> {
        Some(match code {
            0 => Class::Free,
            1 => Class::Billed,
            2 => Class::Unreachable(Unreachable::WindowClosed),
            3 => Class::Unreachable(Unreachable::Blocked),
            4 => Class::Unreachable(Unreachable::OptedOut),
            _ => return None,
        })
    }
}

/// How many of `billed` people a budget with `budget_left` lets through at `price` each
/// under `spend`, and what they cost: never more than the budget.
pub fn billed_within_budget(spend: Spend, billed: i64, price: i64, budget_left: i64) -> (i64, i64) {
    if spend == Spend::FreeOnly || billed <= 0 || price <= 0 || budget_left <= 0 {
        return (0, 0);
    }
    let n = billed.min(budget_left / price);
    (n, n * price)
}

/// Seconds it takes to send `count` messages at `per_sec` (rounded up); `None` without a
/// rate (no limit).
pub fn send_secs(count: i64, per_sec: Option<u32>) -> Option<i64> {
    let rate = i64::from(per_sec.filter(|r| *r > 0)?);
    Some((count.max(0) + rate - 1) / rate)
}

/// A paid broadcast of `count` messages: the messages above the free share of each second
/// cost `star_tenths_per_msg`; never more than the broadcast's Star budget. Returns the
/// number of paid messages and their cost in tenths of a Star.
pub fn paid_stars(count: i64, speed: &PaidSpeed) -> (i64, i64) {
    if count <= 0 || speed.per_sec == 0 {
        return (0, 0);
    }
    let per_sec = i64::from(speed.per_sec);
    let free_per_sec = i64::from(speed.free_per_sec.min(speed.per_sec));
    // Whole seconds send `per_sec` messages of which `free_per_sec` are free; the last,
    // partial second sends its first `free_per_sec` free.
    let whole = count / per_sec;
    let rest = count % per_sec;
    let paid = whole * (per_sec - free_per_sec) + (rest - free_per_sec).max(0);
    let mut cost = paid * speed.star_tenths_per_msg;
    if speed.star_tenths_budget > 0 && speed.star_tenths_per_msg > 0 {
        cost = cost
            .min(speed.star_tenths_budget / speed.star_tenths_per_msg * speed.star_tenths_per_msg);
    }
    (paid, cost)
}

/// `n` with thousands separators in `locale` (vi: `1.234.500`, en: `1,234,500`).
pub fn group_digits(n: i64, locale: Locale) -> String {
    let sep = match locale {
        Locale::Vi => '.',
        _ => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// An amount of VND as the texts show it: `1.234.500 ₫` (vi), `1,234,500 ₫` (en).
pub fn vnd(amount: i64, locale: Locale) -> String {
    format!("{} ₫", group_digits(amount, locale))
}

/// Tenths of a Star with one decimal: `12,3` (vi), `12.3` (en).
pub fn stars(tenths: i64, locale: Locale) -> String {
    let point = match locale {
        Locale::Vi => ',',
        _ => '.',
    };
    format!(
        "{}{point}{}",
        group_digits(tenths / 10, locale),
        (tenths % 10).abs()
    )
}

/// A duration in seconds as `h:mm:ss` or `m:ss`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The calendar month a monthly budget counts in (`YYYY-MM`) at `now` (ms) in `tz`.
pub fn month(now: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_millis(now)
        .map(|d| d.with_timezone(&tz).format("%Y-%m").to_string())
        .unwrap_or_default()
}

/// The spend choices a leader is offered: free only always; billed when some of the audience
/// can be reached at a cost within budget; paid speed only for an administrator, only where
/// an account has it.
pub fn spend_choices(is_admin: bool, billed_possible: bool, paid_speed: bool) -> Vec<Spend> {
    let mut v = vec![Spend::FreeOnly];
    if billed_possible {
        v.push(Spend::FreeAndBilled);
    }
    if is_admin && paid_speed {
        v.push(Spend::PaidSpeed);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_never_exceeded() {
        assert_eq!(billed_within_budget(Spend::FreeOnly, 10, 55, 1000), (0, 0));
        assert_eq!(
            billed_within_budget(Spend::FreeAndBilled, 10, 55, 1000),
            (10, 550)
        );
        assert_eq!(
            billed_within_budget(Spend::FreeAndBilled, 30, 55, 1000),
            (18, 990)
        );
        assert_eq!(
            billed_within_budget(Spend::FreeAndBilled, 30, 55, 0),
            (0, 0)
        );
    }

    #[test]
    fn time_and_stars() {
        assert_eq!(send_secs(100_000, Some(30)), Some(3334));
        assert_eq!(send_secs(100_000, Some(1000)), Some(100));
        assert_eq!(send_secs(5, None), None);
        let speed = PaidSpeed {
            per_sec: 1000,
            free_per_sec: 30,
            star_tenths_per_msg: 1,
            star_tenths_budget: 1_000_000,
        };
        // 100 seconds of 970 paid messages: 97,000 × 0.1 Star.
        assert_eq!(paid_stars(100_000, &speed), (97_000, 97_000));
        assert_eq!(paid_stars(20, &speed), (0, 0));
        assert_eq!(paid_stars(1_040, &speed), (980, 980));
        let tight = PaidSpeed {
            star_tenths_budget: 500,
            ..speed
        };
        assert_eq!(paid_stars(100_000, &tight).1, 500);
    }

    #[test]
    fn numbers_as_the_texts_show_them() {
        assert_eq!(vnd(1_234_500, Locale::Vi), "1.234.500 ₫");
        assert_eq!(vnd(55, Locale::En), "55 ₫");
        assert_eq!(vnd(1_000, Locale::En), "1,000 ₫");
        assert_eq!(stars(97_000, Locale::En), "9,700.0");
        assert_eq!(stars(123, Locale::Vi), "12,3");
        assert_eq!(duration(3334), "55:34");
        assert_eq!(duration(3600 * 9 + 5), "9:00:05");
    }

    #[test]
    fn paid_speed_is_offered_to_administrators_only() {
        assert_eq!(spend_choices(false, false, true), vec![Spend::FreeOnly]);
        assert_eq!(
            spend_choices(false, true, true),
            vec![Spend::FreeOnly, Spend::FreeAndBilled]
        );
        assert!(spend_choices(true, false, true).contains(&Spend::PaidSpeed));
        assert!(!spend_choices(true, true, false).contains(&Spend::PaidSpeed));
    }

    #[test]
    fn class_codes_round_trip() {
        for code in 0..5 {
            assert_eq!(Class::from_code(code).map(Class::code), Some(code));
        }
    }
}
