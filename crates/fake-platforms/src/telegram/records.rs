//! What the fake records: the users who talk to the bot, every call it received and what
//! it answered, and counts over the record.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::{Value, json};

use super::server::Shared;

/// A Telegram user who talks to the bot in a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgUser {
    /// The user id (also their private chat id).
    pub id: i64,
    /// The first name Telegram shows.
    pub first_name: String,
    /// Telegram's `language_code` (the client's language), e.g. `vi` or `en`.
    pub language_code: Option<String>,
}

impl TgUser {
    /// A user whose Telegram is in Vietnamese.
    pub fn vi(id: i64) -> TgUser {
        TgUser {
            id,
            first_name: format!("Người {id}"),
            language_code: Some("vi".into()),
        }
    }

    /// A user whose Telegram is in English.
    pub fn en(id: i64) -> TgUser {
        TgUser {
            id,
            first_name: format!("User {id}"),
            language_code: Some("en".into()),
        }
    }

    /// A user with no language code.
    pub fn plain(id: i64) -> TgUser {
        TgUser {
            id,
            first_name: format!("User {id}"),
            language_code: None,
        }
    }

    /// The Bot API `User` object.
    pub fn json(&self) -> Value {
        let mut u = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        if let Some(lc) = &self.language_code {
            u["language_code"] = json!(lc);
        }
        u
    }

    pub(super) fn private_chat(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }
}

/// An uploaded file (sendPhoto, sendDocument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The multipart field (`photo`, `document`).
    pub field: String,
    /// The file name the client gave.
    pub file_name: Option<String>,
    /// The size in bytes.
    pub size: usize,
}

/// What the fake answered to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `{"ok":true}`; the message id when a message was sent or edited.
    Ok {
        /// The message's id, for methods returning a Message.
        message_id: Option<i64>,
    },
    /// A Bot API error (`{"ok":false,...}`).
    Error {
        /// The HTTP status and `error_code`.
        code: u16,
        /// Telegram's `description`.
        description: String,
    },
    /// The connection was dropped before an answer.
    Dropped,
}

/// One recorded Bot API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Position in the record, from 0.
    pub seq: usize,
    /// The method in Telegram's spelling (`sendMessage`, `getUpdates`, ...).
    pub method: String,
    /// The `chat_id` parameter, when numeric.
    pub chat_id: Option<i64>,
    /// `text`, or `caption` for uploads.
    pub text: Option<String>,
    /// The `reply_markup` parameter.
    pub reply_markup: Option<Value>,
    /// The uploaded file, for multipart calls with a file.
    pub upload: Option<Upload>,
    /// Every parameter (multipart text fields included; JSON strings parsed).
    pub params: Value,
    /// When the request was received.
    pub at: Instant,
    /// What was answered.
    pub outcome: Outcome,
}

impl Call {
    /// Whether the call was answered `ok`.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok { .. })
    }

    /// The message id answered, for successful sends and edits.
    pub fn message_id(&self) -> Option<i64> {
        match self.outcome {
            Outcome::Ok { message_id } => message_id,
            _ => None,
        }
    }

    /// The text or caption, or "".
    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// The inline keyboard as `(label, callback_data, url)` in reading order.
    pub fn buttons(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let mut out = Vec::new();
        let Some(rows) = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array)
        else {
            return out;
        };
        for row in rows {
            for b in row.as_array().into_iter().flatten() {
                let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
                out.push((s("text").unwrap_or_default(), s("callback_data"), s("url")));
            }
        }
        out
    }

    /// The labels of the inline keyboard.
    pub fn button_labels(&self) -> Vec<String> {
        self.buttons().into_iter().map(|b| b.0).collect()
    }

    /// The callback data of the first button whose label contains `label` (case-insensitive).
    pub fn button_data(&self, label: &str) -> Option<String> {
        let want = label.to_lowercase();
        self.buttons()
            .into_iter()
            .find(|b| b.0.to_lowercase().contains(&want) && b.1.is_some())
            .and_then(|b| b.1)
    }

    /// Every URL in the keyboard.
    pub fn button_urls(&self) -> Vec<String> {
        self.buttons().into_iter().filter_map(|b| b.2).collect()
    }

    /// Whether this is a successful message to the user (sendMessage/sendPhoto/sendDocument
    /// or editMessageText) in `chat`.
    pub fn is_message_to(&self, chat: i64) -> bool {
        self.chat_id == Some(chat) && self.ok() && is_message_method(&self.method)
    }
}

pub(super) fn is_message_method(method: &str) -> bool {
    matches!(
        method,
        "sendMessage" | "sendPhoto" | "sendDocument" | "editMessageText"
    )
}

pub(super) fn is_send_method(method: &str) -> bool {
    method.starts_with("send") || method.starts_with("copy") || method.starts_with("forward")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Calls per method (successful or not).
    pub by_method: BTreeMap<String, usize>,
    /// 429 answers in all.
    pub too_many_requests: usize,
    /// 429 answers per chat.
    pub too_many_by_chat: HashMap<i64, usize>,
    /// Successful sendMessage/sendPhoto/sendDocument per chat.
    pub messages_by_chat: HashMap<i64, usize>,
    /// Successful sends that repeated an earlier (chat, text) pair.
    pub duplicates: usize,
    /// Successful sends that arrived out of order in their chat: a text ending in a number
    /// is a sequence number, and one lower than an earlier arrival's in the same chat was
    /// overtaken (tests and benchmarks number what they queue to one chat).
    pub out_of_order: usize,
    /// Out-of-order arrivals per chat.
    pub out_of_order_by_chat: HashMap<i64, usize>,
}

/// The sequence number a text ends with, if any ("group post 7" → 7).
pub fn sequence_of(text: &str) -> Option<i64> {
    text.rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .filter(|d| !d.is_empty())
        .and_then(|d| d.parse().ok())
}

impl Call {
    pub(super) fn bare(method: String, params: Value, at: Instant, outcome: Outcome) -> Call {
        Call {
            seq: 0,
            method,
            chat_id: None,
            text: None,
            reply_markup: None,
            upload: None,
            params,
            at,
            outcome,
        }
    }
}

pub(super) fn record(shared: &Shared, mut call: Call) {
    let mut inner = shared.lock();
    call.seq = inner.calls.len();
    inner.calls.push(call);
}
