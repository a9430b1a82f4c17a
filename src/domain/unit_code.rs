//! Administrative unit codes and kinds.

use std::fmt;

/// A unit code: GSO codes are digits ("80", "794", "27694"); agencies, businesses and unions
/// may use letters too ("80-POST"). 1 to 32 characters from `A-Z a-z 0-9 - .`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitCode(String);

impl UnitCode {
    /// The longest code accepted.
    pub const MAX_LEN: usize = 32;

    /// Parses a code, trimming surrounding white space.
    pub fn parse(raw: &str) -> Result<UnitCode, String> {
        let s = raw.trim();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(format!(
                "unit code must be 1 to {} characters",
                Self::MAX_LEN
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!(
                "unit code {s:?} may only hold letters, digits, '-' and '.'"
            ));
        }
        Ok(UnitCode(s.to_string()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A code reads as the text it is (a valid code is a string with rules, never another
/// string): `&code` goes where `&str` is wanted, and maps keyed by code are looked up by text.
impl std::ops::Deref for UnitCode {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for UnitCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for UnitCode {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for UnitCode {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for UnitCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for UnitCode {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl From<UnitCode> for String {
    fn from(code: UnitCode) -> String {
        code.0
    }
}

/// Stored (in the conversation state) as its text; reading text that is not a valid code
/// fails.
impl serde::Serialize for UnitCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for UnitCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UnitCode, D::Error> {
        let text = String::deserialize(d)?;
        UnitCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of unit it is: the administrative tree, plus the organisations the provincial
/// order names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// Tỉnh / thành phố trực thuộc trung ương.
    Province,
    /// Quận / huyện / thị xã / thành phố thuộc tỉnh.
    District,
    /// Xã / phường / thị trấn.
    Commune,
    /// A department or other state agency.
    Agency,
    /// A business, industrial zone, post office or bank.
    Business,
    /// A mass organisation: Youth Union, Women's Union, Fatherland Front …
    Union,
    /// Anything else.
    Other,
}

impl UnitKind {
    /// Every kind.
    pub const ALL: [UnitKind; 7] = [
        UnitKind::Province,
        UnitKind::District,
        UnitKind::Commune,
        UnitKind::Agency,
        UnitKind::Business,
        UnitKind::Union,
        UnitKind::Other,
    ];

    /// The stored name, which is also the `level` column of the CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::District => "district",
            UnitKind::Commune => "commune",
            UnitKind::Agency => "agency",
            UnitKind::Business => "business",
            UnitKind::Union => "union",
            UnitKind::Other => "other",
        }
    }

    /// Parses a stored or CSV kind name (case-insensitive).
    pub fn parse(name: &str) -> Option<UnitKind> {
        let lower = name.trim().to_ascii_lowercase();
        UnitKind::ALL.into_iter().find(|k| k.as_str() == lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse() {
        assert_eq!(
            UnitCode::parse(" 80 ").map(|c| c.to_string()),
            Ok("80".into())
        );
        assert!(UnitCode::parse("80-POST").is_ok());
        assert!(UnitCode::parse("").is_err());
        assert!(UnitCode::parse("8 0").is_err());
        assert!(UnitCode::parse("x'; drop").is_err());
        assert!(UnitCode::parse(&"9".repeat(33)).is_err());
    }

    #[test]
    fn kinds_parse() {
        for k in UnitKind::ALL {
            assert_eq!(UnitKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(UnitKind::parse("Province"), Some(UnitKind::Province));
        assert_eq!(UnitKind::parse("hamlet"), None);
    }
}
