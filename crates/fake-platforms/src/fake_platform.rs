//! What the fake Messenger and Zalo servers share: the messages they accepted, the answers a
//! test scripted, and waiting for what the bot sends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use serde_json::Value;

/// How long [`FakePlatform::wait_to`] and [`FakePlatform::wait_text`] wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// One message the bot sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The recipient's id (PSID or Zalo user id).
    pub to: String,
    /// The `message` object.
    pub message: Value,
}

impl Sent {
    /// The text (a template's text on Messenger).
    pub fn text(&self) -> String {
        self.message
            .get("text")
            .or_else(|| self.message.pointer("/attachment/payload/text"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// (title, payload) of every button or quick reply.
    pub fn buttons(&self) -> Vec<(String, String)> {
        let list = self
            .message
            .pointer("/attachment/payload/buttons")
            .or_else(|| self.message.get("quick_replies"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter()
            .map(|b| {
                let title = b["title"].as_str().unwrap_or("").to_string();
                let payload = match &b["payload"] {
                    Value::String(s) => s.clone(),
                    Value::Null => b["url"].as_str().unwrap_or("").to_string(),
                    other => other.to_string(),
                };
                (title, payload)
            })
            .collect()
    }

    /// The payload of the button whose title contains `label`, or (a label too long for a
    /// title) of the button titled `n` where the text lists `[n] …label…`.
    pub fn button(&self, label: &str) -> String {
        let numbered = self.text().lines().find_map(|line| {
            let (n, rest) = line.strip_prefix('[')?.split_once("] ")?;
            rest.contains(label).then(|| n.to_string())
        });
        self.buttons()
            .into_iter()
            .find(|(t, _)| t.contains(label) || numbered.as_deref() == Some(t.as_str()))
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", self.buttons()))
    }
}

/// What the fakes share with their handlers.
#[derive(Default)]
pub struct FakeState {
    /// Every accepted message.
    pub sent: Vec<Sent>,
    /// Scripted answers for the next send calls: (HTTP status, body).
    pub errors: VecDeque<(u16, Value)>,
    /// Send calls, accepted or not.
    pub attempts: usize,
    /// Zalo: the access token that works now.
    pub access: String,
    /// Zalo: the refresh token that works now (single use).
    pub refresh: String,
    /// Zalo: refresh tokens spent, in order.
    pub spent: Vec<String>,
    /// Zalo: refresh calls refused.
    pub refused_refreshes: usize,
    /// Messenger: the last Messenger profile set (Get started button).
    pub profile: Option<Value>,
    /// Messenger: the access token of the last call.
    pub last_query_token: Option<String>,
    /// First names the profile APIs give, by user id (a default name otherwise).
    pub names: HashMap<String, String>,
    /// The fake's clock in ms, when the test models the platform's messaging windows
    /// ([`FakePlatform::set_now`]); `None`: no window is enforced.
    pub now: Option<i64>,
    /// When each user last interacted with the account (the fake's clock), as the webhook
    /// events the test posts say ([`FakePlatform::interacted`]).
    pub interactions: HashMap<String, i64>,
    /// Zalo: messages accepted at a cost (48 hours to 7 days after the last interaction).
    pub billed: usize,
    /// Sends refused for being outside the platform's window.
    pub refused_outside_window: usize,
    /// Messenger: the Page is subscribed to no app's webhook (`/me/subscribed_apps` is
    /// empty), as before the app dashboard's "Subscribe" step.
    pub unsubscribed: bool,
}

/// How long after a user's last interaction a message to them is free, billed or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    Free,
    Billed,
    Refused,
}

impl FakeState {
    /// Where a message to `user` falls, when windows are modelled: free until `free_ms`
    /// after their last interaction, billed until `billed_ms`, refused after (or when they
    /// never interacted). Everything is free when no clock is set.
    pub(crate) fn window(&self, user: &str, free_ms: i64, billed_ms: i64) -> Window {
        let Some(now) = self.now else {
            return Window::Free;
        };
        match self.interactions.get(user) {
            Some(at) if now - at <= free_ms => Window::Free,
            Some(at) if now - at <= billed_ms => Window::Billed,
            _ => Window::Refused,
        }
    }
}

/// A fake platform API on a loopback port.
pub struct FakePlatform {
    /// The base URL.
    pub url: String,
    /// What it saw.
    pub state: Arc<Mutex<FakeState>>,
}

impl FakePlatform {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Messages accepted so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// How many messages went to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.lock().sent.iter().filter(|s| s.to == to).count()
    }

    /// Makes the next send calls answer these.
    pub fn fail_next(&self, status: u16, body: Value) {
        self.lock().errors.push_back((status, body));
    }

    /// Send calls so far.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    /// Waits until `n` messages to `to` arrived after the first `since`; returns them.
    pub async fn wait_to(&self, to: &str, since: usize, n: usize) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got: Vec<Sent> = self
                .sent()
                .into_iter()
                .filter(|s| s.to == to)
                .skip(since)
                .collect();
            if got.len() >= n {
                // Give a straggler a moment to show up, so "exactly n" is meaningful.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let got: Vec<Sent> = self
                    .sent()
                    .into_iter()
                    .filter(|s| s.to == to)
                    .skip(since)
                    .collect();
                let texts: Vec<String> = got.iter().map(Sent::text).collect();
                assert_eq!(got.len(), n, "expected {n} messages to {to}: {texts:#?}");
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                let texts: Vec<String> = got.iter().map(Sent::text).collect();
                panic!("waited for {n} messages to {to}, got {texts:#?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a message to `to` contains `needle`; returns it.
    pub async fn wait_text(&self, to: &str, needle: &str) -> Sent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(s) = self
                .sent()
                .into_iter()
                .find(|s| s.to == to && s.text().contains(needle))
            {
                return s;
            }
            if tokio::time::Instant::now() > deadline {
                let texts: Vec<String> = self
                    .sent()
                    .iter()
                    .filter(|s| s.to == to)
                    .map(Sent::text)
                    .collect();
                panic!("no message to {to} contains {needle:?}: {texts:#?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Models the platform's messaging windows from now on, with the fake's clock at `ms`
    /// (the test moves it with the bot's clock).
    pub fn set_now(&self, ms: i64) {
        self.lock().now = Some(ms);
    }

    /// Records that `user` interacted with the account now (a webhook event the test posted
    /// through the fake); nothing while windows are not modelled.
    pub fn interacted(&self, user: &str) {
        let mut s = self.lock();
        if let Some(now) = s.now {
            s.interactions.insert(user.to_string(), now);
        }
    }

    /// Zalo: messages billed so far.
    pub fn billed(&self) -> usize {
        self.lock().billed
    }

    /// Sends refused so far for being outside the platform's window.
    pub fn refused_outside_window(&self) -> usize {
        self.lock().refused_outside_window
    }

    /// Zalo: refresh tokens spent so far.
    pub fn spent(&self) -> Vec<String> {
        self.lock().spent.clone()
    }
}

/// Serves `router` on a fresh loopback port; its base URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The state a fake shares with its handlers.
pub(crate) type Shared = Arc<Mutex<FakeState>>;

/// Counts a send call and takes the next scripted answer, if any.
pub(crate) fn take_error(s: &mut FakeState) -> Option<(u16, Value)> {
    s.attempts += 1;
    s.errors.pop_front()
}
