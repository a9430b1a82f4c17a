//! Delivery settings, from environment variables (all optional; each platform's rate limits
//! are its own, read in its folder under `src/platform/`):
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `BLUEZONE_SEND_CONCURRENCY` | 16 | requests in flight per platform |
//! | `BLUEZONE_SEND_MAX_ATTEMPTS` | 6 | attempts before a network/5xx failure is final |
//! | `BLUEZONE_OUTBOX_LEASE_SECS` | 60 | how long a claimed row is held before another worker may retake it |
//! | `BLUEZONE_PROGRESS_EVERY_SECS` | 5 | least time between two edits of a broadcast's progress message |
//! | `BLUEZONE_REMINDER_DAYS` | 1,3,7 | reminder offsets after the last activity, in days |
//! | `BLUEZONE_REMINDER_MAX` | 3 | reminders at most (never more than the offsets) |
//! | `BLUEZONE_REMINDER_WINDOW` | 08:00-20:00 | local daytime window for reminders |
//! | `BLUEZONE_DIGEST_AT` | 19:00 | local time of the leaders' daily digest (`off` disables) |

use anyhow::{Context, Result, bail};

use crate::clock::Millis;

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
            reminder_max: 3,
            reminder_window: (8 * 60, 20 * 60),
            digest_at: Some(19 * 60),
        }
    }
}

const DAY: Millis = 86_400_000;

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
        let val = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let num = |k: &str| -> Result<Option<f64>> {
            val(k)
                .map(|v| {
                    v.parse::<f64>()
                        .with_context(|| format!("{k} must be a number"))
                })
                .transpose()
        };
        let count = |k: &str| -> Result<Option<u32>> {
            val(k)
                .map(|v| {
                    v.parse::<u32>()
                        .with_context(|| format!("{k} must be a whole number"))
                })
                .transpose()
        };
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
            let mut offsets = Vec::new();
            for d in days.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let d: f64 = d
                    .parse()
                    .context("BLUEZONE_REMINDER_DAYS must be numbers of days, e.g. 1,3,7")?;
                offsets.push((d * DAY as f64) as Millis);
            }
            offsets.sort_unstable();
            s.reminder_offsets_ms = offsets;
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
}
