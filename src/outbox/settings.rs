//! Delivery settings, from environment variables (all optional; each platform's rate limits
//! are its own, read in its folder under `src/platform/`):
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `BLUEZONE_SEND_CONCURRENCY` | 16 | requests in flight per platform |
//! | `BLUEZONE_SEND_MAX_ATTEMPTS` | 6 | attempts before a network/5xx failure is final |
//! | `BLUEZONE_OUTBOX_LEASE_SECS` | 60 | how long a claimed row is held before another worker may retake it |
//! | `BLUEZONE_PROGRESS_EVERY_SECS` | 5 | least time between two edits of a broadcast's progress message |
//! | `BLUEZONE_REMINDER_DAYS` | 1,3,7 | reminder offsets after the last activity, in days (platforms without a messaging window, and the fallback) |
//! | `BLUEZONE_REMINDER_HOURS_<PLATFORM>` | see below | one platform's reminder offsets, in hours (`BLUEZONE_REMINDER_HOURS_MESSENGER=20`) |
//! | `BLUEZONE_REMINDER_LEAD_MINUTES` | 60 | a reminder is placed at least this long before the free window closes or the daytime window ends |
//! | `BLUEZONE_REMINDER_MAX` | 3 | reminders at most (never more than the offsets) |
//! | `BLUEZONE_REMINDER_WINDOW` | 08:00-20:00 | local daytime window for reminders |
//! | `BLUEZONE_DIGEST_AT` | 19:00 | local time of the leaders' daily digest (`off` disables) |

use anyhow::{Context, Result, bail};

use crate::clock::Millis;
use crate::domain::Platform;
use crate::reach::ReachRules;

/// How the delivery engine sends, retries, reminds and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// Requests in flight per platform.
    pub concurrency: usize,
    /// Attempts before a transient failure is final.
    pub max_attempts: i64,
    /// How long a claimed row is held.
    pub lease_ms: Millis,
    /// Least time between two progress edits.
    pub progress_every_ms: Millis,
    /// Reminder offsets after the last activity.
    pub reminder_offsets_ms: Vec<Millis>,
    /// Reminder offsets of one platform, when set (`BLUEZONE_REMINDER_HOURS_<PLATFORM>`);
    /// the others follow their free window, or `reminder_offsets_ms` without one.
    pub reminder_offsets_by_platform: Vec<(Platform, Vec<Millis>)>,
    /// How long before the free window closes, or the daytime window ends, a reminder is
    /// placed at the latest: the sender needs the time (it holds reminders outside the
    /// daytime window, and the platform refuses them outside the free window).
    pub reminder_lead_ms: Millis,
    /// Reminders at most.
    pub reminder_max: usize,
    /// The daytime window, in minutes after local midnight: `[start, end)`.
    pub reminder_window: (u32, u32),
    /// The digest's local time in minutes after midnight; `None` = off.
    pub digest_at: Option<u32>,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            concurrency: 16,
            max_attempts: 6,
            lease_ms: 60_000,
            progress_every_ms: 5_000,
            reminder_offsets_ms: vec![DAY, 3 * DAY, 7 * DAY],
            reminder_offsets_by_platform: Vec::new(),
            reminder_lead_ms: 60 * 60_000,
            reminder_max: 3,
            reminder_window: (8 * 60, 20 * 60),
            digest_at: Some(19 * 60),
        }
    }
}

const DAY: Millis = 86_400_000;
const HOUR: Millis = 3_600_000;

/// Parses a list of numbers (`"1, 3,7"`), each multiplied by `unit`, sorted.
fn parse_offsets(list: &str, unit: Millis, name: &str) -> Result<Vec<Millis>> {
    let mut offsets = Vec::new();
    for d in list.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d: f64 = d
            .parse()
            .with_context(|| format!("{name} must be a list of numbers, e.g. 1,3,7"))?;
        if !(d > 0.0 && d.is_finite()) {
            bail!("{name}: {d} is not a positive number");
        }
        offsets.push((d * unit as f64) as Millis);
    }
    offsets.sort_unstable();
    Ok(offsets)
}

fn parse_hhmm(s: &str) -> Result<u32> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .with_context(|| format!("{s:?} must look like 08:00"))?;
    let h: u32 = h.trim().parse().context("hour")?;
    let m: u32 = m.trim().parse().context("minute")?;
    if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
        bail!("{s:?} is not a time of day");
    }
    Ok(h * 60 + m)
}

impl DeliverySettings {
    /// Reads the settings through `get`.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<DeliverySettings> {
        let mut s = DeliverySettings::default();
        let val = |k: &str| crate::config::var(get, k);
        let num = |k: &str| crate::config::var_f64(get, k);
        let count = |k: &str| crate::config::var_u32(get, k);
        if let Some(c) = count("BLUEZONE_SEND_CONCURRENCY")? {
            s.concurrency = c.clamp(1, 256) as usize;
        }
        if let Some(a) = count("BLUEZONE_SEND_MAX_ATTEMPTS")? {
            s.max_attempts = i64::from(a.max(1));
        }
        if let Some(l) = num("BLUEZONE_OUTBOX_LEASE_SECS")? {
            s.lease_ms = ((l * 1000.0) as Millis).max(500);
        }
        if let Some(p) = num("BLUEZONE_PROGRESS_EVERY_SECS")? {
            s.progress_every_ms = ((p * 1000.0) as Millis).max(0);
        }
        if let Some(days) = val("BLUEZONE_REMINDER_DAYS") {
            s.reminder_offsets_ms = parse_offsets(&days, DAY, "BLUEZONE_REMINDER_DAYS")?;
        }
        for platform in Platform::ALL {
            let name = format!(
                "BLUEZONE_REMINDER_HOURS_{}",
                platform.as_str().to_ascii_uppercase()
            );
            if let Some(hours) = val(&name) {
                let offsets = parse_offsets(&hours, HOUR, &name)?;
                s.reminder_offsets_by_platform.push((platform, offsets));
            }
        }
        if let Some(m) = count("BLUEZONE_REMINDER_LEAD_MINUTES")? {
            s.reminder_lead_ms = Millis::from(m) * 60_000;
        }
        if let Some(m) = count("BLUEZONE_REMINDER_MAX")? {
            s.reminder_max = m as usize;
        }
        if let Some(w) = val("BLUEZONE_REMINDER_WINDOW") {
            let (a, b) = w
                .split_once('-')
                .context("BLUEZONE_REMINDER_WINDOW must look like 08:00-20:00")?;
            s.reminder_window = (parse_hhmm(a)?, parse_hhmm(b)?);
        }
        if let Some(d) = val("BLUEZONE_DIGEST_AT") {
            s.digest_at = if d.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(parse_hhmm(&d).context("BLUEZONE_DIGEST_AT")?)
            };
        }
        Ok(s)
    }

    /// The reminder offsets in force (at most `reminder_max`).
    pub fn reminder_offsets(&self) -> &[Millis] {
        let n = self.reminder_max.min(self.reminder_offsets_ms.len());
        &self.reminder_offsets_ms[..n]
    }

    /// The reminder offsets of `platform`, whose account reaches people under `rules` (at
    /// most `reminder_max`): its own setting; else, with a free window, one reminder late on
    /// each day of the window (4 hours before the day is over: 20 h on Messenger's 24-hour
    /// window, 20 h and 44 h on Zalo's 48 hours); else the general offsets (1, 3 and 7 days).
    /// Every offset is then placed inside the window by [`crate::reminders::place`].
    pub fn reminder_offsets_for(&self, platform: Platform, rules: &ReachRules) -> Vec<Millis> {
        let own = self
            .reminder_offsets_by_platform
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, o)| o.clone());
        let mut offsets = match (own, rules.free_ms) {
            (Some(own), _) => own,
            (None, Some(free)) if free > 4 * HOUR => (1..)
                .map(|day| day * DAY - 4 * HOUR)
                .take_while(|o| *o < free)
                .collect(),
            (None, Some(free)) => vec![free / 2],
            (None, None) => self.reminder_offsets_ms.clone(),
        };
        offsets.truncate(self.reminder_max);
        offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_default() {
        let s = DeliverySettings::from_lookup(&|_| None).expect("defaults");
        assert_eq!(s, DeliverySettings::default());
        let vars = [
            ("BLUEZONE_REMINDER_DAYS", "2, 1"),
            ("BLUEZONE_REMINDER_WINDOW", "07:30-21:00"),
            ("BLUEZONE_DIGEST_AT", "off"),
        ];
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let s = DeliverySettings::from_lookup(&get).expect("valid");
        assert_eq!(s.reminder_offsets(), &[DAY, 2 * DAY]);
        assert_eq!(s.reminder_window, (450, 1260));
        assert_eq!(s.digest_at, None);
        let bad = |k: &str| (k == "BLUEZONE_REMINDER_WINDOW").then(|| "8-20".to_string());
        assert!(DeliverySettings::from_lookup(&bad).is_err());
    }

    #[test]
    fn reminder_offsets_follow_each_platforms_window() {
        let window = |h: i64| ReachRules {
            free_ms: Some(h * HOUR),
            ..ReachRules::ALWAYS_FREE
        };
        let s = DeliverySettings::default();
        assert_eq!(
            s.reminder_offsets_for(Platform::Telegram, &ReachRules::ALWAYS_FREE),
            vec![DAY, 3 * DAY, 7 * DAY]
        );
        assert_eq!(
            s.reminder_offsets_for(Platform::Messenger, &window(24)),
            vec![20 * HOUR]
        );
        assert_eq!(
            s.reminder_offsets_for(Platform::Zalo, &window(48)),
            vec![20 * HOUR, 44 * HOUR]
        );
        let vars = [
            ("BLUEZONE_REMINDER_HOURS_MESSENGER", "22"),
            ("BLUEZONE_REMINDER_LEAD_MINUTES", "30"),
        ];
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let s = DeliverySettings::from_lookup(&get).expect("valid");
        assert_eq!(
            s.reminder_offsets_for(Platform::Messenger, &window(24)),
            vec![22 * HOUR]
        );
        assert_eq!(s.reminder_lead_ms, 30 * 60_000);
        let bad = |k: &str| (k == "BLUEZONE_REMINDER_HOURS_ZALO").then(|| "-1".to_string());
        assert!(DeliverySettings::from_lookup(&bad).is_err());
    }
}
