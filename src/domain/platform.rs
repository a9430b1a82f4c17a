//! Which messaging network an account or chat lives on.

use std::fmt;

/// A messaging network the bot talks on. `Console` is the terminal chat used by `chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Telegram Bot API.
    Telegram,
    /// Zalo Official Account API v3.
    Zalo,
    /// Facebook Messenger Platform.
    Messenger,
    /// The local terminal (`bluezone-bot chat`).
    Console,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 4] = [
        Platform::Telegram,
        Platform::Zalo,
        Platform::Messenger,
        Platform::Console,
    ];

    /// The name stored in the database and used in `BLUEZONE_ADMINS` (`telegram:123`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Zalo => "zalo",
            Platform::Messenger => "messenger",
            Platform::Console => "console",
        }
    }

    /// Parses a stored platform name.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A platform's name, which is also the id of its single account (the one its environment
/// variables describe): store functions that take an account accept a platform for it.
impl AsRef<str> for Platform {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message goes: a chat with one account on a platform. Private chats and groups are
/// both chats.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatAddress {
    /// The platform the chat is on.
    pub platform: Platform,
    /// The account the chat is with (its messages go out through that account, at its
    /// limits).
    pub account: super::AccountId,
    /// The platform's own chat id, as text (Telegram ids are numbers, Zalo and Messenger ids are not).
    pub chat_id: String,
    /// Groups have their own rate limits (20 messages a minute on Telegram).
    pub is_group: bool,
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("icq"), None);
    }
}
