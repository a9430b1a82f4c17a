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

/// A paid broadcast of `count` messages: how many go with the paid flag (as many as the
/// Star budget pays for) and what Telegram bills for them in tenths of a Star
/// ([`paid_cost`](super::paid_cost)).
pub fn paid_stars(count: i64, speed: &PaidSpeed) -> (i64, i64) {
    // One formula for the preview, the sender's ledger, the fake and the benchmark.
    let rules = super::ReachRules {
        paid_speed: Some(*speed),
        ..super::ReachRules::ALWAYS_FREE
    };
    let count = u64::try_from(count.max(0)).unwrap_or(0);
    let paid = i64::try_from(super::paid_messages(count, speed)).unwrap_or(i64::MAX);
    (paid, super::paid_cost(count, &rules))
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
        // Every message goes paid; sent without a pause only the first 30 find fewer than
        // 30 before them in their second: 99,970 × 0.1 Star (as the sender and fake count).
        assert_eq!(paid_stars(100_000, &speed), (100_000, 99_970));
        assert_eq!(paid_stars(20, &speed), (20, 0));
        let tight = PaidSpeed {
            star_tenths_budget: 500,
            ..speed
        };
        // The budget pays for 500 paid messages, and the cost never passes it.
        assert_eq!(paid_stars(100_000, &tight), (500, 470));
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
