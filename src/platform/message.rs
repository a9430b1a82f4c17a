//! Platform-neutral messages: what comes in and what goes out.

use serde::{Deserialize, Serialize};

use crate::domain::Platform;

/// Who sent an inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The platform's id for the person.
    pub user_id: String,
    /// The private chat with the person (on Telegram the same as the user id).
    pub private_chat_id: String,
    /// The name the platform shows, for leaders' lists.
    pub display_name: String,
    /// The platform's language tag for the person, when it gives one.
    pub language_code: Option<String>,
}

/// Whether an event happened in a private chat or in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatKind {
    /// A one-to-one chat with the bot.
    Private,
    /// A group or supergroup; carries its title.
    Group {
        /// The group's title.
        title: String,
    },
}

/// The chat an event happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// The platform's chat id.
    pub id: String,
    /// Private or group.
    pub kind: ChatKind,
}

/// One inbound event, already translated from the platform's own format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The platform it came from.
    pub platform: Platform,
    /// The account it is for (a person and a chat belong to the account they talk to). The
    /// parsers name the platform's single account; the inbox puts in its source's.
    pub account: crate::domain::AccountId,
    /// Who did it.
    pub sender: Sender,
    /// Where.
    pub chat: Chat,
    /// What.
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Plain text.
    Text(String),
    /// A command such as `/start u_80`: the name without the slash (and without `@bot`), and
    /// the rest of the line.
    Command {
        /// The command name, lowercase.
        name: String,
        /// Everything after the name, trimmed.
        args: String,
    },
    /// A button press with the data the bot attached to the button.
    Button {
        /// The callback data (untrusted: it may be forged or stale).
        data: String,
        /// The platform's id for answering the press (Telegram's callback query id).
        callback_id: Option<String>,
        /// The message the button was on, when the platform says.
        message_id: Option<String>,
    },
    /// A picture, with the caption the person wrote under it ("" when none).
    Photo {
        /// Where the platform keeps the picture.
        photo: PhotoRef,
        /// The caption.
        caption: String,
    },
    /// A sticker, voice note or anything else the bot does not read.
    Unsupported,
    /// The bot was added to this group.
    AddedToGroup,
    /// The bot was removed from this group.
    RemovedFromGroup,
    /// The person blocked the bot (or unfollowed the account).
    Blocked,
    /// The person unblocked the bot (or followed the account).
    Unblocked,
    /// The group became a supergroup with a new chat id.
    GroupMigrated {
        /// The new chat id.
        to_chat_id: String,
    },
}

impl Inbound {
    /// The event with every platform string made safe to store and show: NUL and the other
    /// control characters that PostgreSQL or a renderer refuses are dropped. Message text
    /// (texts, command arguments, captions) keeps its line breaks and tabs; one-line values
    /// (ids, names, titles, button data) turn them into spaces. Every adapter applies it at
    /// the boundary, before anything reads or stores the event.
    pub fn cleaned(mut self) -> Inbound {
        let s = &mut self.sender;
        clean_line(&mut s.user_id);
        clean_line(&mut s.private_chat_id);
        clean_line(&mut s.display_name);
        if let Some(tag) = &mut s.language_code {
            clean_line(tag);
        }
        clean_line(&mut self.chat.id);
        if let ChatKind::Group { title } = &mut self.chat.kind {
            clean_line(title);
        }
        match &mut self.event {
            Event::Text(text) => clean_text(text),
            Event::Command { name, args } => {
                clean_line(name);
                clean_text(args);
            }
            Event::Button {
                data,
                callback_id,
                message_id,
            } => {
                clean_line(data);
                for id in [callback_id, message_id].into_iter().flatten() {
                    clean_line(id);
                }
            }
            Event::Photo { photo, caption } => {
                match photo {
                    PhotoRef::TelegramFile { file_id, .. } => clean_line(file_id),
                    PhotoRef::Url { url } => clean_line(url),
                }
                clean_text(caption);
            }
            Event::GroupMigrated { to_chat_id } => clean_line(to_chat_id),
            Event::Unsupported
            | Event::AddedToGroup
            | Event::RemovedFromGroup
            | Event::Blocked
            | Event::Unblocked => {}
        }
        self
    }
}

/// Whether a database or a renderer refuses `c`: NUL, the other C0 and C1 controls, DEL,
/// and the Unicode noncharacters U+FFFE/U+FFFF.
fn refused(c: char) -> bool {
    c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// Cleans message text in place: refused characters go, line breaks and tabs stay
/// (`\r\n` and a lone `\r` become `\n`).
pub fn clean_text(text: &mut String) {
    if !text.chars().any(refused) {
        return;
    }
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    *text = unified
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !refused(c))
        .collect();
}

/// Cleans a one-line value in place (an id, a name, a title, button data): refused
/// characters go, line breaks and tabs become spaces.
pub fn clean_line(value: &mut String) {
    if !value.chars().any(refused) {
        return;
    }
    *value = value
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if refused(c) => None,
            c => Some(c),
        })
        .collect();
}

/// A picture someone sent, by the platform's own reference, so it can be sent on without
/// downloading and uploading it again for every recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PhotoRef {
    /// A Telegram `file_id`: only the bot that received it can send it on.
    TelegramFile {
        /// The id.
        file_id: String,
        /// The account of that bot, once known (`None`: the single Telegram bot).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<String>,
    },
    /// A public `https` address (Zalo and Messenger give these for received pictures).
    Url {
        /// The address.
        url: String,
    },
}

impl PhotoRef {
    /// The platform the picture belongs to, when only that platform can show it (a Telegram
    /// file id means nothing elsewhere); `None` for a picture any platform can fetch.
    pub fn home(&self) -> Option<crate::domain::Platform> {
        match self {
            PhotoRef::TelegramFile { .. } => Some(crate::domain::Platform::Telegram),
            PhotoRef::Url { .. } => None,
        }
    }

    /// The account whose bot issued the picture, when only it can send it on and it is
    /// known.
    pub fn home_account(&self) -> Option<&str> {
        match self {
            PhotoRef::TelegramFile { bot, .. } => bot.as_deref(),
            PhotoRef::Url { .. } => None,
        }
    }

    /// The picture as received by account `account` (a Telegram file id is that bot's).
    pub fn received_by(mut self, account: &str) -> PhotoRef {
        if let PhotoRef::TelegramFile { bot, .. } = &mut self {
            *bot = Some(account.to_string());
        }
        self
    }
}

/// A button on an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutButton {
    /// Sends `data` back to the bot when pressed.
    Callback {
        /// The rendered label.
        label: String,
        /// The callback data (at most 64 bytes on Telegram).
        data: String,
    },
    /// Opens a link.
    Url {
        /// The rendered label.
        label: String,
        /// The link.
        url: String,
    },
}

impl OutButton {
    /// The label shown on the button.
    pub fn label(&self) -> &str {
        match self {
            OutButton::Callback { label, .. } | OutButton::Url { label, .. } => label,
        }
    }
}

/// A rendered outgoing message, stored in the outbox as JSON until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// A text message, with rows of buttons.
    Text {
        /// The text (HTML-free plain text).
        text: String,
        /// Rows of buttons.
        #[serde(default)]
        buttons: Vec<Vec<OutButton>>,
    },
    /// A PNG picture with a caption.
    Photo {
        /// The picture.
        #[serde(with = "base64_bytes")]
        png: Vec<u8>,
        /// The caption.
        caption: String,
        /// Rows of buttons.
        #[serde(default)]
        buttons: Vec<Vec<OutButton>>,
    },
    /// A picture someone sent earlier (a leader's broadcast photo), sent on by reference.
    SharedPhoto {
        /// The picture.
        photo: PhotoRef,
        /// The caption.
        caption: String,
        /// Rows of buttons.
        #[serde(default)]
        buttons: Vec<Vec<OutButton>>,
    },
    /// A file.
    Document {
        /// The file name the person sees.
        filename: String,
        /// The file.
        #[serde(with = "base64_bytes")]
        bytes: Vec<u8>,
        /// The caption.
        caption: String,
    },
    /// A new text for a message the bot sent earlier (progress messages).
    Edit {
        /// The platform's id of the message.
        message_id: String,
        /// The new text.
        text: String,
        /// The new buttons.
        #[serde(default)]
        buttons: Vec<Vec<OutButton>>,
    },
    /// The answer to a button press (Telegram shows it as a small toast).
    AnswerCallback {
        /// The callback id from the press.
        callback_id: String,
        /// An optional toast text.
        text: Option<String>,
    },
}

impl Outgoing {
    /// A text message without buttons.
    pub fn text(text: impl Into<String>) -> Outgoing {
        Outgoing::Text {
            text: text.into(),
            buttons: Vec::new(),
        }
    }

    /// The main text or caption, for logs, consoles and tests.
    pub fn body(&self) -> &str {
        match self {
            Outgoing::Text { text, .. } | Outgoing::Edit { text, .. } => text,
            Outgoing::Photo { caption, .. }
            | Outgoing::SharedPhoto { caption, .. }
            | Outgoing::Document { caption, .. } => caption,
            Outgoing::AnswerCallback { text, .. } => text.as_deref().unwrap_or(""),
        }
    }

    /// The buttons, if the message has any.
    pub fn buttons(&self) -> &[Vec<OutButton>] {
        match self {
            Outgoing::Text { buttons, .. }
            | Outgoing::Photo { buttons, .. }
            | Outgoing::SharedPhoto { buttons, .. }
            | Outgoing::Edit { buttons, .. } => buttons,
            _ => &[],
        }
    }
}

/// Bytes stored in the outbox as standard base64 text.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.trim())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// What a platform said when a message went out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The platform's id of the new message, for later edits.
    pub message_id: Option<String>,
}

/// Why a delivery failed, classified so the outbox knows whether and when to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Too many requests: wait this long. `global` pauses all sending on the platform.
    #[error("rate limited: retry after {seconds} s")]
    RetryAfter {
        /// Seconds to wait.
        seconds: u64,
        /// Whether the whole platform is paused rather than one chat.
        global: bool,
    },
    /// The person blocked the bot, deleted the account, or the chat does not exist: never retry.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The platform refuses this message by its rules (outside the messaging window): skip it.
    #[error("skipped: {0}")]
    Skipped(String),
    /// The group became a supergroup with a new id: resend there.
    #[error("group migrated to {0}")]
    Migrated(String),
    /// The request itself is wrong (bad markup, too long): retrying will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// A network error, a timeout or a 5xx: retry with backoff.
    #[error("transient: {0}")]
    Transient(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_strings_lose_what_databases_refuse() {
        let inbound = Inbound {
            platform: Platform::Telegram,
            account: crate::domain::AccountId::of_platform(Platform::Telegram),
            sender: Sender {
                user_id: "1\u{0}2".into(),
                private_chat_id: "12".into(),
                display_name: "Lan\u{0}\nNguyễn\u{7}\u{9b}".into(),
                language_code: Some("vi\u{0}".into()),
            },
            chat: Chat {
                id: "12".into(),
                kind: ChatKind::Group {
                    title: "Tổ\u{0} 1".into(),
                },
            },
            event: Event::Command {
                name: "sta\u{0}rt".into(),
                args: "u_794\u{0}\r\nline 2\tend\u{1b}".into(),
            },
        }
        .cleaned();
        assert_eq!(inbound.sender.user_id, "12");
        assert_eq!(inbound.sender.display_name, "Lan Nguyễn");
        assert_eq!(inbound.sender.language_code.as_deref(), Some("vi"));
        assert_eq!(
            inbound.chat.kind,
            ChatKind::Group {
                title: "Tổ 1".into()
            }
        );
        assert_eq!(
            inbound.event,
            Event::Command {
                name: "start".into(),
                args: "u_794\nline 2\tend".into()
            }
        );
        let mut text = "xin chào\u{0}".to_string();
        clean_text(&mut text);
        assert_eq!(text, "xin chào");
    }

    #[test]
    fn binary_payloads_survive_json() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let doc = Outgoing::Document {
                filename: "a.csv".into(),
                bytes: bytes.clone(),
                caption: String::new(),
            };
            let json = serde_json::to_string(&doc).expect("serialize");
            let back: Outgoing = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, doc);
        }
        // Rows queued before the switch to the `base64` crate read the same.
        let doc = Outgoing::Document {
            filename: "a.csv".into(),
            bytes: b"any carnal pleas".to_vec(),
            caption: String::new(),
        };
        let json = serde_json::to_string(&doc).expect("serialize");
        assert!(json.contains("\"YW55IGNhcm5hbCBwbGVhcw==\""), "{json}");
    }
}
