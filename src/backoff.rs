//! Retry delays, one formula for every retry loop: the outbox's failed sends, Telegram's
//! `getUpdates` and saving a refreshed Zalo token.
//!
//! A pure function of the attempt number rather than a crate's stateful iterator (`backon`,
//! `backoff`): the outbox keeps each row's attempt count in the database, not in a loop.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: `base`, `2 × base`, `4 × base` … capped at `cap`, optionally jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// No delay is longer.
    pub cap: Duration,
    /// Whether a delay is drawn between half and all of its value, so that many retries
    /// scheduled at once spread out.
    pub jitter: bool,
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first retry; 0 counts as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.cap);
        if !self.jitter {
            return full;
        }
        let ms = full.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Backoff;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            jitter: false,
        };
        let got: Vec<u64> = (1..=7).map(|a| b.delay(a).as_millis() as u64).collect();
        assert_eq!(got, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(b.delay(0), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            jitter: true,
        };
        for a in 1..20 {
            let full = (1000u64 << (a - 1).min(9)).min(300_000);
            let d = b.delay(a).as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "{a}: {d}");
        }
    }
}
