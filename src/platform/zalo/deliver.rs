//! Consultation messages: `POST {api}/v3.0/oa/message/cs` with an `access_token` header.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Tokens, ZaloConfig};
use crate::domain::Platform;
use crate::platform::chat_lock::ChatLocks;
use crate::platform::choices::{numbered_text, split_text};
use crate::platform::plain::{Attachment, PlainPlatform, Traits};
use crate::platform::{Delivered, DeliveryError, OutButton};
use crate::store::Store;

/// The interaction window for consultation messages: 7 days after the person's last message.
pub const WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// The longest consultation text.
pub(super) const MAX_TEXT: usize = 2000;
/// Buttons on one message.
pub(super) const MAX_BUTTONS: usize = 4;
/// The longest button title.
pub(super) const MAX_TITLE: usize = 100;

/// The Zalo adapter's sending half.
#[derive(Clone)]
pub struct Zalo {
    config: Arc<ZaloConfig>,
    store: Store,
    tokens: Tokens,
    http: reqwest::Client,
    /// One message at a time per chat, so a turn's messages arrive in order.
    chats: ChatLocks,
    /// The campaign's time zone (a monthly budget's month is the campaign's).
    tz: chrono_tz::Tz,
}

/// What one call to Zalo answered.
enum Answer {
    Sent(Option<String>),
    TokenRefused,
    Failed(DeliveryError),
}

impl Zalo {
    /// An adapter for the OA in `config`, with its token manager.
    pub fn new(config: Arc<ZaloConfig>, store: Store, tokens: Tokens) -> Zalo {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Zalo {
            config,
            store,
            tokens,
            http,
            chats: ChatLocks::default(),
            tz: chrono_tz::Asia::Ho_Chi_Minh,
        }
    }

    /// The same account, counting budget months in the campaign's time zone `tz`.
    pub fn in_time_zone(mut self, tz: chrono_tz::Tz) -> Zalo {
        self.tz = tz;
        self
    }

    async fn call(&self, access: &str, body: &Value) -> Answer {
        let url = format!(
            "{}/v3.0/oa/message/cs",
            self.config.api_url.as_str().trim_end_matches('/')
        );
        let resp = match self
            .http
            .post(url)
            .header("access_token", access)
            .json(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Answer::Failed(DeliveryError::Transient(format!(
                    "network: {}",
                    e.without_url()
                )));
            }
        };
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let code = v.get("error").and_then(Value::as_i64);
        match code {
            Some(0) if status < 300 => Answer::Sent(
                v.pointer("/data/message_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            Some(-216 | -220 | -124) => Answer::TokenRefused,
            _ => Answer::Failed(classify(status, &v)),
        }
    }

    /// Sends one message body, refreshing the token once if Zalo refuses it.
    async fn post(&self, user_id: &str, message: Value) -> Result<Delivered, DeliveryError> {
        let body = json!({"recipient": {"user_id": user_id}, "message": message});
        for attempt in 0..2 {
            let access = self.tokens.access_token().await?;
            match self.call(&access, &body).await {
                Answer::Sent(id) => return Ok(Delivered { message_id: id }),
                Answer::TokenRefused if attempt == 0 => self.tokens.refused(&access).await,
                Answer::TokenRefused => break,
                Answer::Failed(e) => return Err(e),
            }
        }
        Err(DeliveryError::Transient(
            "Zalo refused a fresh access token".into(),
        ))
    }
}

impl Zalo {
    /// Uploads a PNG (`POST {api}/v2.0/oa/upload/image`, multipart `file`) and sends it as a
    /// media template. [UNVERIFIED against the live API: shapes from the official SDKs.]
    async fn post_picture(&self, user_id: &str, png: &[u8]) -> Result<Delivered, DeliveryError> {
        let url = format!(
            "{}/v2.0/oa/upload/image",
            self.config.api_url.as_str().trim_end_matches('/')
        );
        let mut refused = false;
        let attachment_id = loop {
            let access = self.tokens.access_token().await?;
            let part = reqwest::multipart::Part::bytes(png.to_vec())
                .file_name("chart.png")
                .mime_str("image/png")
                .map_err(|e| DeliveryError::Rejected(format!("picture: {e}")))?;
            let resp = self
                .http
                .post(&url)
                .header("access_token", &access)
                .multipart(reqwest::multipart::Form::new().part("file", part))
                .send()
                .await
                .map_err(|e| DeliveryError::Transient(format!("network: {}", e.without_url())))?;
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            match v.get("error").and_then(Value::as_i64) {
                Some(0) => match v.pointer("/data/attachment_id").and_then(Value::as_str) {
                    Some(id) => break id.to_string(),
                    None => return Err(DeliveryError::Transient("no attachment id".into())),
                },
                Some(-216 | -220 | -124) if !refused => {
                    refused = true;
                    self.tokens.refused(&access).await;
                }
                _ => return Err(classify(status, &v)),
            }
        };
        let message = json!({"attachment": {"type": "template", "payload": {
            "template_type": "media",
            "elements": [{"media_type": "image", "attachment_id": attachment_id}]}}});
        self.post(user_id, message).await
    }
}

/// Maps a Zalo answer (HTTP 200 with a negative `error`) to a delivery outcome.
pub fn classify(status: u16, body: &Value) -> DeliveryError {
    let code = body.get("error").and_then(Value::as_i64).unwrap_or(0);
    let text = body.get("message").and_then(Value::as_str).unwrap_or("");
    let what = format!("zalo error {code}: {text}");
    match code {
        -230 | -232 => DeliveryError::Skipped("outside interaction window".into()),
        -213 | -227 => DeliveryError::Unreachable(what),
        -32 => DeliveryError::RetryAfter {
            seconds: 60,
            global: true,
        },
        -216 | -220 | -124 => DeliveryError::Transient(what),
        // Malformed requests (bad parameters, too long, unsupported message) never succeed.
        -201 | -202 | -204 | -205 | -211 | -240 => DeliveryError::Rejected(what),
        0 if status >= 300 => DeliveryError::Transient(format!("HTTP {status}")),
        _ => DeliveryError::Transient(what),
    }
}

/// The message bodies for a text with buttons, in order. Buttons that fit are
/// `oa.query.show` taps whose payload is the label (it comes back as the person's text and
/// is matched against the remembered choices); more become numbered lines.
pub(crate) fn plan(text: &str, buttons: &[OutButton]) -> Vec<Value> {
    let text = if text.trim().is_empty() { "…" } else { text };
    let fits = !buttons.is_empty()
        && buttons.len() <= MAX_BUTTONS
        && buttons
            .iter()
            .all(|b| b.label().chars().count() <= MAX_TITLE);
    let full = if fits || buttons.is_empty() {
        text.to_string()
    } else {
        numbered_text(text, buttons)
    };
    let mut parts: Vec<Value> = split_text(&full, MAX_TEXT)
        .into_iter()
        .map(|p| json!({"text": p}))
        .collect();
    if fits && let Some(last) = parts.last_mut() {
        let bs: Vec<Value> = buttons
            .iter()
            .map(|b| match b {
                OutButton::Callback { label, .. } => {
                    json!({"title": label, "type": "oa.query.show", "payload": label})
                }
                OutButton::Url { label, url } => {
                    json!({"title": label, "type": "oa.open.url", "payload": {"url": url}})
                }
            })
            .collect();
        last["attachment"] = json!({"type": "template", "payload": {"buttons": bs}});
    }
    parts
}

#[async_trait::async_trait]
impl crate::platform::profile::Profiles for Zalo {
    /// `GET {api}/v3.0/oa/user/detail?data={"user_id":…}` → `data.display_name`.
    async fn display_name(&self, user_id: &str) -> Option<String> {
        let access = self.tokens.access_token().await.ok()?;
        let url = format!(
            "{}/v3.0/oa/user/detail",
            self.config.api_url.as_str().trim_end_matches('/')
        );
        let resp = self
            .http
            .get(url)
            .header("access_token", access)
            .query(&[("data", json!({"user_id": user_id}).to_string())])
            .timeout(crate::platform::profile::NAME_TIMEOUT)
            .send()
            .await
            .ok()?;
        let v: Value = resp.json().await.ok()?;
        if v.get("error").and_then(Value::as_i64) != Some(0) {
            return None;
        }
        v.pointer("/data/display_name")
            .and_then(Value::as_str)
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
    }
}

#[async_trait::async_trait]
impl PlainPlatform for Zalo {
    fn traits(&self) -> Traits<'_> {
        Traits {
            platform: Platform::Zalo,
            account: &self.config.account,
            sends_per_second: self.config.sends_per_second,
            reach: self.config.reach_rules(),
            tz: self.tz,
            outside_window: "outside interaction window",
            // Zalo takes only PDF/DOC files; exports (CSV/XLSX) go as their caption.
            sends_files: false,
            store: &self.store,
            chats: &self.chats,
        }
    }

    async fn post_attachment(
        &self,
        user_id: &str,
        attachment: Attachment<'_>,
    ) -> Result<Delivered, DeliveryError> {
        match attachment {
            Attachment::Picture(png) => self.post_picture(user_id, png).await,
            Attachment::PictureAt(url) => {
                let message = json!({"attachment": {"type": "template", "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "url": url}]}}});
                self.post(user_id, message).await
            }
            Attachment::File { .. } => Err(DeliveryError::Rejected(
                "Zalo takes no exported files".into(),
            )),
        }
    }

    fn plan(&self, text: &str, buttons: &[OutButton]) -> Vec<Value> {
        plan(text, buttons)
    }

    async fn post(&self, user_id: &str, message: Value) -> Result<Delivered, DeliveryError> {
        Zalo::post(self, user_id, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_split_and_buttons_ride_on_the_last_part() {
        let text = format!("{}\n{}", "a".repeat(1990), "b".repeat(100));
        let b = vec![OutButton::Callback {
            label: "Yes".into(),
            data: "y".into(),
        }];
        let p = plan(&text, &b);
        assert_eq!(p.len(), 2);
        assert!(p[0].get("attachment").is_none());
        assert_eq!(
            p[1]["attachment"]["payload"]["buttons"][0]["payload"],
            "Yes"
        );
        assert_eq!(
            p[1]["attachment"]["payload"]["buttons"][0]["type"],
            "oa.query.show"
        );
        let many: Vec<OutButton> = (0..6)
            .map(|i| OutButton::Callback {
                label: format!("U{i}"),
                data: format!("u:{i}"),
            })
            .collect();
        let p = plan("Pick", &many);
        assert_eq!(p.len(), 1);
        assert!(p[0]["text"].as_str().unwrap_or("").ends_with("[6] U5"));
    }

    #[test]
    fn errors_are_classified() {
        let e = |c: i64| classify(200, &json!({"error": c, "message": "m"}));
        assert_eq!(
            e(-230),
            DeliveryError::Skipped("outside interaction window".into())
        );
        assert!(matches!(e(-232), DeliveryError::Skipped(_)));
        assert!(matches!(e(-213), DeliveryError::Unreachable(_)));
        assert!(matches!(e(-227), DeliveryError::Unreachable(_)));
        assert!(matches!(e(-32), DeliveryError::RetryAfter { .. }));
        assert!(matches!(e(-201), DeliveryError::Rejected(_)));
        assert!(matches!(e(-999), DeliveryError::Transient(_)));
    }
}
