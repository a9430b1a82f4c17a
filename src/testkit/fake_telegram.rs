//! A fake Telegram Bot API server on a random loopback port.
//!
//! The bot under test talks to it exactly as to api.telegram.org (`POST /bot<TOKEN>/<Method>`,
//! JSON or multipart bodies) because `TELOXIDE_API_URL` points here. The fake:
//!
//! - answers getMe, getUpdates (long poll held at most [`FakeTelegram::MAX_POLL_HOLD`]),
//!   sendMessage, sendPhoto, sendDocument, editMessageText, answerCallbackQuery,
//!   setMyCommands, deleteWebhook, setWebhook, getChatMember (and `true` for any other
//!   method) with real Bot API shapes;
//! - records every call ([`Call`]): method, chat, text or caption, reply markup, upload name
//!   and size, the time it was received and what was answered;
//! - lets a test inject updates (`send_text`, `send_command`, `press_button`, `block`, ...),
//!   wait for calls ([`FakeTelegram::wait_for`]), fail a chat or a method with a real Bot API
//!   error ([`Failure`]), and optionally enforce Telegram's rate limits ([`TelegramLimits`]),
//!   answering `429 Too Many Requests: retry after N` as Telegram does.
//!
//! Errors are always 4xx JSON, never 5xx, unless a test asks for [`Failure::BadGateway`]
//! (teloxide sleeps 10 s before reading any 5xx answer).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

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

    fn private_chat(&self) -> Value {
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

fn is_message_method(method: &str) -> bool {
    matches!(
        method,
        "sendMessage" | "sendPhoto" | "sendDocument" | "editMessageText"
    )
}

fn is_send_method(method: &str) -> bool {
    method.starts_with("send") || method.starts_with("copy") || method.starts_with("forward")
}

/// A Bot API failure to answer instead of success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A Bot API error exactly as Telegram sends it.
    Api {
        /// HTTP status and `error_code` (400, 403, 429, ...).
        code: u16,
        /// Telegram's `description` (teloxide matches it exactly).
        description: String,
        /// `parameters.retry_after`.
        retry_after: Option<u32>,
        /// `parameters.migrate_to_chat_id`.
        migrate_to_chat_id: Option<i64>,
    },
    /// Headers are sent, then the connection is cut: the client sees a network error.
    DropConnection,
    /// `502` with a JSON body. teloxide waits 10 s before reading any 5xx answer: use sparingly.
    BadGateway,
}

impl Failure {
    fn api(code: u16, description: &str) -> Failure {
        Failure::Api {
            code,
            description: description.into(),
            retry_after: None,
            migrate_to_chat_id: None,
        }
    }

    /// 403 "Forbidden: bot was blocked by the user".
    pub fn blocked() -> Failure {
        Failure::api(403, "Forbidden: bot was blocked by the user")
    }

    /// 403 "Forbidden: user is deactivated".
    pub fn user_deactivated() -> Failure {
        Failure::api(403, "Forbidden: user is deactivated")
    }

    /// 403 "Forbidden: bot was kicked from the group chat".
    pub fn kicked_from_group() -> Failure {
        Failure::api(403, "Forbidden: bot was kicked from the group chat")
    }

    /// 400 "Bad Request: chat not found".
    pub fn chat_not_found() -> Failure {
        Failure::api(400, "Bad Request: chat not found")
    }

    /// 400 with any description.
    pub fn bad_request(description: &str) -> Failure {
        Failure::api(400, description)
    }

    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after`.
    pub fn retry_after(seconds: u32) -> Failure {
        Failure::Api {
            code: 429,
            description: format!("Too Many Requests: retry after {seconds}"),
            retry_after: Some(seconds),
            migrate_to_chat_id: None,
        }
    }

    /// 400 "Bad Request: group chat was upgraded to a supergroup chat" with
    /// `parameters.migrate_to_chat_id`.
    pub fn migrated(to: i64) -> Failure {
        Failure::Api {
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
            retry_after: None,
            migrate_to_chat_id: Some(to),
        }
    }
}

/// Telegram's broadcast limits, enforced when configured. Windows slide over the times
/// requests were received; only send*/copy*/forward* methods count. `None` = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelegramLimits {
    /// Messages per second over all chats (Telegram: about 30).
    pub global_per_sec: Option<u32>,
    /// Messages per second to one chat, private or group (Telegram: 1 "in a particular
    /// chat"; groups are held to it on top of `group_per_min`).
    pub private_per_sec: Option<u32>,
    /// Messages per minute to one group (negative chat id) (Telegram: 20).
    pub group_per_min: Option<u32>,
}

impl TelegramLimits {
    /// Telegram's documented limits: 30/s overall, 1/s per private chat, 20/min per group.
    pub fn telegram() -> TelegramLimits {
        TelegramLimits {
            global_per_sec: Some(30),
            private_per_sec: Some(1),
            group_per_min: Some(20),
        }
    }
}

/// Counts over the record, for assertions and benchmarks.
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

/// How long after a button press Telegram accepts its answer.
pub const CALLBACK_ANSWER_DEADLINE: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Windows {
    global: VecDeque<Instant>,
    /// Every chat's sends in the last second.
    chats: HashMap<i64, VecDeque<Instant>>,
    /// Every group's sends in the last minute.
    groups: HashMap<i64, VecDeque<Instant>>,
}

struct Inner {
    calls: Vec<Call>,
    updates: Vec<(i64, Value)>,
    next_update_id: i64,
    next_message_id: i64,
    next_callback_id: u64,
    chat_failures: HashMap<i64, (Failure, Option<u32>)>,
    method_failures: HashMap<String, (Failure, Option<u32>)>,
    member_status: HashMap<(i64, i64), String>,
    default_member_status: String,
    limits: Option<TelegramLimits>,
    windows: Windows,
    /// File ids this bot may send on: those of pictures users sent it and of its own uploads.
    known_files: std::collections::HashSet<String>,
    /// When each callback query was made (button presses), to refuse late answers.
    callbacks: HashMap<String, Instant>,
    /// The longest a getUpdates call is held, whatever timeout the client asks.
    max_hold: Duration,
}

struct Shared {
    token: String,
    username: String,
    bot_id: i64,
    inner: Mutex<Inner>,
    updates_ready: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the real failure.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Bot API server. Stops when dropped.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(1_600_000_000)
}

impl FakeTelegram {
    /// The token the fake accepts.
    pub const TOKEN: &'static str = "123456:TEST-TOKEN";
    /// The bot's username (getMe).
    pub const USERNAME: &'static str = "BluezoneTestBot";
    /// The bot's user id.
    pub const BOT_ID: i64 = 123_456;
    /// The longest a getUpdates call is held by default, whatever timeout the client asks
    /// (tests stay fast); [`FakeTelegram::hold_polls_fully`] holds for the whole timeout.
    pub const MAX_POLL_HOLD: Duration = Duration::from_secs(1);

    /// Starts a fake with no rate limits.
    pub async fn start() -> std::io::Result<FakeTelegram> {
        FakeTelegram::start_with(None).await
    }

    /// Starts a fake enforcing `limits` when given.
    pub async fn start_with(limits: Option<TelegramLimits>) -> std::io::Result<FakeTelegram> {
        FakeTelegram::start_as(FakeTelegram::USERNAME, limits).await
    }

    /// Starts a fake whose bot is called `username` (getMe), enforcing `limits` when given.
    pub async fn start_as(
        username: &str,
        limits: Option<TelegramLimits>,
    ) -> std::io::Result<FakeTelegram> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            token: FakeTelegram::TOKEN.into(),
            username: username.into(),
            bot_id: FakeTelegram::BOT_ID,
            inner: Mutex::new(Inner {
                calls: Vec::new(),
                updates: Vec::new(),
                next_update_id: 1,
                next_message_id: 1,
                next_callback_id: 1,
                chat_failures: HashMap::new(),
                method_failures: HashMap::new(),
                member_status: HashMap::new(),
                default_member_status: "administrator".into(),
                limits,
                windows: Windows::default(),
                known_files: Default::default(),
                callbacks: HashMap::new(),
                max_hold: FakeTelegram::MAX_POLL_HOLD,
            }),
            updates_ready: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(FakeTelegram { addr, shared, stop })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Holds an idle getUpdates for the whole `timeout` the client asks, as Telegram does.
    pub fn hold_polls_fully(&self) {
        self.shared.lock().max_hold = Duration::MAX;
    }

    /// The value for `TELOXIDE_API_URL` (no trailing slash).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server (also done on drop).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    // ---- updates ----------------------------------------------------------------------

    /// Queues an update for getUpdates. The `update_id` is assigned when missing; returns it.
    pub fn inject(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => {
                    inner.next_update_id = inner.next_update_id.max(id + 1);
                    id
                }
                None => {
                    let id = inner.next_update_id;
                    inner.next_update_id += 1;
                    update["update_id"] = json!(id);
                    id
                }
            };
            inner.updates.push((id, update));
            id
        };
        self.shared.updates_ready.notify_waiters();
        id
    }

    fn next_message_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        let id = inner.next_message_id;
        inner.next_message_id += 1;
        id
    }

    fn next_update_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        let id = inner.next_update_id;
        inner.next_update_id += 1;
        id
    }

    fn text_message(&self, from: &TgUser, chat: Value, text: &str) -> Value {
        let mut m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": chat,
            "from": from.json(),
            "text": text,
        });
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .map(|c| c.encode_utf16().count())
                .unwrap_or(1);
            m["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        m
    }

    /// An update (with a fresh update_id) for a private text message; not queued. Use it for
    /// webhook posts, or pass it to [`FakeTelegram::inject`].
    pub fn text_update(&self, from: &TgUser, text: &str) -> Value {
        let message = self.text_message(from, from.private_chat(), text);
        json!({"update_id": self.next_update_id(), "message": message})
    }

    /// Queues a private text message from `from`; returns the update id.
    pub fn send_text(&self, from: &TgUser, text: &str) -> i64 {
        let u = self.text_update(from, text);
        self.inject(u)
    }

    /// Queues a command (`/start u_80`); same as [`FakeTelegram::send_text`] with a
    /// `bot_command` entity.
    pub fn send_command(&self, from: &TgUser, command: &str) -> i64 {
        self.send_text(from, command)
    }

    /// Queues a photo with a caption in `from`'s private chat; the bot may then send it on by
    /// the returned file id. Returns `(update id, file id)`.
    pub fn send_photo(&self, from: &TgUser, caption: &str) -> (i64, String) {
        let file_id = format!("user-photo-{}-{}", from.id, self.next_message_id());
        self.shared.lock().known_files.insert(file_id.clone());
        let m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": from.private_chat(),
            "from": from.json(),
            "photo": [
                {"file_id": format!("{file_id}-thumb"), "file_unique_id": "t",
                 "width": 90, "height": 90},
                {"file_id": file_id, "file_unique_id": "o", "width": 1280, "height": 960}
            ],
            "caption": caption
        });
        (self.inject(json!({"message": m})), file_id)
    }

    /// Queues a sticker in the private chat.
    pub fn send_sticker(&self, from: &TgUser) -> i64 {
        let m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": from.private_chat(),
            "from": from.json(),
            "sticker": {
                "file_id": "sticker-file", "file_unique_id": "sticker-u",
                "type": "regular", "width": 512, "height": 512,
                "is_animated": false, "is_video": false
            }
        });
        self.inject(json!({"message": m}))
    }

    /// An update for a button press on the bot's message `message_id` in `from`'s private
    /// chat; returns `(update, callback_query_id)`. Not queued.
    pub fn button_update(&self, from: &TgUser, message_id: i64, data: &str) -> (Value, String) {
        let cb = {
            let mut inner = self.shared.lock();
            let id = inner.next_callback_id;
            inner.next_callback_id += 1;
            let cb = format!("cq{id}");
            inner.callbacks.insert(cb.clone(), Instant::now());
            cb
        };
        let u = json!({
            "update_id": self.next_update_id(),
            "callback_query": {
                "id": cb,
                "from": from.json(),
                "chat_instance": format!("ci{}", from.id),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": now_unix(),
                    "chat": from.private_chat(),
                    "from": self.bot_user(),
                    "text": "…"
                }
            }
        });
        (u, cb)
    }

    /// Makes a callback query look `age` old (its answer is refused after 15 s).
    pub fn age_callback(&self, callback_id: &str, age: Duration) {
        let mut inner = self.shared.lock();
        if let Some(at) = Instant::now().checked_sub(age) {
            inner.callbacks.insert(callback_id.to_string(), at);
        }
    }

    /// Queues a button press; returns the callback query id (to match answerCallbackQuery).
    pub fn press_button(&self, from: &TgUser, message_id: i64, data: &str) -> String {
        let (u, cb) = self.button_update(from, message_id, data);
        self.inject(u);
        cb
    }

    fn member_update(&self, from: &TgUser, chat: Value, old: &str, new: &str) -> Value {
        let member = |status: &str| {
            let mut m = json!({"user": self.bot_user(), "status": status});
            if status == "kicked" {
                m["until_date"] = json!(0);
            }
            if status == "restricted" {
                m["until_date"] = json!(0);
            }
            m
        };
        json!({"my_chat_member": {
            "chat": chat,
            "from": from.json(),
            "date": now_unix(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }})
    }

    /// Queues `my_chat_member`: `from` blocked the bot (status kicked).
    pub fn block(&self, from: &TgUser) -> i64 {
        let u = self.member_update(from, from.private_chat(), "member", "kicked");
        self.inject(u)
    }

    /// Queues `my_chat_member`: `from` unblocked the bot (status member).
    pub fn unblock(&self, from: &TgUser) -> i64 {
        let u = self.member_update(from, from.private_chat(), "kicked", "member");
        self.inject(u)
    }

    fn group_chat(group_id: i64, title: &str) -> Value {
        json!({"id": group_id, "type": "group", "title": title})
    }

    /// Queues a text message from `from` in a group (use a negative `group_id`).
    pub fn group_text(&self, from: &TgUser, group_id: i64, title: &str, text: &str) -> i64 {
        let m = self.text_message(from, FakeTelegram::group_chat(group_id, title), text);
        self.inject(json!({"message": m}))
    }

    /// Queues `my_chat_member`: `from` added the bot to a group.
    pub fn add_to_group(&self, from: &TgUser, group_id: i64, title: &str) -> i64 {
        let u = self.member_update(
            from,
            FakeTelegram::group_chat(group_id, title),
            "left",
            "member",
        );
        self.inject(u)
    }

    /// Queues `my_chat_member`: `from` removed the bot from a group.
    pub fn remove_from_group(&self, from: &TgUser, group_id: i64, title: &str) -> i64 {
        let u = self.member_update(
            from,
            FakeTelegram::group_chat(group_id, title),
            "member",
            "left",
        );
        self.inject(u)
    }

    /// Updates still waiting with an id at or above the last offset the bot confirmed.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    fn bot_user(&self) -> Value {
        bot_user(&self.shared)
    }

    // ---- failures and settings ---------------------------------------------------------

    /// Every call naming `chat` fails with `failure` until [`FakeTelegram::heal_chat`].
    pub fn fail_chat(&self, chat: i64, failure: Failure) {
        self.shared
            .lock()
            .chat_failures
            .insert(chat, (failure, None));
    }

    /// The next `times` calls naming `chat` fail with `failure`, then it works again.
    pub fn fail_chat_times(&self, chat: i64, failure: Failure, times: u32) {
        self.shared
            .lock()
            .chat_failures
            .insert(chat, (failure, Some(times)));
    }

    /// Stops failing `chat`.
    pub fn heal_chat(&self, chat: i64) {
        self.shared.lock().chat_failures.remove(&chat);
    }

    /// Every call of `method` (Telegram's spelling, e.g. `sendMessage`) fails with `failure`,
    /// `times` times (or until [`FakeTelegram::heal_method`] when `None`).
    pub fn fail_method(&self, method: &str, failure: Failure, times: Option<u32>) {
        self.shared
            .lock()
            .method_failures
            .insert(canonical(method), (failure, times));
    }

    /// Stops failing `method`.
    pub fn heal_method(&self, method: &str) {
        self.shared
            .lock()
            .method_failures
            .remove(&canonical(method));
    }

    /// The status getChatMember answers for `user` in `chat` (default `administrator`).
    pub fn set_member_status(&self, chat: i64, user: i64, status: &str) {
        self.shared
            .lock()
            .member_status
            .insert((chat, user), status.into());
    }

    /// The status getChatMember answers when none was set for the pair.
    pub fn set_default_member_status(&self, status: &str) {
        self.shared.lock().default_member_status = status.into();
    }

    /// Turns rate-limit enforcement on (or off with `None`); windows restart.
    pub fn set_limits(&self, limits: Option<TelegramLimits>) {
        let mut inner = self.shared.lock();
        inner.limits = limits;
        inner.windows = Windows::default();
    }

    // ---- the record --------------------------------------------------------------------

    /// A copy of every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// How many calls were recorded; pass it to [`FakeTelegram::calls_since`] to look only
    /// at what comes next.
    pub fn mark(&self) -> usize {
        self.shared.lock().calls.len()
    }

    /// Calls recorded at or after position `mark`.
    pub fn calls_since(&self, mark: usize) -> Vec<Call> {
        let inner = self.shared.lock();
        inner
            .calls
            .get(mark..)
            .map(<[Call]>::to_vec)
            .unwrap_or_default()
    }

    /// Calls matching `pred`.
    pub fn calls_matching(&self, pred: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| pred(c))
            .cloned()
            .collect()
    }

    /// Successful messages (sends and edits) to `chat`, in order.
    pub fn messages_to(&self, chat: i64) -> Vec<Call> {
        self.calls_matching(|c| c.is_message_to(chat))
    }

    /// Forgets the record (not the updates, failures or limits).
    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// Waits until at least `n` recorded calls at or after `since` match `pred`, and returns
    /// them; an error naming what was seen when `timeout` passes first.
    pub async fn wait_for_since(
        &self,
        since: usize,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Result<Vec<Call>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<Call> = {
                let inner = self.shared.lock();
                inner
                    .calls
                    .get(since..)
                    .unwrap_or_default()
                    .iter()
                    .filter(|c| pred(c))
                    .cloned()
                    .collect()
            };
            if found.len() >= n {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .calls_since(since)
                    .iter()
                    .filter(|c| c.method != "getUpdates")
                    .map(|c| format!("{} chat={:?} {:?}", c.method, c.chat_id, c.text()))
                    .collect();
                return Err(format!(
                    "waited {timeout:?} for {n} matching calls, found {}; calls seen: {seen:#?}",
                    found.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until at least `n` recorded calls match `pred`, without copying them (for big
    /// runs); the count reached, or an error when `timeout` passes first.
    pub async fn wait_count(
        &self,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.shared.lock().calls.iter().filter(|c| pred(c)).count();
            if count >= n {
                return Ok(count);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "waited {timeout:?} for {n} matching calls, found {count}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`FakeTelegram::wait_for_since`] over the whole record.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Result<Vec<Call>, String> {
        self.wait_for_since(0, n, timeout, pred).await
    }

    /// Waits for the next successful message to `chat` recorded at or after `since`.
    pub async fn next_message_to(
        &self,
        chat: i64,
        since: usize,
        timeout: Duration,
    ) -> Result<Call, String> {
        let mut found = self
            .wait_for_since(since, 1, timeout, |c| c.is_message_to(chat))
            .await?;
        Ok(found.remove(0))
    }

    /// Counts over the record.
    pub fn counters(&self) -> Counters {
        let inner = self.shared.lock();
        let mut c = Counters::default();
        let mut seen: HashSet<(i64, &str)> = HashSet::new();
        let mut last_seq: HashMap<i64, i64> = HashMap::new();
        for call in &inner.calls {
            *c.by_method.entry(call.method.clone()).or_default() += 1;
            match &call.outcome {
                Outcome::Error { code: 429, .. } => {
                    c.too_many_requests += 1;
                    if let Some(chat) = call.chat_id {
                        *c.too_many_by_chat.entry(chat).or_default() += 1;
                    }
                }
                Outcome::Ok { .. } if is_send_method(&call.method) => {
                    if let Some(chat) = call.chat_id {
                        *c.messages_by_chat.entry(chat).or_default() += 1;
                        let text = call.text.as_deref().unwrap_or_default();
                        if !seen.insert((chat, text)) {
                            c.duplicates += 1;
                        }
                        if let Some(n) = sequence_of(text) {
                            let last = last_seq.entry(chat).or_insert(i64::MIN);
                            if n < *last {
                                c.out_of_order += 1;
                                *c.out_of_order_by_chat.entry(chat).or_default() += 1;
                            } else {
                                *last = n;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }
}

impl Call {
    fn bare(method: String, params: Value, at: Instant, outcome: Outcome) -> Call {
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

fn record(shared: &Shared, mut call: Call) {
    let mut inner = shared.lock();
    call.seq = inner.calls.len();
    inner.calls.push(call);
}

fn bot_user(shared: &Shared) -> Value {
    json!({
        "id": shared.bot_id,
        "is_bot": true,
        "first_name": "Bluezone Test",
        "username": shared.username,
    })
}

/// `SendMessage` and `sendmessage` both become `sendMessage`.
fn canonical(method: &str) -> String {
    const KNOWN: &[&str] = &[
        "getMe",
        "getUpdates",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "answerCallbackQuery",
        "setMyCommands",
        "deleteWebhook",
        "setWebhook",
        "getChatMember",
        "getChat",
        "getWebhookInfo",
        "deleteMyCommands",
        "getMyCommands",
        "sendChatAction",
        "deleteMessage",
        "editMessageReplyMarkup",
        "leaveChat",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .map(|k| k.to_string())
        .unwrap_or_else(|| {
            let mut chars = method.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        })
}

fn api_error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the fake"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::OK.into_response())
}

fn failure_response(f: &Failure) -> (Response, Outcome) {
    match f {
        Failure::Api {
            code,
            description,
            retry_after,
            migrate_to_chat_id,
        } => {
            let mut params = serde_json::Map::new();
            if let Some(s) = retry_after {
                params.insert("retry_after".into(), json!(s));
            }
            if let Some(to) = migrate_to_chat_id {
                params.insert("migrate_to_chat_id".into(), json!(to));
            }
            let params = (!params.is_empty()).then_some(Value::Object(params));
            (
                api_error(*code, description, params),
                Outcome::Error {
                    code: *code,
                    description: description.clone(),
                },
            )
        }
        Failure::DropConnection => (dropped(), Outcome::Dropped),
        Failure::BadGateway => (
            api_error(502, "Bad Gateway", None),
            Outcome::Error {
                code: 502,
                description: "Bad Gateway".into(),
            },
        ),
    }
}

/// Reads a JSON, urlencoded or multipart body into parameters plus the uploaded file.
async fn read_params(req: Request) -> Result<(Value, Option<Upload>), String> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| e.to_string())?;
        let mut params = serde_json::Map::new();
        let mut upload = None;
        while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            if file_name.is_some() {
                params.insert(name.clone(), json!(format!("attach://{name}")));
                upload = Some(Upload {
                    field: name,
                    file_name,
                    size: bytes.len(),
                });
            } else {
                let text = String::from_utf8_lossy(&bytes).to_string();
                let value = if text.starts_with('{') || text.starts_with('[') {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else if name == "chat_id" || name == "message_id" {
                    text.parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text))
                } else {
                    Value::String(text)
                };
                params.insert(name, value);
            }
        }
        return Ok((Value::Object(params), upload));
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((json!({}), None));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        return Ok((Value::Object(pairs), None));
    }
    serde_json::from_slice(&bytes)
        .map(|v| (v, None))
        .map_err(|e| e.to_string())
}

fn chat_of(params: &Value) -> Option<i64> {
    match params.get("chat_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn chat_json(chat: i64) -> Value {
    if chat < 0 {
        json!({"id": chat, "type": "group", "title": format!("Group {chat}")})
    } else {
        json!({"id": chat, "type": "private", "first_name": format!("User {chat}")})
    }
}

/// Takes one use of a failure; `true` when it applies to this call.
fn take_failure(slot: &mut Option<&mut (Failure, Option<u32>)>) -> Option<Failure> {
    let (failure, times) = slot.as_mut()?;
    match times {
        None => Some(failure.clone()),
        Some(0) => None,
        Some(n) => {
            *n -= 1;
            Some(failure.clone())
        }
    }
}

/// Checks the limits at `now`; the seconds to wait when exceeded; records the send otherwise.
fn rate_check(inner: &mut Inner, chat: i64, now: Instant) -> Option<u32> {
    let limits = inner.limits?;
    let second = Duration::from_secs(1);
    let minute = Duration::from_secs(60);
    let wait = |q: &mut VecDeque<Instant>, window: Duration, max: u32| -> Option<u32> {
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() as u64 >= u64::from(max) {
            let oldest = q.front().copied().unwrap_or(now);
            let left = window.saturating_sub(now.duration_since(oldest));
            Some((left.as_secs_f64().ceil() as u32).max(1))
        } else {
            None
        }
    };
    if let Some(max) = limits.global_per_sec
        && let Some(s) = wait(&mut inner.windows.global, second, max)
    {
        return Some(s);
    }
    // One message per second in any chat, groups included.
    let q = inner.windows.chats.entry(chat).or_default();
    if let Some(max) = limits.private_per_sec
        && let Some(s) = wait(q, second, max)
    {
        return Some(s);
    }
    // And 20 per minute in a group.
    if chat < 0 {
        let g = inner.windows.groups.entry(chat).or_default();
        if let Some(max) = limits.group_per_min
            && let Some(s) = wait(g, minute, max)
        {
            return Some(s);
        }
        g.push_back(now);
    }
    inner.windows.chats.entry(chat).or_default().push_back(now);
    if limits.global_per_sec.is_some() {
        inner.windows.global.push_back(now);
    }
    None
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    let at = Instant::now();
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return api_error(401, "Unauthorized", None);
    }
    let method = canonical(&method);
    let (params, upload) = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return api_error(400, &format!("Bad Request: {e}"), None),
    };
    if method == "getUpdates" {
        let failure = {
            let mut inner = shared.lock();
            let mut slot = inner.method_failures.get_mut(&method);
            take_failure(&mut slot)
        };
        if let Some(f) = failure {
            let (response, outcome) = failure_response(&f);
            record(&shared, Call::bare(method, params, at, outcome));
            return response;
        }
        return get_updates(&shared, params, at).await;
    }
    let chat_id = chat_of(&params);
    let text = params
        .get("text")
        .or_else(|| params.get("caption"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let reply_markup = params.get("reply_markup").cloned().map(|m| match m {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    });
    let mut inner = shared.lock();
    let failure = {
        let by_chat = chat_id.and_then(|c| inner.chat_failures.get_mut(&c));
        let mut slot = by_chat;
        match take_failure(&mut slot) {
            Some(f) => Some(f),
            None => {
                let mut slot = inner.method_failures.get_mut(&method);
                take_failure(&mut slot)
            }
        }
    };
    let (response, outcome) = if let Some(f) = failure {
        failure_response(&f)
    } else if let Some(retry) = chat_id
        .filter(|_| is_send_method(&method))
        .and_then(|c| rate_check(&mut inner, c, at))
    {
        failure_response(&Failure::retry_after(retry))
    } else {
        answer(&shared, &mut inner, &method, &params, chat_id, &upload)
    };
    let seq = inner.calls.len();
    inner.calls.push(Call {
        seq,
        method,
        chat_id,
        text,
        reply_markup,
        upload,
        params,
        at,
        outcome,
    });
    response
}

fn answer(
    shared: &Shared,
    inner: &mut Inner,
    method: &str,
    params: &Value,
    chat_id: Option<i64>,
    upload: &Option<Upload>,
) -> (Response, Outcome) {
    let done = |v: Value| (ok(v), Outcome::Ok { message_id: None });
    let need_chat = || api_error(400, "Bad Request: chat_id is empty", None);
    let s = |k: &str| params.get(k).and_then(Value::as_str).unwrap_or_default();
    // Telegram refuses to answer a button press after about 15 s.
    if method == "answerCallbackQuery"
        && inner
            .callbacks
            .get(s("callback_query_id"))
            .is_some_and(|at| at.elapsed() > CALLBACK_ANSWER_DEADLINE)
    {
        let description =
            "Bad Request: query is too old and response timeout expired or query ID is invalid";
        return (
            api_error(400, description, None),
            Outcome::Error {
                code: 400,
                description: description.into(),
            },
        );
    }
    // A file sent by id must be one this bot has seen.
    let file = match method {
        "sendPhoto" if upload.is_none() => Some(s("photo")),
        "sendDocument" if upload.is_none() => Some(s("document")),
        _ => None,
    };
    if file.is_some_and(|f| !inner.known_files.contains(f) && !f.starts_with("https://")) {
        let description = "Bad Request: wrong file identifier/HTTP URL specified";
        return (
            api_error(400, description, None),
            Outcome::Error {
                code: 400,
                description: description.into(),
            },
        );
    }
    match method {
        "getMe" => {
            let mut me = bot_user(shared);
            me["can_join_groups"] = json!(true);
            me["can_read_all_group_messages"] = json!(false);
            me["supports_inline_queries"] = json!(false);
            me["can_connect_to_business"] = json!(false);
            me["has_main_web_app"] = json!(false);
            done(me)
        }
        "sendMessage" | "sendPhoto" | "sendDocument" => {
            let Some(chat) = chat_id else {
                return (
                    need_chat(),
                    Outcome::Error {
                        code: 400,
                        description: "Bad Request: chat_id is empty".into(),
                    },
                );
            };
            let id = inner.next_message_id;
            inner.next_message_id += 1;
            let mut m = json!({
                "message_id": id,
                "date": now_unix(),
                "chat": chat_json(chat),
                "from": bot_user(shared),
            });
            let size = upload.as_ref().map(|u| u.size).unwrap_or(0);
            match method {
                "sendMessage" => m["text"] = json!(s("text")),
                "sendPhoto" => {
                    let file_id = match upload {
                        Some(_) => format!("photo{id}"),
                        None => s("photo").to_string(),
                    };
                    inner.known_files.insert(file_id.clone());
                    m["photo"] = json!([{
                        "file_id": file_id, "file_unique_id": format!("p{id}"),
                        "width": 800, "height": 600, "file_size": size
                    }]);
                    m["caption"] = json!(s("caption"));
                }
                _ => {
                    let name = upload
                        .as_ref()
                        .and_then(|u| u.file_name.clone())
                        .unwrap_or_else(|| "file".into());
                    m["document"] = json!({
                        "file_id": format!("doc{id}"), "file_unique_id": format!("d{id}"),
                        "file_name": name, "file_size": size
                    });
                    m["caption"] = json!(s("caption"));
                }
            }
            if let Some(markup) = params.get("reply_markup") {
                let markup = match markup {
                    Value::String(t) => serde_json::from_str(t).unwrap_or(Value::Null),
                    v => v.clone(),
                };
                if markup.get("inline_keyboard").is_some() {
                    m["reply_markup"] = markup;
                }
            }
            (
                ok(m),
                Outcome::Ok {
                    message_id: Some(id),
                },
            )
        }
        "editMessageText" => {
            let Some(chat) = chat_id else {
                // Inline messages: Telegram answers `true`.
                return done(json!(true));
            };
            let id = params
                .get("message_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let m = json!({
                "message_id": id,
                "date": now_unix(),
                "edit_date": now_unix(),
                "chat": chat_json(chat),
                "from": bot_user(shared),
                "text": s("text"),
            });
            (
                ok(m),
                Outcome::Ok {
                    message_id: Some(id),
                },
            )
        }
        "getChatMember" => {
            let user = params
                .get("user_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let status = inner
                .member_status
                .get(&(chat_id.unwrap_or_default(), user))
                .cloned()
                .unwrap_or_else(|| inner.default_member_status.clone());
            done(member_json(user, &status))
        }
        "getChat" => done(chat_json(chat_id.unwrap_or_default())),
        "getWebhookInfo" => done(json!({"url": "", "has_custom_certificate": false,
            "pending_update_count": 0})),
        "getMyCommands" => done(json!([])),
        // answerCallbackQuery, setMyCommands, deleteWebhook, setWebhook, deleteMessage, ...
        _ => done(json!(true)),
    }
}

fn member_json(user: i64, status: &str) -> Value {
    let u = json!({"id": user, "is_bot": false, "first_name": format!("User {user}")});
    match status {
        "administrator" => json!({
            "user": u, "status": "administrator",
            "can_be_edited": false, "is_anonymous": false, "can_manage_chat": true,
            "can_delete_messages": true, "can_manage_video_chats": true,
            "can_restrict_members": true, "can_promote_members": false,
            "can_change_info": true, "can_invite_users": true, "can_pin_messages": true,
            "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false,
            "can_manage_topics": false
        }),
        "creator" => json!({"user": u, "status": "creator", "is_anonymous": false}),
        "kicked" => json!({"user": u, "status": "kicked", "until_date": 0}),
        "restricted" => json!({
            "user": u, "status": "restricted", "until_date": 0, "is_member": true,
            "can_send_messages": false, "can_send_audios": false, "can_send_documents": false,
            "can_send_photos": false, "can_send_videos": false, "can_send_video_notes": false,
            "can_send_voice_notes": false, "can_send_polls": false,
            "can_send_other_messages": false, "can_add_web_page_previews": false,
            "can_change_info": false, "can_invite_users": false, "can_pin_messages": false,
            "can_manage_topics": false
        }),
        other => json!({"user": u, "status": other}),
    }
}

async fn get_updates(shared: &Arc<Shared>, params: Value, at: Instant) -> Response {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = params.get("timeout").and_then(Value::as_u64).unwrap_or(0);
    let max_hold = shared.lock().max_hold;
    let hold = Duration::from_secs(timeout).min(max_hold);
    let deadline = tokio::time::Instant::now() + hold;
    let found = loop {
        let notified = shared.updates_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let found: Vec<Value> = {
            let mut inner = shared.lock();
            if offset > 0 {
                // Like Telegram: an offset confirms every earlier update.
                inner.updates.retain(|(id, _)| *id >= offset);
            }
            inner
                .updates
                .iter()
                .filter(|(id, _)| *id >= offset)
                .take(limit)
                .map(|(_, u)| u.clone())
                .collect()
        };
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            break found;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            continue;
        }
    };
    record(
        shared,
        Call::bare(
            "getUpdates".into(),
            params,
            at,
            Outcome::Ok { message_id: None },
        ),
    );
    ok(Value::Array(found))
}

#[cfg(test)]
mod tests {
    use teloxide::prelude::*;
    use teloxide::types::{ChatMemberKind, InputFile, Me, Update};

    use super::*;
    use crate::platform::DeliveryError;
    use crate::platform::telegram::classify;

    fn bot(fake: &FakeTelegram) -> Bot {
        Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&fake.api_url()).expect("url"))
    }

    #[tokio::test]
    async fn teloxide_understands_every_answer() {
        let fake = FakeTelegram::start().await.expect("start");
        let bot = bot(&fake);
        let me: Me = bot.get_me().await.expect("getMe");
        assert_eq!(me.username(), FakeTelegram::USERNAME);
        let m = bot
            .send_message(ChatId(42), "xin chào")
            .reply_markup(teloxide::types::InlineKeyboardMarkup::new(vec![vec![
                teloxide::types::InlineKeyboardButton::callback("Có", "yes"),
            ]]))
            .await
            .expect("sendMessage");
        assert_eq!(m.text(), Some("xin chào"));
        let e = bot
            .edit_message_text(ChatId(42), m.id, "sửa")
            .await
            .expect("edit");
        assert_eq!(e.id, m.id);
        let p = bot
            .send_photo(
                ChatId(-5),
                InputFile::memory(vec![1u8; 300]).file_name("chart.png"),
            )
            .caption("biểu đồ")
            .await
            .expect("photo");
        assert!(p.photo().is_some());
        let d = bot
            .send_document(
                ChatId(42),
                InputFile::memory(vec![2u8; 10]).file_name("r.xlsx"),
            )
            .await
            .expect("document");
        assert!(d.document().is_some());
        bot.answer_callback_query(teloxide::types::CallbackQueryId("cq1".into()))
            .await
            .expect("answer");
        bot.set_my_commands(vec![teloxide::types::BotCommand::new("start", "Bắt đầu")])
            .await
            .expect("commands");
        bot.delete_webhook().await.expect("deleteWebhook");
        let admin = bot
            .get_chat_member(ChatId(-5), UserId(9))
            .await
            .expect("member");
        assert!(matches!(admin.kind, ChatMemberKind::Administrator(_)));
        fake.set_member_status(-5, 9, "member");
        let member = bot
            .get_chat_member(ChatId(-5), UserId(9))
            .await
            .expect("member");
        assert!(matches!(member.kind, ChatMemberKind::Member(_)));

        let calls = fake.calls();
        let photo = calls
            .iter()
            .find(|c| c.method == "sendPhoto")
            .expect("photo");
        assert_eq!(photo.chat_id, Some(-5));
        assert_eq!(photo.text(), "biểu đồ");
        assert_eq!(
            photo.upload.as_ref().map(|u| (u.file_name.clone(), u.size)),
            Some((Some("chart.png".into()), 300))
        );
        let first = calls
            .iter()
            .find(|c| c.method == "sendMessage")
            .expect("msg");
        assert_eq!(first.button_data("có"), Some("yes".into()));
        let c = fake.counters();
        assert_eq!(c.by_method.get("sendMessage"), Some(&1));
        assert_eq!(c.messages_by_chat.get(&42), Some(&2));
        assert_eq!(fake.messages_to(42).len(), 3);
    }

    #[tokio::test]
    async fn injected_updates_parse_and_long_poll_returns_early() {
        let fake = FakeTelegram::start().await.expect("start");
        let bot = bot(&fake);
        let user = TgUser::en(7);
        fake.send_command(&user, "/start u_80");
        fake.send_text(&user, "Tân An");
        fake.send_sticker(&user);
        fake.press_button(&user, 3, "data");
        fake.block(&user);
        fake.unblock(&user);
        fake.group_text(&user, -100, "Tổ 1", "hello");
        fake.add_to_group(&user, -100, "Tổ 1");
        fake.remove_from_group(&user, -100, "Tổ 1");
        let updates: Vec<Update> = bot.get_updates().await.expect("updates");
        assert_eq!(updates.len(), 9);
        for u in &updates {
            assert!(
                !matches!(u.kind, teloxide::types::UpdateKind::Error(_)),
                "{u:?}"
            );
        }
        let last = updates.last().map(|u| u.id.0).unwrap_or_default();
        // Confirmed updates are gone; an empty poll is held no longer than a second.
        let started = Instant::now();
        let none = bot
            .get_updates()
            .offset(last as i32 + 1)
            .timeout(25)
            .await
            .expect("poll");
        assert!(none.is_empty());
        assert!(started.elapsed() < Duration::from_millis(1500));
        // An update injected during a poll ends it at once.
        let fake = Arc::new(fake);
        let f = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            f.send_text(&TgUser::vi(8), "x");
        });
        let started = Instant::now();
        let got = bot
            .get_updates()
            .offset(last as i32 + 1)
            .timeout(25)
            .await
            .expect("poll");
        assert_eq!(got.len(), 1);
        assert!(started.elapsed() < Duration::from_millis(900));
    }

    #[tokio::test]
    async fn failures_look_like_telegram() {
        let fake = FakeTelegram::start().await.expect("start");
        let bot = bot(&fake);
        fake.fail_chat(1, Failure::blocked());
        fake.fail_chat(2, Failure::chat_not_found());
        fake.fail_chat_times(3, Failure::retry_after(7), 1);
        fake.fail_chat_times(4, Failure::DropConnection, 1);
        let err = |chat: i64| {
            let bot = bot.clone();
            async move {
                bot.send_message(ChatId(chat), "x")
                    .await
                    .err()
                    .map(|e| classify(&e))
            }
        };
        assert!(matches!(err(1).await, Some(DeliveryError::Unreachable(_))));
        assert!(matches!(err(2).await, Some(DeliveryError::Unreachable(_))));
        assert!(matches!(
            err(3).await,
            Some(DeliveryError::RetryAfter { seconds: 7, .. })
        ));
        assert!(err(3).await.is_none(), "one failure only");
        assert!(matches!(err(4).await, Some(DeliveryError::Transient(_))));
        assert!(err(4).await.is_none());
        fake.heal_chat(1);
        assert!(err(1).await.is_none());
        fake.fail_method("sendMessage", Failure::migrated(-1001), Some(1));
        assert!(matches!(err(5).await, Some(DeliveryError::Migrated(_))));
        let c = fake.counters();
        assert_eq!(c.too_many_requests, 1);
        assert_eq!(c.too_many_by_chat.get(&3), Some(&1));
    }

    #[tokio::test]
    async fn limits_answer_429_with_retry_after() {
        let fake = FakeTelegram::start_with(Some(TelegramLimits {
            global_per_sec: Some(3),
            private_per_sec: Some(1),
            group_per_min: Some(2),
        }))
        .await
        .expect("start");
        let bot = bot(&fake);
        let send = |chat: i64| {
            let bot = bot.clone();
            async move { bot.send_message(ChatId(chat), "x").await.err() }
        };
        assert!(send(1).await.is_none());
        assert!(matches!(
            send(1).await,
            Some(teloxide::RequestError::RetryAfter(_))
        ));
        assert!(send(-9).await.is_none());
        // One message per second in a group too.
        match send(-9).await {
            Some(teloxide::RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
            other => panic!("expected the group's per-second 429, got {other:?}"),
        }
        assert!(send(2).await.is_none());
        // The global limit (3/s) is reached.
        match send(3).await {
            Some(teloxide::RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
            other => panic!("expected 429, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(1050)).await;
        assert!(send(-9).await.is_none());
        tokio::time::sleep(Duration::from_millis(1050)).await;
        // Two in a minute is this group's limit.
        match send(-9).await {
            Some(teloxide::RequestError::RetryAfter(s)) => assert!(s.seconds() >= 57),
            other => panic!("expected the group's per-minute 429, got {other:?}"),
        }
        let c = fake.counters();
        assert_eq!(c.too_many_requests, 4);
        assert_eq!(c.too_many_by_chat.get(&-9), Some(&2));
        assert_eq!(c.messages_by_chat.get(&-9), Some(&2));
        assert_eq!(c.duplicates, 1);
    }

    #[test]
    fn sequences_are_read_from_the_end_of_texts() {
        assert_eq!(sequence_of("group post 7"), Some(7));
        assert_eq!(sequence_of("part 12"), Some(12));
        assert_eq!(sequence_of("hello"), None);
        assert_eq!(sequence_of(""), None);
    }

    #[tokio::test]
    async fn out_of_order_arrivals_are_counted_per_chat() {
        let fake = FakeTelegram::start().await.expect("start");
        let bot = bot(&fake);
        for text in ["part 1", "part 3", "part 2", "part 4"] {
            bot.send_message(ChatId(-5), text).await.expect("sent");
        }
        for text in ["part 2", "part 1"] {
            bot.send_message(ChatId(6), text).await.expect("sent");
        }
        let c = fake.counters();
        assert_eq!(c.out_of_order, 2);
        assert_eq!(c.out_of_order_by_chat.get(&-5), Some(&1));
        assert_eq!(c.out_of_order_by_chat.get(&6), Some(&1));
    }

    #[tokio::test]
    async fn answers_to_old_button_presses_are_refused() {
        let fake = FakeTelegram::start().await.expect("start");
        let bot = bot(&fake);
        let user = TgUser::vi(77);
        let fresh = fake.press_button(&user, 1, "x");
        let old = fake.press_button(&user, 1, "y");
        fake.age_callback(&old, Duration::from_secs(16));
        bot.answer_callback_query(teloxide::types::CallbackQueryId(fresh))
            .await
            .expect("a fresh press is answered");
        let err = bot
            .answer_callback_query(teloxide::types::CallbackQueryId(old))
            .await
            .expect_err("an old press is refused");
        assert!(err.to_string().contains("query is too old"), "{err}");
    }
}
