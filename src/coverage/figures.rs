//! The coverage arithmetic, kept apart from the store: a unit's subtree counters in, rates,
//! gaps and trend marks out. Nothing here divides by zero: a unit without a population has
//! counts and no rate; a unit without members has no member rate.

use crate::store::Unit;

/// One unit's figures over its whole subtree.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The unit's code (empty for the virtual "whole country" row).
    pub code: String,
    /// The unit's name.
    pub name: String,
    /// province, district, commune, …
    pub kind: String,
    /// Census population, when known and positive.
    pub population: Option<i64>,
    /// People registered in the unit or below it.
    pub members: i64,
    /// Members who confirmed installation (self-confirmed or verified).
    pub confirmed: i64,
    /// Confirmed installs a leader checked in person (a part of `confirmed`).
    pub verified: i64,
    /// Installs done in person and reported by a leader (not members).
    pub reported: i64,
    /// The coverage target as a fraction (the unit's own or the campaign's).
    pub target: f64,
}

/// How a figure moved since the previous snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    /// Higher than yesterday.
    Up,
    /// Lower than yesterday.
    Down,
    /// Unchanged.
    Same,
    /// No snapshot to compare with.
    Unknown,
}

impl Trend {
    /// The Fluent selector value.
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Same => "same",
            Trend::Unknown => "none",
        }
    }
}

/// The four counters of a unit's subtree at one moment (a snapshot row, or now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Members.
    pub members: i64,
    /// Confirmed.
    pub confirmed: i64,
    /// Verified.
    pub verified: i64,
    /// Reported in person.
    pub reported: i64,
}

impl Totals {
    /// Installs that count towards coverage.
    pub fn installs(&self) -> i64 {
        self.confirmed + self.reported
    }
}

/// The effective target: the unit's own when it has a sensible one, else the campaign's.
pub fn effective_target(own: Option<f64>, campaign: f64) -> f64 {
    match own {
        Some(t) if t > 0.0 && t.is_finite() => t,
        _ => campaign,
    }
}

impl Figures {
    /// The figures of `unit`'s subtree, from its maintained counters.
    pub fn of_unit(unit: &Unit, campaign_target: f64) -> Figures {
        Figures {
            code: unit.code.to_string(),
            name: unit.name.clone(),
            kind: unit.kind.clone(),
            population: unit.population.filter(|p| *p > 0),
            members: unit.sub_members,
            confirmed: unit.sub_confirmed,
            verified: unit.sub_verified,
            reported: unit.sub_reported,
            target: effective_target(unit.target, campaign_target),
        }
    }

    /// The sum of several units (the whole country from its provinces). The population is
    /// known only when every part's is.
    pub fn sum(code: &str, name: &str, parts: &[Figures], campaign_target: f64) -> Figures {
        let population = if parts.is_empty() {
            None
        } else {
            parts
                .iter()
                .map(|f| f.population)
                .sum::<Option<i64>>()
                .filter(|p| *p > 0)
        };
        Figures {
            code: code.to_string(),
            name: name.to_string(),
            kind: String::new(),
            population,
            members: parts.iter().map(|f| f.members).sum(),
            confirmed: parts.iter().map(|f| f.confirmed).sum(),
            verified: parts.iter().map(|f| f.verified).sum(),
            reported: parts.iter().map(|f| f.reported).sum(),
            target: campaign_target,
        }
    }

    /// The counters alone.
    pub fn totals(&self) -> Totals {
        Totals {
            members: self.members,
            confirmed: self.confirmed,
            verified: self.verified,
            reported: self.reported,
        }
    }

    /// Installs that count: confirmed members plus installs reported in person.
    pub fn installs(&self) -> i64 {
        self.confirmed + self.reported
    }

    /// Confirmations nobody checked in person yet.
    pub fn self_confirmed(&self) -> i64 {
        (self.confirmed - self.verified).max(0)
    }

    /// (confirmed + reported) / population; `None` without a population.
    pub fn coverage(&self) -> Option<f64> {
        coverage_of(self.installs(), self.population)
    }

    /// confirmed / members; `None` without members.
    pub fn member_rate(&self) -> Option<f64> {
        (self.members > 0).then(|| self.confirmed as f64 / self.members as f64)
    }

    /// The installs the target asks for (rounded up); `None` without a population.
    pub fn target_installs(&self) -> Option<i64> {
        self.population
            .map(|p| (self.target * p as f64 - 1e-9).ceil().max(0.0) as i64)
    }

    /// People still needed to reach the target (never negative); `None` without a population.
    pub fn gap(&self) -> Option<i64> {
        self.target_installs()
            .map(|need| (need - self.installs()).max(0))
    }

    /// Whether the unit is below its target; `None` without a population.
    pub fn under_target(&self) -> Option<bool> {
        self.gap().map(|g| g > 0)
    }

    /// How the unit moved since `before`: by coverage when there is a population, else by
    /// installs.
    pub fn trend(&self, before: Option<Totals>) -> Trend {
        let Some(before) = before else {
            return Trend::Unknown;
        };
        let (now, then) = (self.installs(), before.installs());
        match now.cmp(&then) {
            std::cmp::Ordering::Greater => Trend::Up,
            std::cmp::Ordering::Less => Trend::Down,
            std::cmp::Ordering::Equal => Trend::Same,
        }
    }
}

/// installs / population; `None` without a (positive) population.
pub fn coverage_of(installs: i64, population: Option<i64>) -> Option<f64> {
    match population {
        Some(p) if p > 0 => Some(installs as f64 / p as f64),
        _ => None,
    }
}

/// Sorts rows by coverage, lowest first (the units that need attention on top); units
/// without a population come last, by installs, then by name.
pub fn sort_by_coverage(rows: &mut [Figures]) {
    rows.sort_by(|a, b| match (a.coverage(), b.coverage()) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.name.cmp(&b.name)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a
            .installs()
            .cmp(&b.installs())
            .then_with(|| a.name.cmp(&b.name)),
    });
}

/// A fraction as a percentage with two decimals ("11.09%"), as officials report coverage:
/// 38 installs among 181,660 people read 0.02%, not 0.0%. The decimal point is a dot in every
/// locale, like every other number the bot writes.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(pop: Option<i64>, members: i64, confirmed: i64, reported: i64) -> Figures {
        Figures {
            code: "x".into(),
            name: "X".into(),
            kind: "commune".into(),
            population: pop,
            members,
            confirmed,
            verified: 0,
            reported,
            target: 0.6,
        }
    }

    #[test]
    fn coverage_counts_confirmed_and_reported_over_population() {
        let f = fig(Some(1000), 300, 200, 100);
        assert_eq!(f.coverage(), Some(0.3));
        assert_eq!(f.member_rate(), Some(200.0 / 300.0));
        assert_eq!(f.target_installs(), Some(600));
        assert_eq!(f.gap(), Some(300));
        assert_eq!(f.under_target(), Some(true));
        let done = fig(Some(1000), 700, 650, 0);
        assert_eq!(done.gap(), Some(0));
        assert_eq!(done.under_target(), Some(false));
    }

    #[test]
    fn no_population_means_no_rate_and_no_gap() {
        for pop in [None, Some(0), Some(-5)] {
            let mut f = fig(pop, 10, 5, 3);
            f.population = pop.filter(|p| *p > 0);
            assert_eq!(f.coverage(), None);
            assert_eq!(f.gap(), None);
            assert_eq!(f.under_target(), None);
            assert_eq!(f.installs(), 8);
        }
        assert_eq!(coverage_of(5, Some(0)), None);
        let empty = fig(Some(100), 0, 0, 0);
        assert_eq!(empty.member_rate(), None);
        assert_eq!(empty.coverage(), Some(0.0));
    }

    #[test]
    fn a_unit_target_overrides_the_campaign() {
        assert_eq!(effective_target(Some(0.8), 0.6), 0.8);
        assert_eq!(effective_target(None, 0.6), 0.6);
        assert_eq!(effective_target(Some(0.0), 0.6), 0.6);
        assert_eq!(effective_target(Some(f64::NAN), 0.6), 0.6);
        let mut f = fig(Some(1000), 0, 0, 700);
        assert_eq!(f.gap(), Some(0));
        f.target = 0.8;
        assert_eq!(f.gap(), Some(100));
        // Rounded up: 60% of 7 people is 4.2, so 5 are needed.
        let small = fig(Some(7), 0, 0, 0);
        assert_eq!(small.target_installs(), Some(5));
        // Exact products are not rounded up by floating-point noise.
        let exact = fig(Some(100), 0, 0, 0);
        assert_eq!(exact.target_installs(), Some(60));
    }

    #[test]
    fn offline_corrections_move_coverage_and_trend() {
        let yesterday = Totals {
            members: 10,
            confirmed: 5,
            verified: 1,
            reported: 20,
        };
        let f = fig(Some(100), 10, 5, 17); // a correction of -3
        assert_eq!(f.coverage(), Some(0.22));
        assert_eq!(f.trend(Some(yesterday)), Trend::Down);
        assert_eq!(fig(Some(100), 10, 6, 20).trend(Some(yesterday)), Trend::Up);
        assert_eq!(
            fig(Some(100), 11, 5, 20).trend(Some(yesterday)),
            Trend::Same
        );
        assert_eq!(f.trend(None), Trend::Unknown);
    }

    #[test]
    fn sums_and_sorting() {
        let a = fig(Some(100), 10, 10, 0);
        let b = fig(Some(300), 0, 0, 30);
        let low = fig(Some(300), 0, 0, 15);
        let s = Figures::sum("", "All", &[a.clone(), b.clone()], 0.6);
        assert_eq!(s.population, Some(400));
        assert_eq!(s.coverage(), Some(0.1));
        let b = low;
        let c = fig(None, 1, 1, 0);
        assert_eq!(
            Figures::sum("", "All", &[a.clone(), c.clone()], 0.6).population,
            None
        );
        assert_eq!(Figures::sum("", "All", &[], 0.6).coverage(), None);
        let mut rows = vec![c.clone(), a.clone(), b.clone()];
        sort_by_coverage(&mut rows);
        assert_eq!(rows, vec![b, a, c]);
        assert_eq!(percent(0.1171), "11.71%");
    }

    #[test]
    fn small_rates_keep_two_decimals() {
        // 38 installs in a district of 181,660 people.
        let rate = coverage_of(38, Some(181_660)).expect("a rate");
        assert_eq!(percent(rate), "0.02%");
        assert_eq!(percent(0.1109), "11.09%");
        assert_eq!(percent(0.6), "60.00%");
        assert_eq!(percent(0.0), "0.00%");
    }

    #[test]
    fn self_confirmed_and_verified_are_separate() {
        let mut f = fig(Some(100), 10, 6, 0);
        f.verified = 2;
        assert_eq!(f.self_confirmed(), 4);
    }
}
