//! Sending rendered messages with the Bot API.

use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, SendDocumentSetters, SendMessageSetters,
    SendPhotoSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId,
};
use teloxide::{ApiError, Bot, RequestError};

use crate::domain::{ChatAddress, Platform};
use crate::platform::{Deliver, Delivered, DeliveryError, OutButton, Outgoing, PhotoRef};

/// Telegram's limit for a message text, in characters.
const MAX_TEXT: usize = 4096;
/// Telegram's limit for a caption, in characters.
const MAX_CAPTION: usize = 1024;

/// The Telegram adapter's sending half.
#[derive(Clone)]
pub struct Telegram {
    bot: Bot,
    /// The account this bot is (its outbox rows carry this id).
    account: crate::domain::AccountId,
    /// The rate limits the outbox keeps to for this bot.
    limits: crate::outbox::PlatformLimits,
    /// Paid broadcasts (`allow_paid_broadcast`), when the settings allow them.
    paid_speed: Option<crate::reach::PaidSpeed>,
}

impl Telegram {
    /// Wraps a configured bot (token and API URL set).
    pub fn new(bot: Bot) -> Telegram {
        Telegram::with_limits(bot, super::limits(3))
    }

    /// Wraps a configured bot whose rate limits are `limits`.
    pub fn with_limits(bot: Bot, limits: crate::outbox::PlatformLimits) -> Telegram {
        Telegram {
            bot,
            account: crate::domain::AccountId::of_platform(Platform::Telegram),
            limits,
            paid_speed: None,
        }
    }

    /// The same bot, as account `account` (the single Telegram account otherwise).
    pub fn for_account(mut self, account: crate::domain::AccountId) -> Telegram {
        self.account = account;
        self
    }

    /// The same bot, sending paid broadcasts at `paid` speed (`None`: never).
    pub fn with_paid_speed(mut self, paid: Option<crate::reach::PaidSpeed>) -> Telegram {
        self.paid_speed = paid;
        self
    }

    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

fn keyboard(rows: &[Vec<OutButton>]) -> Option<InlineKeyboardMarkup> {
    if rows.is_empty() {
        return None;
    }
    let rows: Vec<Vec<InlineKeyboardButton>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|b| match b {
                    OutButton::Callback { label, data } => {
                        Some(InlineKeyboardButton::callback(label.clone(), data.clone()))
                    }
                    OutButton::Url { label, url } => url::Url::parse(url)
                        .ok()
                        .map(|u| InlineKeyboardButton::url(label.clone(), u)),
                })
                .collect()
        })
        .filter(|r: &Vec<InlineKeyboardButton>| !r.is_empty())
        .collect();
    Some(InlineKeyboardMarkup::new(rows))
}

/// Maps a Bot API failure to what the outbox should do about it.
pub fn classify(error: &RequestError) -> DeliveryError {
    match error {
        RequestError::RetryAfter(s) => DeliveryError::RetryAfter {
            seconds: u64::from(s.seconds()).max(1),
            global: false,
        },
        RequestError::MigrateToChatId(id) => DeliveryError::Migrated(id.0.to_string()),
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::GroupDeactivated
            | ApiError::UserNotFound => DeliveryError::Unreachable(api.to_string()),
            ApiError::Unknown(s)
                if s.starts_with("Forbidden:")
                    || s.contains("chat not found")
                    || s.contains("PEER_ID_INVALID")
                    || s.contains("user not found") =>
            {
                DeliveryError::Unreachable(s.clone())
            }
            // Normally teloxide reads `parameters.retry_after`; without it, the seconds are
            // in the description ("Too Many Requests: retry after 7").
            ApiError::Unknown(s) if s.starts_with("Too Many Requests") => {
                DeliveryError::RetryAfter {
                    seconds: s
                        .rsplit(' ')
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(1)
                        .max(1),
                    global: false,
                }
            }
            // A request Telegram refuses is refused again; anything else it does not name
            // (Internal Server Error, Bad Gateway, Service Unavailable, Gateway Timeout …) is
            // its own trouble and passes.
            ApiError::Unknown(s) if !s.starts_with("Bad Request") => {
                DeliveryError::Transient(s.clone())
            }
            other => DeliveryError::Rejected(other.to_string()),
        },
        RequestError::Network(e) => DeliveryError::Transient(e.to_string()),
        RequestError::InvalidJson { source, .. } => DeliveryError::Transient(source.to_string()),
        RequestError::Io(e) => DeliveryError::Transient(e.to_string()),
    }
}

#[async_trait::async_trait]
impl Deliver for Telegram {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn account_id(&self) -> &str {
        &self.account
    }

    fn limits(&self) -> crate::outbox::PlatformLimits {
        self.limits
    }

    async fn deliver(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        self.send(to, message, false).await
    }

    fn paid_speed(&self) -> Option<crate::reach::PaidSpeed> {
        self.paid_speed
    }

    /// New messages go with `allow_paid_broadcast: true` (edits and answers have no such
    /// flag and are sent as usual).
    async fn deliver_paid(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        self.send(to, message, self.paid_speed.is_some()).await
    }
}

impl Telegram {
    /// Sends `message` to `to`, as part of a paid broadcast when `paid`.
    async fn send(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
        paid: bool,
    ) -> Result<Delivered, DeliveryError> {
        let chat =
            to.chat_id.parse::<i64>().map(ChatId).map_err(|_| {
                DeliveryError::Rejected(format!("bad Telegram chat id {:?}", to.chat_id))
            });
        let sent = match message {
            Outgoing::Text { text, buttons } => {
                let mut req = self
                    .bot
                    .send_message(chat?, cut(text, MAX_TEXT))
                    .allow_paid_broadcast(paid);
                if let Some(k) = keyboard(buttons) {
                    req = req.reply_markup(k);
                }
                req.await.map(|m| Some(m.id.0.to_string()))
            }
            Outgoing::Photo {
                png,
                caption,
                buttons,
            } => {
                let mut req = self
                    .bot
                    .send_photo(chat?, InputFile::memory(png.clone()).file_name("chart.png"))
                    .caption(cut(caption, MAX_CAPTION))
                    .allow_paid_broadcast(paid);
                if let Some(k) = keyboard(buttons) {
                    req = req.reply_markup(k);
                }
                req.await.map(|m| Some(m.id.0.to_string()))
            }
            // A file id another bot received means nothing to this one: the caption goes
            // on its own, as on the plain-text platforms.
            Outgoing::SharedPhoto {
                photo: PhotoRef::TelegramFile { bot: Some(bot), .. },
                caption,
                buttons,
            } if bot.as_str() != self.account.as_str() => {
                let mut req = self
                    .bot
                    .send_message(chat?, cut(caption, MAX_TEXT))
                    .allow_paid_broadcast(paid);
                if let Some(k) = keyboard(buttons) {
                    req = req.reply_markup(k);
                }
                req.await.map(|m| Some(m.id.0.to_string()))
            }
            Outgoing::SharedPhoto {
                photo,
                caption,
                buttons,
            } => {
                let file = match photo {
                    PhotoRef::TelegramFile { file_id, .. } => {
                        InputFile::file_id(teloxide::types::FileId(file_id.clone()))
                    }
                    PhotoRef::Url { url } => {
                        InputFile::url(url::Url::parse(url).map_err(|_| {
                            DeliveryError::Rejected(format!("bad picture address {url:?}"))
                        })?)
                    }
                };
                let mut req = self
                    .bot
                    .send_photo(chat?, file)
                    .caption(cut(caption, MAX_CAPTION))
                    .allow_paid_broadcast(paid);
                if let Some(k) = keyboard(buttons) {
                    req = req.reply_markup(k);
                }
                req.await.map(|m| Some(m.id.0.to_string()))
            }
            Outgoing::Document {
                filename,
                bytes,
                caption,
            } => self
                .bot
                .send_document(
                    chat?,
                    InputFile::memory(bytes.clone()).file_name(filename.clone()),
                )
                .caption(cut(caption, MAX_CAPTION))
                .allow_paid_broadcast(paid)
                .await
                .map(|m| Some(m.id.0.to_string())),
            Outgoing::Edit {
                message_id,
                text,
                buttons,
            } => {
                let id = message_id.parse::<i32>().map_err(|_| {
                    DeliveryError::Rejected(format!("bad message id {message_id:?}"))
                })?;
                let mut req = self
                    .bot
                    .edit_message_text(chat?, MessageId(id), cut(text, MAX_TEXT));
                if let Some(k) = keyboard(buttons) {
                    req = req.reply_markup(k);
                }
                match req.await {
                    Ok(_) => Ok(Some(message_id.clone())),
                    // Editing to the same text is not a failure.
                    Err(RequestError::Api(ApiError::MessageNotModified)) => {
                        Ok(Some(message_id.clone()))
                    }
                    Err(e) => Err(e),
                }
            }
            Outgoing::AnswerCallback { callback_id, text } => {
                let mut req = self
                    .bot
                    .answer_callback_query(CallbackQueryId(callback_id.clone()));
                if let Some(t) = text {
                    req = req.text(cut(t, 200));
                }
                match req.await {
                    Ok(_) => Ok(None),
                    // A press older than Telegram's answer window cannot be answered; drop it.
                    Err(RequestError::Api(ApiError::Unknown(s)))
                        if s.contains("query is too old") =>
                    {
                        return Err(DeliveryError::Skipped(s));
                    }
                    Err(e) => Err(e),
                }
            }
        };
        sent.map(|message_id| Delivered { message_id })
            .map_err(|e| classify(&e))
    }
}

#[cfg(test)]
mod tests {
    use teloxide::types::Seconds;

    use super::*;

    fn unknown(s: &str) -> RequestError {
        RequestError::Api(ApiError::Unknown(s.into()))
    }

    #[test]
    fn bot_api_errors_are_classified_for_the_outbox() {
        let unreachable = |e: &RequestError| matches!(classify(e), DeliveryError::Unreachable(_));
        assert!(unreachable(&RequestError::Api(ApiError::BotBlocked)));
        assert!(unreachable(&RequestError::Api(ApiError::ChatNotFound)));
        // teloxide does not know these by name.
        assert!(unreachable(&unknown(
            "Forbidden: bot was kicked from the group chat"
        )));
        assert!(unreachable(&unknown(
            "Forbidden: bot can't initiate conversation with a user"
        )));
        assert!(unreachable(&unknown("Bad Request: chat not found")));
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(7))),
            DeliveryError::RetryAfter {
                seconds: 7,
                global: false
            }
        );
        assert_eq!(
            classify(&unknown("Too Many Requests: retry after 12")),
            DeliveryError::RetryAfter {
                seconds: 12,
                global: false
            }
        );
        assert!(matches!(
            classify(&unknown("Bad Gateway")),
            DeliveryError::Transient(_)
        ));
        for e in [
            "Gateway Timeout",
            "Service Unavailable",
            "Internal Server Error",
        ] {
            assert!(
                matches!(classify(&unknown(e)), DeliveryError::Transient(_)),
                "{e}"
            );
        }
        assert!(unreachable(&unknown("Bad Request: PEER_ID_INVALID")));
        assert!(matches!(
            classify(&unknown("Bad Request: message is too long")),
            DeliveryError::Rejected(_)
        ));
    }
}
