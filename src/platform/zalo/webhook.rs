//! Zalo webhooks: the signature check and the translation of events into neutral ones.

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Platform;
use crate::platform::choices::text_event;
use crate::platform::{Chat, ChatKind, Event, Inbound, PhotoRef, Sender};

/// Whether `header` (`mac=<hex>`) matches `sha256(first + body + timestamp + oa_secret)` with
/// `first` the app id or the OA id (both forms are in use). `timestamp` is the body's own
/// field. Every candidate is compared in constant time.
pub fn signature_ok(
    header: Option<&[u8]>,
    body: &[u8],
    app_id: &str,
    oa_id: &str,
    oa_secret: &str,
) -> bool {
    let Some(given) = header
        .and_then(|h| std::str::from_utf8(h).ok())
        .map(|h| h.trim())
        .map(|h| h.strip_prefix("mac=").unwrap_or(h).to_ascii_lowercase())
    else {
        return false;
    };
    let Some(timestamp) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("timestamp").and_then(as_text))
    else {
        return false;
    };
    let mac = |first: &str| {
        let mut h = Sha256::new();
        h.update(first.as_bytes());
        h.update(body);
        h.update(timestamp.as_bytes());
        h.update(oa_secret.as_bytes());
        hex::encode(h.finalize())
    };
    let by_app = given.as_bytes().ct_eq(mac(app_id).as_bytes());
    let by_oa = given.as_bytes().ct_eq(mac(oa_id).as_bytes());
    bool::from(by_app | by_oa)
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The event in a webhook body with a key that identifies it across Zalo's retries (the
/// message id, or the event, user and timestamp). `None` for events the bot ignores
/// (seen/received receipts, the OA's own messages).
pub fn to_inbound(body: &Value) -> Option<(String, Inbound)> {
    let name = body.get("event_name").and_then(Value::as_str)?;
    let ts = body.get("timestamp").and_then(as_text).unwrap_or_default();
    let (user, event) = match name {
        "user_send_text" => {
            let text = body.pointer("/message/text").and_then(Value::as_str)?;
            (
                body.pointer("/sender/id").and_then(as_text)?,
                text_event(text),
            )
        }
        "user_send_image" => {
            let url = body
                .pointer("/message/attachments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|a| a.pointer("/payload/url").and_then(Value::as_str));
            let event = match url {
                Some(url) if url.starts_with("https://") => Event::Photo {
                    photo: PhotoRef::Url {
                        url: url.to_string(),
                    },
                    caption: body
                        .pointer("/message/text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                },
                _ => Event::Unsupported,
            };
            (body.pointer("/sender/id").and_then(as_text)?, event)
        }
        "follow" => (
            body.pointer("/follower/id").and_then(as_text)?,
            Event::Unblocked,
        ),
        "unfollow" => (
            body.pointer("/follower/id").and_then(as_text)?,
            Event::Blocked,
        ),
        n if n.starts_with("user_send_") => (
            body.pointer("/sender/id").and_then(as_text)?,
            Event::Unsupported,
        ),
        _ => return None,
    };
    let key = body
        .pointer("/message/msg_id")
        .and_then(as_text)
        .unwrap_or_else(|| format!("{name}.{user}.{ts}"));
    Some((
        key,
        Inbound {
            platform: Platform::Zalo,
            account: crate::domain::AccountId::of_platform(Platform::Zalo),
            sender: Sender {
                user_id: user.clone(),
                private_chat_id: user.clone(),
                display_name: String::new(),
                language_code: None,
            },
            chat: Chat {
                id: user,
                kind: ChatKind::Private,
            },
            event,
        },
    ))
}

/// The event in a webhook body with its retry key, as a list (a Zalo webhook carries one).
pub fn to_inbounds(body: &Value) -> Vec<(String, Inbound)> {
    to_inbound(body).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(first: &str, body: &str, ts: &str, secret: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!("{first}{body}{ts}{secret}").as_bytes());
        format!("mac={}", hex::encode(h.finalize()))
    }

    #[test]
    fn both_mac_forms_are_accepted_and_others_refused() {
        let body = r#"{"event_name":"user_send_text","timestamp":"1600000000000","sender":{"id":"u"},"message":{"text":"hi","msg_id":"m"}}"#;
        let ok = |h: &str| signature_ok(Some(h.as_bytes()), body.as_bytes(), "APP", "OA", "SEC");
        assert!(ok(&mac("APP", body, "1600000000000", "SEC")));
        assert!(ok(&mac("OA", body, "1600000000000", "SEC")));
        assert!(!ok(&mac("APP", body, "1600000000001", "SEC")));
        assert!(!ok(&mac("APP", body, "1600000000000", "other")));
        assert!(!ok("mac="));
        assert!(!signature_ok(None, body.as_bytes(), "APP", "OA", "SEC"));
    }

    #[test]
    fn events_become_inbounds() {
        let v = serde_json::json!({"event_name":"user_send_text","timestamp":"1","sender":{"id":"u1"},
            "message":{"text":"/start u_794","msg_id":"m1"}});
        let (key, inbound) = to_inbound(&v).expect("an event");
        assert_eq!(key, "m1");
        assert_eq!(
            inbound.event,
            Event::Command {
                name: "start".into(),
                args: "u_794".into()
            }
        );
        let v = serde_json::json!({"event_name":"unfollow","timestamp":"2","oa_id":"OA","follower":{"id":"u1"}});
        assert_eq!(to_inbound(&v).map(|(_, i)| i.event), Some(Event::Blocked));
        let v = serde_json::json!({"event_name":"user_seen_message","timestamp":"3","sender":{"id":"u1"}});
        assert!(to_inbound(&v).is_none());
        let v = serde_json::json!({"event_name":"user_send_image","timestamp":"4","sender":{"id":"u1"},
            "message":{"msg_id":"m2","text":"Cài Bluezone","attachments":[{"type":"image",
                "payload":{"thumbnail":"https://z.example/t.jpg","url":"https://z.example/p.jpg"}}]}});
        assert_eq!(
            to_inbound(&v).map(|(_, i)| i.event),
            Some(Event::Photo {
                photo: PhotoRef::Url {
                    url: "https://z.example/p.jpg".into()
                },
                caption: "Cài Bluezone".into()
            })
        );
        let v = serde_json::json!({"event_name":"user_send_image","timestamp":"5","sender":{"id":"u1"},
            "message":{"msg_id":"m3","attachments":[{"type":"image","payload":{"url":"file:///etc/passwd"}}]}});
        assert_eq!(
            to_inbound(&v).map(|(_, i)| i.event),
            Some(Event::Unsupported)
        );
    }
}
