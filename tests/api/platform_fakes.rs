//! The app with Messenger and Zalo pointed at the fake servers of `fake-platforms`, and
//! helpers that post signed, unsigned and forged webhooks to it.

use bluezone_bot::domain::Platform;
use bluezone_bot::store::Person;
use fake_platforms::{
    FakePlatform, MESSENGER_PAGE, MESSENGER_SECRET, MESSENGER_VERIFY, Sent, ZALO_APP_ID,
    ZALO_APP_SECRET, ZALO_OA_ID, ZALO_OA_SECRET, fake_messenger, fake_zalo, messenger_signature,
    zalo_signature,
};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app_with};

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
        // The fake sees the person's action (it opens their messaging window).
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        for entry in v["entry"].as_array().into_iter().flatten() {
            for m in entry["messaging"].as_array().into_iter().flatten() {
                if let Some(psid) = m.pointer("/sender/id").and_then(Value::as_str) {
                    self.messenger.interacted(psid);
                }
            }
        }
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
        // The fake sees the user's interaction (it opens their windows).
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if v["event_name"]
            .as_str()
            .is_some_and(|e| e.starts_with("user_"))
            && let Some(user) = v.pointer("/sender/id").and_then(Value::as_str)
        {
            self.zalo.interacted(user);
        }
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
