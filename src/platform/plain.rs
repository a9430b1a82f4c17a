//! The plain-text downgrade, shared by the platforms that have neither editable messages
//! nor Telegram's inline keyboards (Messenger, Zalo): a rendered [`Outgoing`] becomes an
//! attachment (a picture or a file) followed by its text with flat buttons, sent within the
//! platform's messaging window, one message at a time per chat.
//!
//! What differs between such platforms is described by their [`PlainPlatform`]
//! implementation: the window, whether files can be sent, how an attachment is posted and
//! how a text with buttons becomes message bodies ([`PlainPlatform::plan`]). Everything else
//! is done here once:
//!
//! - an answer to a button press has no toast to show: nothing is sent;
//! - an edit without buttons (a broadcast's progress) is dropped, since the summary follows
//!   as its own message; an edit with buttons (a menu) goes as a new message;
//! - a picture another platform issued (a Telegram file id) means nothing here: only its
//!   caption goes, or nothing when it has none;
//! - the buttons are remembered as the chat's numbered choices before anything is sent, so a
//!   person who answers the moment the message arrives answers these choices.

use serde_json::Value;

use super::chat_lock::ChatLocks;
use super::choices::{flatten, remember};
use super::{Deliver, Delivered, DeliveryError, OutButton, Outgoing, PhotoRef};
use crate::domain::{ChatAddress, Platform};
use crate::outbox::PlatformLimits;
use crate::store::Store;

/// What goes before a caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment<'a> {
    /// A PNG picture to upload (charts, posters).
    Picture(&'a [u8]),
    /// A picture the platform fetches from an address.
    PictureAt(&'a str),
    /// A file to upload (exports), with its name.
    File {
        /// The file's name (its extension tells the content type).
        filename: &'a str,
        /// The file's content.
        bytes: &'a [u8],
    },
}

/// What the shared downgrade needs to know of one plain-text account.
pub struct Traits<'a> {
    /// The platform.
    pub platform: Platform,
    /// Requests per second over all chats (no per-chat rate is documented).
    pub sends_per_second: u32,
    /// How long after a person's last message the account may write to them, in ms.
    pub window_ms: i64,
    /// The reason recorded when a message falls outside the window (the platform's own
    /// name for it).
    pub outside_window: &'static str,
    /// Whether files (exports) can be sent; when not, only their caption goes.
    pub sends_files: bool,
    /// The store that tells when a person last wrote and keeps numbered choices.
    pub store: &'a Store,
    /// One message at a time per chat, so a turn's messages arrive in order.
    pub chats: &'a ChatLocks,
}

/// One plain-text platform account, as the shared downgrade needs it.
#[async_trait::async_trait]
pub trait PlainPlatform: Send + Sync {
    /// What the account is and can do.
    fn traits(&self) -> Traits<'_>;

    /// Sends an attachment on its own.
    async fn post_attachment(
        &self,
        chat_id: &str,
        attachment: Attachment<'_>,
    ) -> Result<Delivered, DeliveryError>;

    /// The message bodies for `text` with `buttons`, in order.
    fn plan(&self, text: &str, buttons: &[OutButton]) -> Vec<Value>;

    /// Sends one message body from [`PlainPlatform::plan`].
    async fn post(&self, chat_id: &str, body: Value) -> Result<Delivered, DeliveryError>;
}

/// A message decomposed: its text, its buttons in reading order and what goes before it.
struct Parts<'a> {
    text: &'a str,
    buttons: Vec<OutButton>,
    attachment: Option<Attachment<'a>>,
}

/// What to do with `message` on `platform`: send its parts, or settle it at once.
fn decompose<'a>(
    traits: &Traits<'_>,
    message: &'a Outgoing,
) -> Result<Parts<'a>, Result<Delivered, DeliveryError>> {
    let parts = |text: &'a String, buttons: &[Vec<OutButton>], attachment| Parts {
        text: text.as_str(),
        buttons: flatten(buttons),
        attachment,
    };
    match message {
        Outgoing::AnswerCallback { .. } => Err(Ok(Delivered::default())),
        Outgoing::Edit {
            message_id,
            buttons,
            ..
        } if buttons.is_empty() => Err(Ok(Delivered {
            message_id: Some(message_id.clone()),
        })),
        Outgoing::Text { text, buttons } | Outgoing::Edit { text, buttons, .. } => {
            Ok(parts(text, buttons, None))
        }
        Outgoing::Photo {
            png,
            caption,
            buttons,
        } => Ok(parts(caption, buttons, Some(Attachment::Picture(png)))),
        Outgoing::SharedPhoto {
            photo,
            caption,
            buttons,
        } => {
            let attachment = match photo {
                _ if photo.home().is_some_and(|home| home != traits.platform) => {
                    if caption.trim().is_empty() {
                        return Err(Err(DeliveryError::Skipped(format!(
                            "a picture of another platform cannot be sent on {}",
                            traits.platform
                        ))));
                    }
                    None
                }
                PhotoRef::Url { url } => Some(Attachment::PictureAt(url)),
                PhotoRef::TelegramFile { .. } => None,
            };
            Ok(parts(caption, buttons, attachment))
        }
        Outgoing::Document {
            filename,
            bytes,
            caption,
        } => Ok(Parts {
            text: caption.as_str(),
            buttons: Vec::new(),
            attachment: traits
                .sends_files
                .then_some(Attachment::File { filename, bytes }),
        }),
    }
}

/// Delivers `message` to `to` on a plain-text platform (see the module documentation).
pub async fn deliver(
    platform: &dyn PlainPlatform,
    to: &ChatAddress,
    message: &Outgoing,
) -> Result<Delivered, DeliveryError> {
    let traits = platform.traits();
    let parts = match decompose(&traits, message) {
        Ok(parts) => parts,
        Err(settled) => return settled,
    };
    let store = traits.store;
    // The window is counted from the person's last message.
    let last = store
        .last_inbound_by_chat(traits.platform, &to.chat_id)
        .await
        .map_err(|e| DeliveryError::Transient(format!("database: {e}")))?;
    if last.is_none_or(|t| store.now() - t > traits.window_ms) {
        return Err(DeliveryError::Skipped(traits.outside_window.into()));
    }
    let _turn = traits.chats.lock(&to.chat_id).await;
    let mut delivered = Delivered::default();
    if let Some(attachment) = parts.attachment {
        delivered = platform.post_attachment(&to.chat_id, attachment).await?;
        if parts.text.trim().is_empty() && parts.buttons.is_empty() {
            return Ok(delivered);
        }
    }
    // Remembered before sending: a person who answers the moment the message arrives
    // answers these choices.
    if let Err(e) = remember(store, traits.platform, &to.chat_id, &parts.buttons).await {
        tracing::warn!(error = ?e, "remembering numbered choices failed");
    }
    for body in platform.plan(parts.text, &parts.buttons) {
        delivered = platform.post(&to.chat_id, body).await?;
    }
    Ok(delivered)
}

/// Every plain-text platform delivers through [`deliver`], at `sends_per_second`.
#[async_trait::async_trait]
impl<T: PlainPlatform> Deliver for T {
    fn platform(&self) -> Platform {
        self.traits().platform
    }

    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            global_per_sec: Some(self.traits().sends_per_second),
            margin: 0.02,
            ..PlatformLimits::unlimited()
        }
    }

    async fn deliver(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        deliver(self, to, message).await
    }
}
