//! The plain-text downgrade, shared by the platforms that have neither editable messages
//! nor Telegram's inline keyboards (Messenger, Zalo): a rendered [`Outgoing`] becomes an
//! attachment (a picture or a file) followed by its text with flat buttons, sent within the
//! platform's messaging window, one message at a time per chat.
//!
//! Reach is decided at the moment of sending, by [`crate::reach::classify`] on the person's
//! row (last message, blocked, opted out) and the account's [`ReachRules`]:
//!
//! - free: the message goes;
//! - outside every window, blocked, or (broadcasts only) opted out: skipped, with a reason
//!   [`SkipClass`](crate::reach::SkipClass) can classify;
//! - billed (Zalo, 48 hours to 7 days): only a broadcast row whose leader chose to spend,
//!   and only when the account's monthly budget grants the price
//!   ([`Store::reserve_row_spend`], atomic, before each attempt). A refusal before anything
//!   went gives the reservation back; an attempt that may have reached the platform (a
//!   crash, a timeout) keeps it, so what the ledger counts is never less than what the
//!   platform may bill, across crashes, restarts and replicas. Every other message (a reply,
//!   a reminder, a digest) is free only: nothing is spent that a leader did not choose.
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
use super::{Deliver, Delivered, DeliveryError, OutButton, Outgoing, PhotoRef, SendContext};
use crate::domain::{ChatAddress, Platform};
use crate::outbox::PlatformLimits;
use crate::reach::{
    Reach, ReachRules, SKIPPED_BILLED_NOT_CHOSEN, SKIPPED_BLOCKED, SKIPPED_OPTED_OUT,
    SKIPPED_OVER_BUDGET, Unreachable, classify,
};
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
    /// The account's id: its spending is budgeted under it.
    pub account: &'a str,
    /// Requests per second over all chats (no per-chat rate is documented).
    pub sends_per_second: u32,
    /// Whom the account may write to, and at what cost.
    pub reach: ReachRules,
    /// The campaign's time zone: a monthly budget's month is the campaign's.
    pub tz: chrono_tz::Tz,
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

/// A billed message's reservation: what it costs (on the outbox row and the ledger).
struct Billed {
    row_id: i64,
}

fn database(e: anyhow::Error) -> DeliveryError {
    DeliveryError::Transient(format!("database: {e:#}"))
}

/// Whether a message of `messages` platform messages may go to `to` now (see the module
/// documentation): `Ok(None)` free, `Ok(Some(_))` billed and reserved, or the skip.
async fn admit(
    traits: &Traits<'_>,
    to: &ChatAddress,
    row: SendContext,
    messages: usize,
) -> Result<Option<Billed>, DeliveryError> {
    let store = traits.store;
    let Some(mut contact) = store
        .contact_by_chat(traits.account, &to.chat_id)
        .await
        .map_err(database)?
    else {
        return Err(DeliveryError::Skipped(traits.outside_window.into()));
    };
    // Opting out stops broadcasts, never the answers to what a person writes.
    if row.broadcast_id.is_none() {
        contact.opted_out = false;
    }
    let now = store.now();
    let price = match classify(&traits.reach, &contact, now) {
        Reach::Free => return Ok(None),
        Reach::Unreachable(why) => {
            let reason = match why {
                Unreachable::WindowClosed => traits.outside_window,
                Unreachable::Blocked => SKIPPED_BLOCKED,
                Unreachable::OptedOut => SKIPPED_OPTED_OUT,
            };
            return Err(DeliveryError::Skipped(reason.into()));
        }
        Reach::Billed { price } => price,
    };
    let not_chosen = || Err(DeliveryError::Skipped(SKIPPED_BILLED_NOT_CHOSEN.into()));
    let (Some(row_id), Some(broadcast)) = (row.row_id, row.broadcast_id) else {
        return not_chosen();
    };
    let spend = store.broadcast_spend(broadcast).await.map_err(database)?;
    if !spend.allows(Reach::Billed { price }) {
        return not_chosen();
    }
    // Every attempt reserves its own price: an earlier attempt that may have reached the
    // platform (a crash, a timeout) keeps what it reserved, so the ledger never counts
    // less than the platform may bill.
    let amount = price.saturating_mul(messages.max(1) as i64);
    let period = budget_period(traits.tz, now);
    let granted = store
        .reserve_row_spend(
            row_id,
            traits.account,
            &period,
            amount,
            traits.reach.monthly_budget,
        )
        .await
        .map_err(database)?;
    if !granted {
        return Err(DeliveryError::Skipped(SKIPPED_OVER_BUDGET.into()));
    }
    Ok(Some(Billed { row_id }))
}

/// The budget month of `now` in the campaign's time zone: `YYYY-MM` (the same month the
/// broadcast preview reads the budget in).
pub fn budget_period(tz: chrono_tz::Tz, now: i64) -> String {
    crate::reach::estimate::month(now, tz)
}

/// Delivers `message` to `to` on a plain-text platform as outbox row `row` (see the module
/// documentation).
pub async fn deliver(
    platform: &dyn PlainPlatform,
    to: &ChatAddress,
    message: &Outgoing,
    row: SendContext,
) -> Result<Delivered, DeliveryError> {
    let traits = platform.traits();
    let parts = match decompose(&traits, message) {
        Ok(parts) => parts,
        Err(settled) => return settled,
    };
    let store = traits.store;
    let attachment_only = parts.text.trim().is_empty() && parts.buttons.is_empty();
    let bodies = if parts.attachment.is_some() && attachment_only {
        Vec::new()
    } else {
        platform.plan(parts.text, &parts.buttons)
    };
    let messages = bodies.len() + usize::from(parts.attachment.is_some());
    let billed = admit(&traits, to, row, messages).await?;
    let _turn = traits.chats.lock(&to.chat_id).await;
    let mut posted = 0;
    let result = async {
        let mut delivered = Delivered::default();
        if let Some(attachment) = parts.attachment {
            delivered = platform.post_attachment(&to.chat_id, attachment).await?;
            posted += 1;
            if bodies.is_empty() {
                return Ok(delivered);
            }
        }
        // Remembered before sending: a person who answers the moment the message arrives
        // answers these choices.
        if let Err(e) = remember(store, traits.account, &to.chat_id, &parts.buttons).await {
            tracing::warn!(error = ?e, "remembering numbered choices failed");
        }
        for body in bodies {
            delivered = platform.post(&to.chat_id, body).await?;
            posted += 1;
        }
        Ok(delivered)
    }
    .await;
    // Refused before anything went (by its rules, or rate limited): nothing was billed and
    // the reservation is given back. After a network error or a timeout the platform may
    // have billed the message: the reservation stays.
    if let (Err(e), Some(billed), 0) = (&result, &billed, posted)
        && !matches!(e, DeliveryError::Transient(_))
        && let Err(e) = store.release_row_spend(billed.row_id, traits.account).await
    {
        tracing::warn!(error = ?e, "giving back a billed message's reservation failed");
    }
    result
}

/// Every plain-text platform delivers through [`deliver`], at `sends_per_second`.
#[async_trait::async_trait]
impl<T: PlainPlatform> Deliver for T {
    fn platform(&self) -> Platform {
        self.traits().platform
    }

    fn account_id(&self) -> &str {
        self.traits().account
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
        deliver(self, to, message, SendContext::default()).await
    }

    async fn deliver_row(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
        row: SendContext,
    ) -> Result<Delivered, DeliveryError> {
        deliver(self, to, message, row).await
    }
}
