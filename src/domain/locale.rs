//! The languages the bot speaks.

use std::fmt;

/// A supported language. Vietnamese is the default for everyone whose platform does not say
/// they use English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    /// Tiếng Việt.
    #[default]
    Vi,
    /// English.
    En,
}

impl Locale {
    /// Every supported locale, in menu order.
    pub const ALL: [Locale; 2] = [Locale::Vi, Locale::En];

    /// The code used in the database, in callback data and for the `locales/<code>/` folder.
    pub fn code(self) -> &'static str {
        match self {
            Locale::Vi => "vi",
            Locale::En => "en",
        }
    }

    /// Parses a stored code (`vi` or `en`).
    pub fn parse(code: &str) -> Option<Locale> {
        match code {
            "vi" => Some(Locale::Vi),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// Picks the locale for a platform language tag such as Telegram's `language_code`
    /// ("en", "en-US", "vi"): English tags give English, anything else Vietnamese.
    pub fn from_language_tag(tag: Option<&str>) -> Locale {
        match tag {
            Some(t) if t.to_ascii_lowercase().starts_with("en") => Locale::En,
            _ => Locale::Vi,
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Locale;

    #[test]
    fn language_tags_map_to_locales() {
        assert_eq!(Locale::from_language_tag(Some("en")), Locale::En);
        assert_eq!(Locale::from_language_tag(Some("en-GB")), Locale::En);
        assert_eq!(Locale::from_language_tag(Some("vi")), Locale::Vi);
        assert_eq!(Locale::from_language_tag(Some("fr")), Locale::Vi);
        assert_eq!(Locale::from_language_tag(None), Locale::Vi);
        for l in Locale::ALL {
            assert_eq!(Locale::parse(l.code()), Some(l));
        }
        assert_eq!(Locale::parse("xx"), None);
    }
}
