//! Fake Messenger Graph API and fake Zalo OpenAPI/OAuth servers on loopback, recording what
//! the bot sent and answering like the real ones (errors included), plus helpers that post
//! signed, unsigned and forged webhooks to the app.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, FromRequest, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bluezone_bot::domain::Platform;
use bluezone_bot::store::Person;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Options, TestApp, WAIT, spawn_app_with};

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

    /// Zalo: refresh tokens spent so far.
    pub fn spent(&self) -> Vec<String> {
        self.lock().spent.clone()
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

type Shared = Arc<Mutex<FakeState>>;

fn take_error(s: &mut FakeState) -> Option<(u16, Value)> {
    s.attempts += 1;
    s.errors.pop_front()
}

/// The fake Graph API: `POST /{version}/me/messages?access_token=…`.
pub async fn fake_messenger() -> FakePlatform {
    async fn send(
        State(st): State<Shared>,
        Query(q): Query<HashMap<String, String>>,
        req: axum::extract::Request,
    ) -> Response {
        let multipart = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/"));
        // An upload: recipient and message as JSON fields, the file in `filedata`.
        let body: Value = if multipart {
            let Ok(mut form) = axum::extract::Multipart::from_request(req, &()).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let mut body = json!({});
            while let Ok(Some(field)) = form.next_field().await {
                let name = field.name().unwrap_or("").to_string();
                let file = field.file_name().map(str::to_string);
                let Ok(bytes) = field.bytes().await else {
                    return StatusCode::BAD_REQUEST.into_response();
                };
                match name.as_str() {
                    "filedata" => {
                        body["message"]["filedata_len"] = json!(bytes.len());
                        body["message"]["filename"] = json!(file);
                    }
                    "recipient" | "message" => {
                        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        if name == "recipient" {
                            body["recipient"] = v;
                        } else if let (Some(m), Some(extra)) =
                            (body["message"].as_object_mut().cloned(), v.as_object())
                        {
                            let mut merged = extra.clone();
                            merged.extend(m);
                            body["message"] = Value::Object(merged);
                        } else {
                            body["message"] = v;
                        }
                    }
                    _ => {}
                }
            }
            body
        } else {
            let Ok(bytes) = axum::body::to_bytes(req.into_body(), 1 << 20).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        s.last_query_token = q.get("access_token").cloned();
        if let Some((status, body)) = take_error(&mut s) {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return (code, axum::Json(body)).into_response();
        }
        let to = body["recipient"]["id"].as_str().unwrap_or("").to_string();
        s.sent.push(Sent {
            to: to.clone(),
            message: body["message"].clone(),
        });
        let id = format!("m_{}", s.sent.len());
        axum::Json(json!({"recipient_id": to, "message_id": id})).into_response()
    }
    let state: Shared = Arc::default();
    let router = Router::new()
        .route("/{version}/me/messages", post(send))
        .route(
            "/{version}/{psid}",
            axum::routing::get(
                |State(st): State<Shared>,
                 axum::extract::Path((_, psid)): axum::extract::Path<(String, String)>| async move {
                    let first = st.lock().unwrap_or_else(|e| e.into_inner()).names.get(&psid).cloned();
                    let first = first.unwrap_or_else(|| "Lan".into());
                    axum::Json(json!({"first_name": first, "last_name": psid, "id": psid}))
                },
            ),
        )
        .route(
            "/{version}/me/messenger_profile",
            post(
                |State(st): State<Shared>, body: axum::Json<Value>| async move {
                    st.lock().unwrap_or_else(|e| e.into_inner()).profile = Some(body.0);
                    axum::Json(json!({"result": "success"}))
                },
            ),
        )
        .with_state(state.clone());
    FakePlatform {
        url: serve(router).await,
        state,
    }
}

/// The fake Zalo: `/v3.0/oa/message/cs` and `/v4/oa/access_token` on one server. Refresh
/// tokens are single use and rotate; only the newest access token works.
pub async fn fake_zalo() -> FakePlatform {
    async fn send(
        State(st): State<Shared>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> Response {
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        let token = headers
            .get("access_token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if token.is_empty() || token != s.access {
            s.attempts += 1;
            return axum::Json(json!({"error": -216, "message": "Access token is invalid"}))
                .into_response();
        }
        if let Some((status, body)) = take_error(&mut s) {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (code, axum::Json(body)).into_response();
        }
        let to = body["recipient"]["user_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        s.sent.push(Sent {
            to: to.clone(),
            message: body["message"].clone(),
        });
        let id = format!("z_{}", s.sent.len());
        axum::Json(
            json!({"error": 0, "message": "Success", "data": {"message_id": id, "user_id": to}}),
        )
        .into_response()
    }
    async fn refresh(
        State(st): State<Shared>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        let secret_ok =
            headers.get("secret_key").and_then(|v| v.to_str().ok()) == Some(ZALO_APP_SECRET);
        let given = form.get("refresh_token").cloned().unwrap_or_default();
        if !secret_ok
            || form.get("app_id").map(String::as_str) != Some(ZALO_APP_ID)
            || form.get("grant_type").map(String::as_str) != Some("refresh_token")
            || given != s.refresh
        {
            s.refused_refreshes += 1;
            return axum::Json(
                json!({"error": -14014, "error_name": "Invalid refresh token",
                "error_description": "Refresh token is invalid"}),
            )
            .into_response();
        }
        let n = s.spent.len() + 1;
        s.spent.push(given);
        s.access = format!("AT{n}");
        s.refresh = format!("RT{n}");
        axum::Json(
            json!({"access_token": s.access, "refresh_token": s.refresh, "expires_in": "90000"}),
        )
        .into_response()
    }
    let state: Shared = Arc::new(Mutex::new(FakeState {
        refresh: "RT0".into(),
        ..FakeState::default()
    }));
    let router = Router::new()
        .route("/v3.0/oa/message/cs", post(send))
        .route(
            "/v2.0/oa/upload/image",
            post(
                |State(st): State<Shared>,
                 headers: HeaderMap,
                 mut form: axum::extract::Multipart| async move {
                    let access = st.lock().unwrap_or_else(|e| e.into_inner()).access.clone();
                    if headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(&access) {
                        return axum::Json(json!({"error": -216, "message": "invalid token"}));
                    }
                    let mut size = 0;
                    while let Ok(Some(field)) = form.next_field().await {
                        if field.name() == Some("file") {
                            size = field.bytes().await.map(|b| b.len()).unwrap_or(0);
                        }
                    }
                    axum::Json(json!({"error": 0, "message": "Success",
                        "data": {"attachment_id": format!("img-{size}")}}))
                },
            ),
        )
        .route(
            "/v3.0/oa/user/detail",
            axum::routing::get(
                |State(st): State<Shared>,
                 headers: HeaderMap,
                 Query(q): Query<HashMap<String, String>>| async move {
                    let access = st.lock().unwrap_or_else(|e| e.into_inner()).access.clone();
                    if headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(&access) {
                        return axum::Json(json!({"error": -216, "message": "invalid token"}));
                    }
                    let data: Value = q
                        .get("data")
                        .and_then(|d| serde_json::from_str(d).ok())
                        .unwrap_or(Value::Null);
                    let user = data["user_id"].as_str().unwrap_or("").to_string();
                    let given = st
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .names
                        .get(&user)
                        .cloned();
                    let name = given.unwrap_or_else(|| format!("Zalo {user}"));
                    axum::Json(json!({"error": 0, "message": "Success",
                        "data": {"user_id": user, "display_name": name}}))
                },
            ),
        )
        .route("/v4/oa/access_token", post(refresh))
        .with_state(state.clone());
    FakePlatform {
        url: serve(router).await,
        state,
    }
}

pub const MESSENGER_SECRET: &str = "fb-app-secret";
pub const MESSENGER_VERIFY: &str = "verify-me";
pub const MESSENGER_PAGE: &str = "BluezonePage";
pub const ZALO_APP_ID: &str = "1234567890";
pub const ZALO_OA_ID: &str = "987654321";
pub const ZALO_OA_SECRET: &str = "oa-secret-key";
pub const ZALO_APP_SECRET: &str = "app-secret-key";

/// Environment variables that point the app at the fakes.
pub fn env(messenger: Option<&FakePlatform>, zalo: Option<&FakePlatform>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, val: &str| v.push((k.to_string(), val.to_string()));
    if let Some(m) = messenger {
        add("MESSENGER_APP_SECRET", MESSENGER_SECRET);
        add("MESSENGER_VERIFY_TOKEN", MESSENGER_VERIFY);
        add("MESSENGER_PAGE_ACCESS_TOKEN", "PAGE-TOKEN");
        add("MESSENGER_PAGE_ID", MESSENGER_PAGE);
        add("MESSENGER_GRAPH_URL", &m.url);
    }
    if let Some(z) = zalo {
        add("ZALO_APP_ID", ZALO_APP_ID);
        add("ZALO_OA_ID", ZALO_OA_ID);
        add("ZALO_OA_SECRET", ZALO_OA_SECRET);
        add("ZALO_SECRET_KEY", ZALO_APP_SECRET);
        add("ZALO_REFRESH_TOKEN", "RT0");
        add("ZALO_API_URL", &z.url);
        add("ZALO_OAUTH_URL", &z.url);
    }
    v
}

/// The app with Messenger and Zalo pointed at fresh fakes (Telegram stays on its own fake).
pub struct Platforms {
    pub app: TestApp,
    pub messenger: FakePlatform,
    pub zalo: FakePlatform,
    pub base: String,
    pub client: reqwest::Client,
    counter: std::sync::atomic::AtomicU64,
}

/// Starts the app with both platforms configured.
pub async fn spawn_platforms(mut options: Options) -> Platforms {
    let messenger = fake_messenger().await;
    let zalo = fake_zalo().await;
    options.env.extend(env(Some(&messenger), Some(&zalo)));
    let app = spawn_app_with(options).await;
    let base = app.http_base().await;
    Platforms {
        app,
        messenger,
        zalo,
        base,
        client: reqwest::Client::new(),
        counter: std::sync::atomic::AtomicU64::new(1),
    }
}

/// The Messenger signature header for `body`.
pub fn messenger_signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Zalo signature header for `body` with `first` (app id or OA id) first.
pub fn zalo_signature(first: &str, body: &[u8], timestamp: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(first.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}

impl Platforms {
    fn next(&self) -> u64 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// A Messenger webhook body with one messaging item.
    pub fn messenger_body(&self, psid: &str, item: Value) -> Vec<u8> {
        let mut m = json!({"sender": {"id": psid}, "recipient": {"id": MESSENGER_PAGE},
            "timestamp": 1_600_000_000_000u64 + self.next()});
        if let (Some(obj), Some(extra)) = (m.as_object_mut(), item.as_object()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&json!({"object": "page", "entry": [{"id": MESSENGER_PAGE, "time": 1, "messaging": [m]}]}))
            .expect("json")
    }

    /// Posts a raw Messenger webhook with this signature header (none when `None`).
    pub async fn post_messenger(&self, body: &[u8], signature: Option<String>) -> u16 {
        let mut req = self
            .client
            .post(format!("{}/webhooks/messenger", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("X-Hub-Signature-256", s);
        }
        req.send().await.expect("post").status().as_u16()
    }

    /// Posts a correctly signed Messenger webhook.
    pub async fn post_messenger_signed(&self, body: &[u8]) -> u16 {
        self.post_messenger(body, Some(messenger_signature(body, MESSENGER_SECRET)))
            .await
    }

    /// A Messenger text from `psid`; waits for `n` replies.
    pub async fn m_say(&self, psid: &str, text: &str, n: usize) -> Vec<Sent> {
        let since = self.messenger.count_to(psid);
        let mid = format!("mid.{}", self.next());
        let body = self.messenger_body(psid, json!({"message": {"mid": mid, "text": text}}));
        assert_eq!(self.post_messenger_signed(&body).await, 200);
        self.messenger.wait_to(psid, since, n).await
    }

    /// A Messenger postback (a template button press) from `psid`; waits for `n` replies.
    pub async fn m_press(&self, psid: &str, payload: &str, n: usize) -> Vec<Sent> {
        let since = self.messenger.count_to(psid);
        let body = self.messenger_body(
            psid,
            json!({"postback": {"title": "x", "payload": payload, "mid": format!("pb.{}", self.next())}}),
        );
        assert_eq!(self.post_messenger_signed(&body).await, 200);
        self.messenger.wait_to(psid, since, n).await
    }

    /// A Zalo webhook body for `event_name`.
    pub fn zalo_body(&self, event: &str, user: &str, text: Option<&str>) -> (Vec<u8>, String) {
        let ts = (1_600_000_000_000u64 + self.next()).to_string();
        let body = match event {
            "follow" | "unfollow" => {
                json!({"app_id": ZALO_APP_ID, "oa_id": ZALO_OA_ID, "event_name": event,
                "timestamp": ts, "source": "oa_profile", "follower": {"id": user}})
            }
            _ => {
                json!({"app_id": ZALO_APP_ID, "user_id_by_app": format!("app-{user}"), "event_name": event,
                "timestamp": ts, "sender": {"id": user}, "recipient": {"id": ZALO_OA_ID},
                "message": {"text": text.unwrap_or(""), "msg_id": format!("zmsg.{}", self.next())}})
            }
        };
        (serde_json::to_vec(&body).expect("json"), ts)
    }

    /// Posts a raw Zalo webhook with this signature header (none when `None`).
    pub async fn post_zalo(&self, body: &[u8], signature: Option<String>) -> u16 {
        let mut req = self
            .client
            .post(format!("{}/webhooks/zalo", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("X-ZEvent-Signature", s);
        }
        req.send().await.expect("post").status().as_u16()
    }

    /// Posts a correctly signed Zalo webhook.
    pub async fn post_zalo_signed(&self, body: &[u8], ts: &str) -> u16 {
        self.post_zalo(
            body,
            Some(zalo_signature(ZALO_APP_ID, body, ts, ZALO_OA_SECRET)),
        )
        .await
    }

    /// A Zalo text from `user`; waits for `n` replies.
    pub async fn z_say(&self, user: &str, text: &str, n: usize) -> Vec<Sent> {
        let since = self.zalo.count_to(user);
        let (body, ts) = self.zalo_body("user_send_text", user, Some(text));
        assert_eq!(self.post_zalo_signed(&body, &ts).await, 200);
        self.zalo.wait_to(user, since, n).await
    }

    /// The person behind a platform account.
    pub async fn person(&self, platform: Platform, id: &str) -> Option<Person> {
        self.app
            .store
            .person_by_platform_id(platform, id)
            .await
            .expect("reading a person")
    }
}

/// The first message whose text contains `needle`.
pub fn find<'a>(sent: &'a [Sent], needle: &str) -> &'a Sent {
    sent.iter()
        .find(|s| s.text().contains(needle))
        .unwrap_or_else(|| {
            let texts: Vec<String> = sent.iter().map(Sent::text).collect();
            panic!("no message contains {needle:?}: {texts:#?}")
        })
}
