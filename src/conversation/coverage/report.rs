//! `/report`: installs a leader helped with in person, added to (or corrected on) a unit's
//! reported total.

use anyhow::Result;

use super::Scope;
use crate::conversation::engine::{Ctx, Engine};
use crate::conversation::{Reply, Turn};
use crate::coverage::keys::*;
use crate::coverage::{Figures, percent};
use crate::i18n::Msg;
use crate::store::coverage::ReportOutcome;

/// The largest number one `/report` may add or remove.
const MAX_REPORT: i64 = 1_000_000;

impl Engine {
    /// `/report N [note]` (the leader's only unit) or `/report CODE N [note]`: installs done
    /// in person. A negative N corrects; a unit's reported total never goes below zero.
    pub(in crate::conversation) async fn report_cmd(
        &self,
        ctx: &Ctx<'_>,
        args: &str,
    ) -> Result<Turn> {
        let led = self.store.led_units(ctx.person.id).await?;
        if !ctx.is_admin && led.is_empty() {
            return Ok(Turn::reply(Reply::to_sender(&COV_NOT_LEADER)));
        }
        let usage = || Ok(Turn::reply(Reply::to_sender(&REPORT_USAGE)));
        let (first, rest) = split_word(args);
        if first.is_empty() {
            return usage();
        }
        let (second, after_second) = split_word(rest);
        // `/report CODE N [note]` when the first word is not a number, or when it is a known
        // unit code followed by a number; otherwise `/report N [note]`.
        let code_form = match (parse_amount(first), parse_amount(second)) {
            (None, _) => true,
            (Some(_), Some(_)) => match crate::domain::UnitCode::parse(first) {
                Ok(code) => self.store.unit(&code).await?.is_some(),
                Err(_) => false,
            },
            (Some(_), None) => false,
        };
        let (unit, amount, note) = if code_form {
            let Some(amount) = parse_amount(second) else {
                return usage();
            };
            match self.scope(ctx, Some(first), false, "report").await? {
                Ok(Scope::Unit(code)) => (code, amount, after_second),
                Ok(Scope::Country) => return usage(),
                Err(reply) => return Ok(Turn::reply(reply)),
            }
        } else {
            let Some(amount) = parse_amount(first) else {
                return usage();
            };
            match led.as_slice() {
                [only] => (only.clone(), amount, rest),
                [] => return usage(),
                many => {
                    return Ok(Turn::reply(Reply::to_sender(
                        Msg::new(&REPORT_WHICH_UNIT).arg("units", many.join(", ")),
                    )));
                }
            }
        };
        if amount == 0 {
            return Ok(Turn::reply(Reply::to_sender(&REPORT_ZERO)));
        }
        if amount.unsigned_abs() > MAX_REPORT.unsigned_abs() {
            return usage();
        }
        let name = self.unit_name(&unit).await?;
        let outcome = self
            .store
            .report_installs(&unit, ctx.person.id, amount, note)
            .await?;
        let reply = match outcome {
            ReportOutcome::Recorded { total } => {
                let coverage = match self.store.unit(&unit).await? {
                    Some(u) => {
                        let f = Figures::of_unit(&u, self.campaign_target());
                        f.coverage()
                            .map_or_else(|| f.installs().to_string(), percent)
                    }
                    None => String::new(),
                };
                Msg::new(&REPORT_DONE)
                    .arg("unit", name)
                    .arg("amount", amount)
                    .arg("total", total)
                    .arg("coverage", coverage)
            }
            ReportOutcome::WouldGoNegative { total } => Msg::new(&REPORT_NEGATIVE)
                .arg("unit", name)
                .arg("amount", amount)
                .arg("total", total),
        };
        Ok(Turn::reply(Reply::to_sender(reply)))
    }
}

/// The first word and the rest, trimmed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (s, ""),
    }
}

/// A signed whole number (`12`, `+12`, `-3`).
fn parse_amount(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || digits == "-" {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_arguments_parse() {
        assert_eq!(
            split_word(" 12  at the post office "),
            ("12", "at the post office")
        );
        assert_eq!(split_word("12"), ("12", ""));
        assert_eq!(parse_amount("12"), Some(12));
        assert_eq!(parse_amount("+12"), Some(12));
        assert_eq!(parse_amount("-3"), Some(-3));
        assert_eq!(parse_amount("-"), None);
        assert_eq!(parse_amount("794"), Some(794));
        assert_eq!(parse_amount("x1"), None);
    }
}
