//! Button callback data. Every button carries an [`Action`], encoded in at most 64 bytes
//! (the strictest platform's limit). Data coming back is untrusted: it may be forged or stale, so parsing
//! never panics and anything unknown is `None`.

use crate::domain::{Locale, UnitCode};

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Switch language.
    Language(Locale),
    /// Join this unit.
    ChooseUnit(UnitCode),
    /// Browse the units below this one (top units when `None`), at this page.
    Browse(Option<UnitCode>, u32),
    /// Ask for a unit search.
    SearchUnit,
    /// The person's phone: `true` for iPhone.
    Phone(PhoneKind),
    /// "I have installed".
    Installed,
    /// Show the guide again.
    Guide,
    /// Show the status.
    Status,
    /// Show the language buttons.
    LanguageMenu,
    /// Broadcast draft: choose the audience (`true`: only those who have not confirmed).
    BroadcastAudience(i64, bool),
    /// Broadcast draft: send it.
    BroadcastConfirm(i64),
    /// Broadcast draft: send it, spending as chosen (billed within budget; paid speed for an
    /// administrator).
    BroadcastConfirmSpend(i64, crate::reach::Spend),
    /// Broadcast draft: throw it away.
    BroadcastDiscard(i64),
    /// Running broadcast: ask whether to stop it.
    BroadcastStopAsk(i64),
    /// Running broadcast: stop it (the answer to the question).
    BroadcastStop(i64),
    /// Running broadcast: keep sending (the other answer).
    BroadcastKeep(i64),
    /// Coverage of this unit (the top for `None`), at this page of its children.
    Coverage(Option<UnitCode>, u32),
    /// The coverage chart of this unit (the top for `None`).
    Chart(Option<UnitCode>),
    /// The xlsx/csv export of this unit (the top for `None`).
    Export(Option<UnitCode>),
    /// The post-check list of this unit, at this page.
    Members(UnitCode, u32),
    /// The members of this unit who cannot be reached now (to visit in person), at this page.
    MembersUnreachable(UnitCode, u32),
    /// Mark this person verified.
    Verify(i64),
    /// "I have installed" pressed in a linked member group.
    GroupInstalled,
    /// Go on to the guide without choosing a unit (asked again later).
    SkipUnit,
    /// Administrator's menu: start a broadcast (choose the unit).
    BroadcastPick,
    /// Start a broadcast to this unit's subtree.
    BroadcastTo(UnitCode),
    /// Administrator's menu: how to invite a leader.
    InviteLeaderHelp,
    /// A reminder's "remind me tomorrow": the tap opens a new free window, and the next
    /// reminder is planned inside it.
    RemindTomorrow,
}

/// The kind of phone, which decides the guide and the store link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneKind {
    /// Google Play.
    Android,
    /// App Store.
    Iphone,
}

impl PhoneKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneKind::Android => "android",
            PhoneKind::Iphone => "ios",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<PhoneKind> {
        match s {
            "android" => Some(PhoneKind::Android),
            "ios" => Some(PhoneKind::Iphone),
            _ => None,
        }
    }
}

/// The longest callback data any platform takes, in bytes.
pub const MAX_DATA_LEN: usize = 64;

impl Action {
    /// The callback data.
    pub fn encode(&self) -> String {
        match self {
            Action::Language(l) => format!("lang:{}", l.code()),
            Action::ChooseUnit(c) => format!("unit:{c}"),
            Action::Browse(None, page) => format!("tree::{page}"),
            Action::Browse(Some(c), page) => format!("tree:{c}:{page}"),
            Action::SearchUnit => "usearch".into(),
            Action::Phone(k) => format!("phone:{}", k.as_str()),
            Action::Installed => "inst".into(),
            Action::Guide => "guide".into(),
            Action::Status => "status".into(),
            Action::LanguageMenu => "langmenu".into(),
            Action::BroadcastAudience(id, only) => {
                format!("bca:{id}:{}", if *only { "u" } else { "a" })
            }
            Action::BroadcastConfirm(id) => format!("bcok:{id}"),
            Action::BroadcastConfirmSpend(id, spend) => format!("bcsp:{id}:{}", spend.as_str()),
            Action::BroadcastDiscard(id) => format!("bcno:{id}"),
            Action::BroadcastStopAsk(id) => format!("bcstopq:{id}"),
            Action::BroadcastStop(id) => format!("bcstop:{id}"),
            Action::BroadcastKeep(id) => format!("bckeep:{id}"),
            Action::Coverage(c, page) => format!("cov:{}:{page}", opt(c)),
            Action::Chart(c) => format!("chart:{}", opt(c)),
            Action::Export(c) => format!("exp:{}", opt(c)),
            Action::Members(c, page) => format!("mem:{c}:{page}"),
            Action::MembersUnreachable(c, page) => format!("memu:{c}:{page}"),
            Action::Verify(id) => format!("ver:{id}"),
            Action::GroupInstalled => "ginst".into(),
            Action::SkipUnit => "uskip".into(),
            Action::BroadcastPick => "bcpick".into(),
            Action::BroadcastTo(c) => format!("bcto:{c}"),
            Action::InviteLeaderHelp => "invhelp".into(),
            Action::RemindTomorrow => "later".into(),
        }
    }

    /// Parses callback data; `None` for anything this bot did not make.
    pub fn parse(data: &str) -> Option<Action> {
        if data.is_empty() || data.len() > MAX_DATA_LEN {
            return None;
        }
        let mut parts = data.split(':');
        let head = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        let action = match (head, rest.as_slice()) {
            ("lang", [code]) => Action::Language(Locale::parse(code)?),
            ("unit", [code]) => Action::ChooseUnit(UnitCode::parse(code).ok()?),
            ("tree", ["", page]) => Action::Browse(None, page.parse().ok()?),
            ("tree", [code, page]) => {
                Action::Browse(Some(UnitCode::parse(code).ok()?), page.parse().ok()?)
            }
            ("usearch", []) => Action::SearchUnit,
            ("phone", [kind]) => Action::Phone(PhoneKind::parse(kind)?),
            ("inst", []) => Action::Installed,
            ("guide", []) => Action::Guide,
            ("status", []) => Action::Status,
            ("langmenu", []) => Action::LanguageMenu,
            ("bca", [id, "a"]) => Action::BroadcastAudience(id.parse().ok()?, false),
            ("bca", [id, "u"]) => Action::BroadcastAudience(id.parse().ok()?, true),
            ("bcok", [id]) => Action::BroadcastConfirm(id.parse().ok()?),
            ("bcsp", [id, spend]) => {
                Action::BroadcastConfirmSpend(id.parse().ok()?, crate::reach::Spend::parse(spend)?)
            }
            ("bcno", [id]) => Action::BroadcastDiscard(id.parse().ok()?),
            ("bcstopq", [id]) => Action::BroadcastStopAsk(id.parse().ok()?),
            ("bcstop", [id]) => Action::BroadcastStop(id.parse().ok()?),
            ("bckeep", [id]) => Action::BroadcastKeep(id.parse().ok()?),
            ("cov", [code, page]) => Action::Coverage(opt_code(code)?, page.parse().ok()?),
            ("chart", [code]) => Action::Chart(opt_code(code)?),
            ("exp", [code]) => Action::Export(opt_code(code)?),
            ("mem", [code, page]) => {
                Action::Members(UnitCode::parse(code).ok()?, page.parse().ok()?)
            }
            ("memu", [code, page]) => {
                Action::MembersUnreachable(UnitCode::parse(code).ok()?, page.parse().ok()?)
            }
            ("ver", [id]) => Action::Verify(id.parse().ok().filter(|i: &i64| *i > 0)?),
            ("ginst", []) => Action::GroupInstalled,
            ("uskip", []) => Action::SkipUnit,
            ("bcpick", []) => Action::BroadcastPick,
            ("bcto", [code]) => Action::BroadcastTo(UnitCode::parse(code).ok()?),
            ("invhelp", []) => Action::InviteLeaderHelp,
            ("later", []) => Action::RemindTomorrow,
            _ => return None,
        };
        Some(action)
    }
}

/// An optional unit code as written in callback data (empty for none).
fn opt(code: &Option<UnitCode>) -> &str {
    code.as_ref().map_or("", |c| c.as_str())
}

/// Parses an optional unit code: `Some(None)` for the empty string, `None` when invalid.
fn opt_code(s: &str) -> Option<Option<UnitCode>> {
    if s.is_empty() {
        Some(None)
    } else {
        UnitCode::parse(s).ok().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> UnitCode {
        UnitCode::parse(s).expect("valid code")
    }

    #[test]
    fn actions_round_trip_within_64_bytes() {
        let long = "A".repeat(UnitCode::MAX_LEN);
        for a in [
            Action::Language(Locale::En),
            Action::ChooseUnit(code("27694")),
            Action::Browse(None, 0),
            Action::Browse(Some(code(&long)), 4_000_000_000),
            Action::SearchUnit,
            Action::Phone(PhoneKind::Iphone),
            Action::Installed,
            Action::Guide,
            Action::Status,
            Action::LanguageMenu,
            Action::Coverage(None, 3),
            Action::Coverage(Some(code(&long)), 4_000_000_000),
            Action::Chart(None),
            Action::Chart(Some(code(&long))),
            Action::Export(Some(code(&long))),
            Action::Export(None),
            Action::Members(code(&long), 4_000_000_000),
            Action::MembersUnreachable(code(&long), 4_000_000_000),
            Action::Verify(i64::MAX),
            Action::GroupInstalled,
            Action::BroadcastAudience(i64::MAX, true),
            Action::BroadcastConfirm(i64::MAX),
            Action::BroadcastConfirmSpend(i64::MAX, crate::reach::Spend::PaidSpeed),
            Action::BroadcastDiscard(1),
            Action::BroadcastStopAsk(i64::MAX),
            Action::BroadcastStop(i64::MAX),
            Action::BroadcastKeep(i64::MAX),
            Action::SkipUnit,
            Action::BroadcastPick,
            Action::BroadcastTo(code(&long)),
            Action::InviteLeaderHelp,
            Action::RemindTomorrow,
        ] {
            let data = a.encode();
            assert!(data.len() <= MAX_DATA_LEN, "{data}");
            assert_eq!(Action::parse(&data), Some(a));
        }
    }

    #[test]
    fn forged_data_is_refused() {
        for bad in [
            "",
            "lang:fr",
            "unit:",
            "unit:8 0",
            "unit:80:extra",
            "tree:80:-1",
            "tree:80:x",
            "phone:nokia",
            "inst:1",
            "cov:80",
            "cov:80:x",
            "mem::0",
            "ver:-1",
            "ver:abc",
            "exp:8 0",
            "bcto:",
            "uskip:1",
            "drop table",
            &"x".repeat(65),
        ] {
            assert_eq!(Action::parse(bad), None, "{bad}");
        }
    }
}
