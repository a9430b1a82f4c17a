//! Sending with the Send API: `POST {graph}/{version}/me/messages?access_token=…`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::MessengerConfig;
use crate::domain::{ChatAddress, Platform};
use crate::platform::chat_lock::ChatLocks;
use crate::platform::choices::{numbered_text, split_text};
use crate::platform::plain::{self, Attachment, PlainPlatform};
use crate::platform::{Deliver, Delivered, DeliveryError, OutButton, Outgoing};
use crate::store::Store;

/// The standard messaging window: a person can be messaged for 24 hours after they wrote.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest text message.
const MAX_TEXT: usize = 2000;
/// The longest text of a button template.
const MAX_TEMPLATE_TEXT: usize = 640;
/// Buttons in a button template.
const MAX_TEMPLATE_BUTTONS: usize = 3;
/// Quick replies on one message.
const MAX_QUICK_REPLIES: usize = 13;
/// The longest button or quick-reply title.
const MAX_TITLE: usize = 20;

/// The Messenger adapter's sending half.
#[derive(Clone)]
pub struct Messenger {
    config: Arc<MessengerConfig>,
    store: Store,
    http: reqwest::Client,
    /// One message at a time per chat, so a turn's messages arrive in order.
    chats: ChatLocks,
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
        }
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

/// The Send API message objects for a text with buttons, in order.
///
/// A label that fits a title (20 characters) stays on its button. One that does not is never
/// cut: its button (or quick reply) shows its number, and the message lists it in full as
/// `[n] label`, so "Xã Tân Hòa (Huyện Tân Thạnh)" and "Xã Tân Hòa (Huyện Bến Lức)" stay
/// distinct. Typing the number, the full label or a shortened label presses it too
/// ([`crate::platform::choices::resolve`]).
pub(crate) fn plan(text: &str, buttons: &[OutButton]) -> Vec<Value> {
    let text = if text.trim().is_empty() { "…" } else { text };
    let all_callbacks = buttons
        .iter()
        .all(|b| matches!(b, OutButton::Callback { .. }));
    let mut parts = split_text(text, MAX_TEXT);
    let last = parts.pop().unwrap_or_default();
    let mut out: Vec<Value> = parts.into_iter().map(|p| json!({"text": p})).collect();
    if buttons.is_empty() {
        out.push(json!({"text": last}));
        return out;
    }
    let with_long = numbered_long_labels(&last, buttons);
    if buttons.len() <= MAX_TEMPLATE_BUTTONS && with_long.chars().count() <= MAX_TEMPLATE_TEXT {
        let bs: Vec<Value> = buttons
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                OutButton::Callback { label, data } => {
                    json!({"type": "postback", "title": title(i, label), "payload": data})
                }
                OutButton::Url { label, url } => {
                    json!({"type": "web_url", "title": title(i, label), "url": url})
                }
            })
            .collect();
        out.push(json!({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": with_long, "buttons": bs}}}));
    } else if all_callbacks
        && buttons.len() <= MAX_QUICK_REPLIES
        && with_long.chars().count() <= MAX_TEXT
    {
        let qs: Vec<Value> = buttons
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match b {
                OutButton::Callback { label, data } => {
                    Some(json!({"content_type": "text", "title": title(i, label), "payload": data}))
                }
                OutButton::Url { .. } => None,
            })
            .collect();
        out.push(json!({"text": with_long, "quick_replies": qs}));
    } else {
        // Too many or mixed: numbered lines, answered by typing the number.
        for p in split_text(&numbered_text(&last, buttons), MAX_TEXT) {
            out.push(json!({"text": p}));
        }
    }
    out
}

/// Whether `label` fits a button or quick-reply title as it is.
fn fits(label: &str) -> bool {
    label.chars().count() <= MAX_TITLE
}

/// The title of the button at `index`: its label when it fits, else its number.
fn title(index: usize, label: &str) -> String {
    if fits(label) {
        label.to_string()
    } else {
        (index + 1).to_string()
    }
}

/// `text` followed by the buttons whose labels do not fit, as `[n] label` lines (numbered
/// by their place among all the buttons, as their titles are).
fn numbered_long_labels(text: &str, buttons: &[OutButton]) -> String {
    let mut out = text.trim_end().to_string();
    let long: Vec<(usize, &str)> = buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| !fits(b.label()))
        .map(|(i, b)| (i + 1, b.label()))
        .collect();
    if !long.is_empty() {
        out.push('\n');
        for (n, label) in long {
            out.push_str(&format!("\n[{n}] {label}"));
        }
    }
    out
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
    fn platform(&self) -> Platform {
        Platform::Messenger
    }

    fn window_ms(&self) -> i64 {
        WINDOW_MS
    }

    fn outside_window(&self) -> &'static str {
        "outside messaging window"
    }

    fn sends_files(&self) -> bool {
        true
    }

    fn store(&self) -> &Store {
        &self.store
    }

    fn chats(&self) -> &ChatLocks {
        &self.chats
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

#[async_trait::async_trait]
impl Deliver for Messenger {
    fn platform(&self) -> Platform {
        Platform::Messenger
    }

    /// Through the shared plain-text downgrade ([`plain::deliver`]).
    async fn deliver(
        &self,
        to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        plain::deliver(self, to, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(label: &str) -> OutButton {
        OutButton::Callback {
            label: label.into(),
            data: format!("d:{label}"),
        }
    }

    #[test]
    fn buttons_pick_the_form_that_fits() {
        let p = plan("Hi", &[cb("A"), cb("B")]);
        assert_eq!(p[0]["attachment"]["payload"]["template_type"], "button");
        assert_eq!(
            p[0]["attachment"]["payload"]["buttons"][1]["payload"],
            "d:B"
        );
        let five: Vec<OutButton> = (0..5).map(|i| cb(&format!("Opt {i}"))).collect();
        let p = plan("Hi", &five);
        assert_eq!(p[0]["quick_replies"].as_array().map(Vec::len), Some(5));
        let twenty: Vec<OutButton> = (0..20).map(|i| cb(&format!("Opt {i}"))).collect();
        let p = plan("Hi", &twenty);
        let text = p[0]["text"].as_str().unwrap_or("");
        assert!(text.contains("\n[20] Opt 19"), "{text}");
        let long = vec![cb("A very long unit name that does not fit"); 4];
        let p = plan("Hi", &long);
        assert!(
            p[0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("[4] A very long unit name that does not fit")
        );
        let titles: Vec<&str> = p[0]["quick_replies"]
            .as_array()
            .map(|q| q.iter().filter_map(|r| r["title"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(titles, ["1", "2", "3", "4"]);
    }

    #[test]
    fn long_labels_are_numbered_never_cut() {
        let p = plan(
            "Which one?",
            &[
                cb("Xã Tân Hòa (Huyện Tân Thạnh)"),
                cb("Xã Tân Hòa (Huyện Bến Lức)"),
                cb("Other"),
            ],
        );
        let payload = &p[0]["attachment"]["payload"];
        assert_eq!(
            payload["text"],
            "Which one?\n\n[1] Xã Tân Hòa (Huyện Tân Thạnh)\n[2] Xã Tân Hòa (Huyện Bến Lức)"
        );
        let titles: Vec<&str> = payload["buttons"]
            .as_array()
            .map(|b| b.iter().filter_map(|x| x["title"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(titles, ["1", "2", "Other"]);
        assert!(!serde_json::to_string(&p).unwrap_or_default().contains('…'));
    }

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
