//! Button callback data. Every button carries an [`Action`], encoded in at most 64 bytes
//! (Telegram's limit). Data coming back is untrusted: it may be forged or stale, so parsing
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

/// Telegram's limit for callback data, in bytes.
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
            _ => return None,
        };
        Some(action)
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
            "drop table",
            &"x".repeat(65),
        ] {
            assert_eq!(Action::parse(bad), None, "{bad}");
        }
    }
}
