//! The server: its state, start and stop, the failures and settings a test turns on, and
//! the record it reads.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::failures::Failure;
use super::limits::{TelegramLimits, Windows};
use super::methods::{canonical, handle};
use super::records::{Call, Counters, Outcome, is_send_method, sequence_of};

pub(super) struct Inner {
    pub(super) calls: Vec<Call>,
    pub(super) updates: Vec<(i64, Value)>,
    pub(super) next_update_id: i64,
    pub(super) next_message_id: i64,
    pub(super) next_callback_id: u64,
    pub(super) chat_failures: HashMap<i64, (Failure, Option<u32>)>,
    pub(super) method_failures: HashMap<String, (Failure, Option<u32>)>,
    pub(super) member_status: HashMap<(i64, i64), String>,
    pub(super) default_member_status: String,
    pub(super) limits: Option<TelegramLimits>,
    pub(super) windows: Windows,
    /// File ids this bot may send on: those of pictures users sent it and of its own uploads.
    pub(super) known_files: std::collections::HashSet<String>,
    /// When each callback query was made (button presses), to refuse late answers.
    pub(super) callbacks: HashMap<String, Instant>,
    /// The longest a getUpdates call is held, whatever timeout the client asks.
    pub(super) max_hold: Duration,
    /// Messages sent with `allow_paid_broadcast` that went through.
    pub(super) paid_sent: u64,
    /// The Stars those cost (tenths): 0.1 each above the free 30 per second.
    pub(super) star_tenths: u64,
    /// The webhook set with setWebhook (its `url`, `allowed_updates`, `max_connections`),
    /// until deleteWebhook or a setWebhook with an empty URL; getWebhookInfo reports it.
    pub(super) webhook: Option<Value>,
}

pub(super) struct Shared {
    pub(super) token: String,
    pub(super) username: String,
    pub(super) bot_id: i64,
    pub(super) inner: Mutex<Inner>,
    pub(super) updates_ready: Notify,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the real failure.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Bot API server. Stops when dropped.
pub struct FakeTelegram {
    pub(super) addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) stop: CancellationToken,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub(super) fn now_unix() -> i64 {
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
        FakeTelegram::serve(listener, username, limits)
    }

    /// Starts a fake on `listener` (the `fake-telegram` program binds the address it is
    /// given), whose bot is called `username`, enforcing `limits` when given.
    pub fn serve(
        listener: tokio::net::TcpListener,
        username: &str,
        limits: Option<TelegramLimits>,
    ) -> std::io::Result<FakeTelegram> {
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
                paid_sent: 0,
                star_tenths: 0,
                webhook: None,
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

    /// The webhook URL set now (setWebhook), if any.
    pub fn webhook_url(&self) -> Option<String> {
        self.shared
            .lock()
            .webhook
            .as_ref()
            .and_then(|w| w["url"].as_str().map(str::to_string))
    }
}

impl FakeTelegram {
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

    /// Messages sent with `allow_paid_broadcast` that went through, and the Stars they
    /// cost, in tenths (0.1 Star each above the free 30 per second).
    pub fn paid(&self) -> (u64, u64) {
        let inner = self.shared.lock();
        (inner.paid_sent, inner.star_tenths)
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

    /// Takes the record out, leaving it empty (long benchmarks read it as they go instead of
    /// letting it grow); positions ([`FakeTelegram::mark`]) count from the take.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.shared.lock().calls)
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
