//! Sending with the Send API: `POST {graph}/{version}/me/messages?access_token=…`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::MessengerConfig;
use super::plan::plan;
use crate::domain::Platform;
use crate::platform::chat_lock::ChatLocks;
use crate::platform::plain::{Attachment, PlainPlatform, Traits};
use crate::platform::{Delivered, DeliveryError, OutButton};
use crate::store::Store;

/// The standard messaging window: a person can be messaged for 24 hours after they wrote.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The Messenger adapter's sending half.
#[derive(Clone)]
pub struct Messenger {
    config: Arc<MessengerConfig>,
    store: Store,
    http: reqwest::Client,
    /// One message at a time per chat, so a turn's messages arrive in order.
    chats: ChatLocks,
    /// The campaign's time zone (a monthly budget's month is the campaign's).
    tz: chrono_tz::Tz,
}

impl Messenger {
    /// An adapter for the Page in `config`; `store` tells when a person last wrote and keeps
    /// numbered choices.
    pub fn new(config: Arc<MessengerConfig>, store: Store) -> Messenger {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Messenger {
            config,
            store,
            http,
            chats: ChatLocks::default(),
            tz: chrono_tz::Asia::Ho_Chi_Minh,
        }
    }

    /// The same account, counting budget months in the campaign's time zone `tz`.
    pub fn in_time_zone(mut self, tz: chrono_tz::Tz) -> Messenger {
        self.tz = tz;
        self
    }

    /// Sets the Page's "Get started" button to send `/start` (a first visit through an
    /// `m.me/<page>?ref=…` link carries the ref along with it).
    pub async fn set_get_started(&self) -> Result<(), DeliveryError> {
        let base = self.config.graph_url.as_str().trim_end_matches('/');
        let url = format!("{base}/{}/me/messenger_profile", self.config.api_version);
        let resp = self
            .http
            .post(url)
            .query(&[("access_token", self.config.page_access_token.expose())])
            .json(&json!({"get_started": {"payload": "/start"}}))
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("network: {}", e.without_url())))?;
        let status = resp.status().as_u16();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) && value.get("error").is_none() {
            Ok(())
        } else {
            Err(classify(status, &value))
        }
    }

    fn send_url(&self) -> String {
        let base = self.config.graph_url.as_str().trim_end_matches('/');
        format!("{base}/{}/me/messages", self.config.api_version)
    }

    /// Uploads a picture or file with the message that carries it (multipart `filedata`).
    async fn post_file(
        &self,
        psid: &str,
        kind: &str,
        filename: &str,
        mime: &str,
        bytes: &[u8],
    ) -> Result<Delivered, DeliveryError> {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(filename.to_string())
            .mime_str(mime)
            .map_err(|e| DeliveryError::Rejected(format!("attachment: {e}")))?;
        let form = reqwest::multipart::Form::new()
            .text("recipient", json!({"id": psid}).to_string())
            .text("messaging_type", "RESPONSE")
            .text(
                "message",
                json!({"attachment": {"type": kind, "payload": {"is_reusable": false}}})
                    .to_string(),
            )
            .part("filedata", part);
        let resp = self
            .http
            .post(self.send_url())
            .query(&[("access_token", self.config.page_access_token.expose())])
            .multipart(form)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("network: {}", e.without_url())))?;
        answer(resp).await
    }

    async fn post(&self, psid: &str, message: Value) -> Result<Delivered, DeliveryError> {
        let body = json!({
            "recipient": {"id": psid},
            "messaging_type": "RESPONSE",
            "message": message,
        });
        let resp = self
            .http
            .post(self.send_url())
            .query(&[("access_token", self.config.page_access_token.expose())])
            .json(&body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("network: {}", e.without_url())))?;
        answer(resp).await
    }
}

/// Reads a Send API answer: the message id, or the classified error.
async fn answer(resp: reqwest::Response) -> Result<Delivered, DeliveryError> {
    let status = resp.status().as_u16();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) && value.get("error").is_none() {
        return Ok(Delivered {
            message_id: value
                .get("message_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    Err(classify(status, &value))
}

/// Maps a Send API error answer to a delivery outcome.
pub fn classify(status: u16, body: &Value) -> DeliveryError {
    let code = body.pointer("/error/code").and_then(Value::as_i64);
    let sub = body.pointer("/error/error_subcode").and_then(Value::as_i64);
    let text = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let what = format!(
        "messenger error {}/{}: {text}",
        code.unwrap_or(0),
        sub.unwrap_or(0)
    );
    match (code, sub) {
        (Some(551), _) | (_, Some(1545041)) => DeliveryError::Unreachable(what),
        (Some(10), Some(2018278)) | (_, Some(2018278)) => {
            DeliveryError::Skipped("outside messaging window".into())
        }
        (Some(4 | 17 | 32 | 613), _) => DeliveryError::RetryAfter {
            seconds: 30,
            global: true,
        },
        (Some(1 | 2), _) => DeliveryError::Transient(what),
        // A page token that was revoked: the operator must fix it; keep the message meanwhile.
        (Some(190), _) => DeliveryError::Transient(what),
        _ if status >= 500 || status == 0 => DeliveryError::Transient(what),
        (Some(_), _) => DeliveryError::Rejected(what),
        (None, _) => DeliveryError::Transient(format!("HTTP {status}")),
    }
}

/// The content type of an export by its file name.
fn mime_for(filename: &str) -> &'static str {
    match filename.rsplit('.').next() {
        Some("csv") => "text/csv",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("png") => "image/png",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}


#[async_trait::async_trait]
impl crate::platform::profile::Profiles for Messenger {
    /// The User Profile API: `GET {graph}/{version}/{psid}?fields=first_name,last_name`.
    async fn display_name(&self, psid: &str) -> Option<String> {
        let base = self.config.graph_url.as_str().trim_end_matches('/');
        let url = format!("{base}/{}/{psid}", self.config.api_version);
        let resp = self
            .http
            .get(url)
            .query(&[
                ("fields", "first_name,last_name"),
                ("access_token", self.config.page_access_token.expose()),
            ])
            .timeout(crate::platform::profile::NAME_TIMEOUT)
            .send()
            .await
            .ok()?;
        let v: Value = resp.json().await.ok()?;
        let name = [v.get("first_name"), v.get("last_name")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        Some(name.trim().to_string()).filter(|n| !n.is_empty())
    }
}

#[async_trait::async_trait]
impl PlainPlatform for Messenger {
    fn traits(&self) -> Traits<'_> {
        Traits {
            platform: Platform::Messenger,
            account: &self.config.account,
            sends_per_second: self.config.sends_per_second,
            reach: self.config.reach_rules(),
            tz: self.tz,
            outside_window: "outside messaging window",
            sends_files: true,
            store: &self.store,
            chats: &self.chats,
        }
    }

    async fn post_attachment(
        &self,
        psid: &str,
        attachment: Attachment<'_>,
    ) -> Result<Delivered, DeliveryError> {
        match attachment {
            Attachment::Picture(png) => {
                self.post_file(psid, "image", "chart.png", "image/png", png)
                    .await
            }
            Attachment::File { filename, bytes } => {
                self.post_file(psid, "file", filename, mime_for(filename), bytes)
                    .await
            }
            Attachment::PictureAt(url) => {
                let message = json!({"attachment": {"type": "image",
                    "payload": {"url": url, "is_reusable": true}}});
                self.post(psid, message).await
            }
        }
    }

    fn plan(&self, text: &str, buttons: &[OutButton]) -> Vec<Value> {
        plan(text, buttons)
    }

    async fn post(&self, psid: &str, message: Value) -> Result<Delivered, DeliveryError> {
        Messenger::post(self, psid, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        let e = |code: i64, sub: i64| {
            classify(
                400,
                &json!({"error": {"code": code, "error_subcode": sub, "message": "m"}}),
            )
        };
        assert!(matches!(e(551, 1545041), DeliveryError::Unreachable(_)));
        assert_eq!(
            e(10, 2018278),
            DeliveryError::Skipped("outside messaging window".into())
        );
        assert!(matches!(e(613, 0), DeliveryError::RetryAfter { .. }));
        assert!(matches!(e(4, 0), DeliveryError::RetryAfter { .. }));
        assert!(matches!(e(2, 0), DeliveryError::Transient(_)));
        assert!(matches!(e(100, 0), DeliveryError::Rejected(_)));
    }
}
