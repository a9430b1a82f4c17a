//! Replies as values: what to say (message keys with arguments) and to whom. The engine
//! renders them in the reader's language at the edge.

use super::Action;
use crate::domain::{ChatAddress, PersonId};
use crate::i18n::Msg;
use crate::platform::PhotoRef;

/// Who a reply is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The person who sent the event, in their private chat.
    Sender,
    /// Another person, in their private chat and language.
    Person(PersonId),
    /// A chat (a group), in the group's language (Vietnamese).
    Chat(ChatAddress),
}

/// What a button does when pressed.
#[derive(Debug, Clone, PartialEq)]
pub enum ButtonAction {
    /// Comes back to the bot as this action.
    Callback(Action),
    /// Opens a link.
    Url(String),
}

/// A button: a label to render and an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    /// The label.
    pub label: Msg,
    /// The action.
    pub action: ButtonAction,
}

impl Button {
    /// A button that comes back as `action`.
    pub fn action(label: Msg, action: Action) -> Button {
        Button {
            label,
            action: ButtonAction::Callback(action),
        }
    }

    /// A link button.
    pub fn url(label: Msg, url: impl Into<String>) -> Button {
        Button {
            label,
            action: ButtonAction::Url(url.into()),
        }
    }
}

/// An attachment.
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    /// A PNG picture; the text becomes its caption.
    Photo(Vec<u8>),
    /// A picture someone sent, passed on by the platform's reference; the text is its caption.
    SharedPhoto(PhotoRef),
    /// A file.
    Document {
        /// File name.
        filename: String,
        /// Contents.
        bytes: Vec<u8>,
    },
}

/// One message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Who it is for.
    pub to: Target,
    /// Paragraphs, rendered and joined with blank lines.
    pub text: Vec<Msg>,
    /// Rows of buttons.
    pub buttons: Vec<Vec<Button>>,
    /// A picture or file.
    pub attachment: Option<Attachment>,
    /// The platform's id of an earlier message (in the same chat) this one replaces, where the
    /// platform can edit messages; a text reply only.
    pub edit: Option<String>,
}

impl Reply {
    /// A message to the sender.
    pub fn to_sender(text: impl Into<Msg>) -> Reply {
        Reply {
            to: Target::Sender,
            text: vec![text.into()],
            buttons: Vec::new(),
            attachment: None,
            edit: None,
        }
    }

    /// Adds a paragraph.
    pub fn para(mut self, text: impl Into<Msg>) -> Reply {
        self.text.push(text.into());
        self
    }

    /// Adds a row of buttons.
    pub fn row(mut self, row: Vec<Button>) -> Reply {
        if !row.is_empty() {
            self.buttons.push(row);
        }
        self
    }

    /// Sends it to someone else.
    pub fn to(mut self, target: Target) -> Reply {
        self.to = target;
        self
    }

    /// Replaces the message `message_id` instead of adding one (the caller checks that the
    /// platform edits messages).
    pub fn editing(mut self, message_id: impl Into<String>) -> Reply {
        self.edit = Some(message_id.into());
        self
    }

    /// Attaches a picture or file.
    pub fn attach(mut self, attachment: Attachment) -> Reply {
        self.attachment = Some(attachment);
        self
    }
}

/// The result of one event: replies and an optional short toast for a button press.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Turn {
    /// Messages to send.
    pub replies: Vec<Reply>,
    /// The toast answering a button press.
    pub toast: Option<Msg>,
}

impl Turn {
    /// A turn with these replies.
    pub fn replies(replies: Vec<Reply>) -> Turn {
        Turn {
            replies,
            toast: None,
        }
    }

    /// A turn with one reply.
    pub fn reply(reply: Reply) -> Turn {
        Turn::replies(vec![reply])
    }
}
