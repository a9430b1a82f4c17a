//! Reachability of the members who have not confirmed: reachable now for free, reachable at
//! a cost, or unreachable (to be visited in person). The rules are each account's
//! [`ReachRules`]; at one moment they become, per platform, two cut-off times on
//! `last_inbound_at` ([`ReachCuts`]), so the store can count a whole subtree in SQL with the
//! same answer as [`crate::reach::classify`] gives for one person.

use crate::domain::Platform;
use crate::platform::Platforms;
use crate::reach::{Contact, Reach, ReachRules, classify};

/// Unconfirmed members by how they can be reached now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReachCounts {
    /// A message costs nothing now.
    pub free: i64,
    /// A message can go now, at a price (within a budget).
    pub billed: i64,
    /// No message can go now: window closed, blocked, unfollowed, never started, opted out.
    pub unreachable: i64,
}

impl ReachCounts {
    /// Adds one member of class `class` ([`ReachClass`]) `n` times (negative to take away).
    pub fn add(&mut self, class: ReachClass, n: i64) {
        match class {
            ReachClass::Free => self.free += n,
            ReachClass::Billed => self.billed += n,
            ReachClass::Unreachable => self.unreachable += n,
        }
    }

    /// Adds another count.
    pub fn plus(&mut self, other: &ReachCounts) {
        self.free += other.free;
        self.billed += other.billed;
        self.unreachable += other.unreachable;
    }

    /// Everyone counted.
    pub fn total(&self) -> i64 {
        self.free + self.billed + self.unreachable
    }
}

/// The three classes, cheapest first (the number the store's SQL computes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReachClass {
    /// Free now.
    Free = 0,
    /// Billed now.
    Billed = 1,
    /// Not reachable now.
    Unreachable = 2,
}

impl ReachClass {
    /// The class of a [`Reach`].
    pub fn of(reach: Reach) -> ReachClass {
        match reach {
            Reach::Free => ReachClass::Free,
            Reach::Billed { .. } => ReachClass::Billed,
            Reach::Unreachable(_) => ReachClass::Unreachable,
        }
    }

    /// The class from the number the SQL computed.
    pub fn from_sql(n: i64) -> ReachClass {
        match n {
            0 => ReachClass::Free,
            1 => ReachClass::Billed,
            _ => ReachClass::Unreachable,
        }
    }
}

/// One platform's rules at one moment, as cut-off times on `last_inbound_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The platform.
    pub platform: Platform,
    /// The rules it came from.
    pub rules: ReachRules,
    /// Free when `last_inbound_at >= free_since`; `None`: always free (no window).
    pub free_since: Option<i64>,
    /// Otherwise billed when `last_inbound_at >= billed_since`; `None`: nothing is billed.
    pub billed_since: Option<i64>,
}

/// Every platform's cut-offs at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachCuts {
    /// The moment (ms since the epoch).
    pub now: i64,
    /// One per platform, in [`Platform::ALL`] order.
    pub cuts: Vec<Cut>,
}

impl ReachCuts {
    /// The cut-offs of the configured accounts at `now`.
    pub fn new(platforms: &Platforms, now: i64) -> ReachCuts {
        ReachCuts::from_rules(|p| platforms.reach_rules(p), now)
    }

    /// The cut-offs of `rules` (one platform's at a time) at `now`.
    pub fn from_rules(rules: impl Fn(Platform) -> ReachRules, now: i64) -> ReachCuts {
        let cuts = Platform::ALL
            .iter()
            .map(|&platform| {
                let r = rules(platform);
                let free_since = r.free_ms.map(|ms| now.saturating_sub(ms));
                let billed = r.monthly_budget > 0 && r.price > 0;
                let billed_since = match (free_since, r.billed_until_ms) {
                    (Some(_), Some(until)) if billed => Some(now.saturating_sub(until)),
                    _ => None,
                };
                Cut {
                    platform,
                    rules: r,
                    free_since,
                    billed_since,
                }
            })
            .collect();
        ReachCuts { now, cuts }
    }

    /// The rules of `platform` (always free when unknown).
    pub fn rules(&self, platform: Platform) -> ReachRules {
        self.cuts
            .iter()
            .find(|c| c.platform == platform)
            .map_or(ReachRules::ALWAYS_FREE, |c| c.rules)
    }

    /// How one account is reached now ([`classify`] under its platform's rules).
    pub fn classify(&self, platform: Platform, contact: &Contact) -> Reach {
        classify(&self.rules(platform), contact, self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    /// The SQL's decision, written the same way in Rust: the CASE the store builds.
    fn by_cuts(cuts: &ReachCuts, platform: Platform, c: &Contact) -> ReachClass {
        if c.opted_out || c.blocked {
            return ReachClass::Unreachable;
        }
        let cut = cuts
            .cuts
            .iter()
            .find(|x| x.platform == platform)
            .expect("every platform");
        match cut.free_since {
            None => ReachClass::Free,
            Some(f) if c.last_inbound_at >= f => ReachClass::Free,
            Some(_) => match cut.billed_since {
                Some(b) if c.last_inbound_at >= b => ReachClass::Billed,
                _ => ReachClass::Unreachable,
            },
        }
    }

    #[test]
    fn cut_offs_agree_with_classify() {
        let zalo = |budget| ReachRules {
            free_ms: Some(48 * H),
            billed_until_ms: Some(7 * 24 * H),
            price: 55,
            monthly_budget: budget,
            paid_speed: None,
        };
        let messenger = ReachRules {
            free_ms: Some(24 * H),
            ..ReachRules::ALWAYS_FREE
        };
        let now = 10_000 * H;
        for budget in [0, 1_000_000] {
            let cuts = ReachCuts::from_rules(
                |p| match p {
                    Platform::Zalo => zalo(budget),
                    Platform::Messenger => messenger,
                    _ => ReachRules::ALWAYS_FREE,
                },
                now,
            );
            for platform in Platform::ALL {
                for hours in [0, 1, 23, 24, 25, 47, 48, 49, 167, 168, 169, 1000] {
                    for (blocked, opted_out) in [(false, false), (true, false), (false, true)] {
                        let c = Contact {
                            last_inbound_at: now - hours * H,
                            blocked,
                            opted_out,
                        };
                        assert_eq!(
                            by_cuts(&cuts, platform, &c),
                            ReachClass::of(cuts.classify(platform, &c)),
                            "{platform:?} {hours} h, budget {budget}, {blocked} {opted_out}"
                        );
                    }
                }
            }
        }
    }
}
