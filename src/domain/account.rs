//! Account ids: the name of one configured account (a Telegram bot, a Zalo OA, a Messenger
//! Page). A person, a chat and an outbox row belong to an account; its webhooks are served
//! under `/webhooks/<platform>/<account id>`.

use std::fmt;

use super::Platform;

/// An account id: 1 to 64 characters from `a-z 0-9 _ -` (it appears in webhook paths and in
/// stored keys). The single account a platform's environment variables describe is named
/// after the platform (`telegram`), so addresses and stored rows from before accounts files
/// keep working.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses an id, trimming surrounding white space.
    pub fn parse(raw: &str) -> Result<AccountId, String> {
        let s = raw.trim();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(format!(
                "an account id must be 1 to {} characters",
                Self::MAX_LEN
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(format!(
                "account id {s:?} may only hold a-z, 0-9, '-' and '_'"
            ));
        }
        Ok(AccountId(s.to_string()))
    }

    /// The id of the single account `platform`'s environment variables describe (and of
    /// the console): the platform's name.
    pub fn of_platform(platform: Platform) -> AccountId {
        AccountId(platform.as_str().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for AccountId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for AccountId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AccountId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_at_the_boundary() {
        assert_eq!(
            AccountId::parse(" long-an_1 ").map(|a| a.to_string()),
            Ok("long-an_1".into())
        );
        for bad in ["", "Long-An", "a b", "../x", "bot/1", &"x".repeat(65)] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(AccountId::of_platform(Platform::Telegram), "telegram");
    }
}
