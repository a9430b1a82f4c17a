//! Messenger webhooks: the verification handshake, the signature check and the translation of
//! `messaging` entries into neutral events.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::Platform;
use crate::platform::choices::text_event;
use crate::platform::{Chat, ChatKind, Event, Inbound, PhotoRef, Sender};

/// Answers the GET handshake: the challenge when `mode` is `subscribe` and `token` matches
/// ours (compared in constant time), `None` otherwise.
pub fn verify_handshake(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    ours: &str,
) -> Option<String> {
    let (Some("subscribe"), Some(token), Some(challenge)) = (mode, token, challenge) else {
        return None;
    };
    bool::from(token.as_bytes().ct_eq(ours.as_bytes())).then(|| challenge.to_string())
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of the raw `body` with the app
/// secret. The comparison is constant time.
pub fn signature_ok(header: Option<&[u8]>, body: &[u8], app_secret: &str) -> bool {
    let Some(given) = header
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The address of the first picture attached to a message, if any.
fn image_url(msg: &Value) -> Option<&str> {
    msg.get("attachments")
        .and_then(Value::as_array)?
        .iter()
        .filter(|a| a.get("type").and_then(Value::as_str) == Some("image"))
        .find_map(|a| a.pointer("/payload/url").and_then(Value::as_str))
        .filter(|u| u.starts_with("https://"))
}

/// The events in a webhook body, each with a key that identifies it across Meta's retries.
/// Echoes of the page's own messages, deliveries and reads are left out.
pub fn to_inbounds(body: &Value) -> Vec<(String, Inbound)> {
    let mut out = Vec::new();
    let entries = body.get("entry").and_then(Value::as_array);
    for m in entries
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("messaging").and_then(Value::as_array))
        .flatten()
    {
        let Some(psid) = m.pointer("/sender/id").and_then(id_text) else {
            continue;
        };
        let ts = m.get("timestamp").and_then(id_text).unwrap_or_default();
        let (key, event) = if let Some(msg) = m.get("message") {
            if msg.get("is_echo").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let mid = msg.get("mid").and_then(Value::as_str).map(str::to_string);
            let event = if let Some(payload) =
                msg.pointer("/quick_reply/payload").and_then(Value::as_str)
            {
                button(payload)
            } else if let Some(text) = msg.get("text").and_then(Value::as_str) {
                text_event(text)
            } else if let Some(url) = image_url(msg) {
                // Messenger has no captions: a picture comes alone.
                Event::Photo {
                    photo: PhotoRef::Url {
                        url: url.to_string(),
                    },
                    caption: String::new(),
                }
            } else {
                Event::Unsupported
            };
            (mid, event)
        } else if let Some(pb) = m.get("postback") {
            let mid = pb.get("mid").and_then(Value::as_str).map(str::to_string);
            let event = match pb.pointer("/referral/ref").and_then(Value::as_str) {
                Some(r) => start(r),
                None => match pb.get("payload").and_then(Value::as_str) {
                    Some(p) if p.starts_with('/') => text_event(p),
                    Some(p) => button(p),
                    None => continue,
                },
            };
            (mid, event)
        } else if let Some(r) = m.pointer("/referral/ref").and_then(Value::as_str) {
            (None, start(r))
        } else {
            continue;
        };
        let key = key.unwrap_or_else(|| format!("{psid}.{ts}"));
        out.push((
            key,
            Inbound {
                platform: Platform::Messenger,
                account: crate::domain::AccountId::of_platform(Platform::Messenger),
                sender: Sender {
                    user_id: psid.clone(),
                    private_chat_id: psid.clone(),
                    display_name: String::new(),
                    language_code: None,
                },
                chat: Chat {
                    id: psid,
                    kind: ChatKind::Private,
                },
                event,
            },
        ));
    }
    out
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn button(data: &str) -> Event {
    Event::Button {
        data: data.to_string(),
        callback_id: None,
        message_id: None,
    }
}

/// An `m.me/<page>?ref=<payload>` referral: the same as Telegram's `/start <payload>`.
fn start(payload: &str) -> Event {
    Event::Command {
        name: "start".into(),
        args: payload.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"object":"page"}"#;
        let good = sign(body, "s");
        assert!(signature_ok(Some(good.as_bytes()), body, "s"));
        assert!(!signature_ok(Some(good.as_bytes()), body, "t"));
        assert!(!signature_ok(Some(good.as_bytes()), b"{}", "s"));
        assert!(!signature_ok(None, body, "s"));
        assert!(!signature_ok(Some(b"sha256=zz"), body, "s"));
        assert!(!signature_ok(Some(&good.as_bytes()[7..]), body, "s"));
    }

    #[test]
    fn handshake_echoes_the_challenge_only_for_our_token() {
        let ok = verify_handshake(Some("subscribe"), Some("tok"), Some("42"), "tok");
        assert_eq!(ok.as_deref(), Some("42"));
        assert!(verify_handshake(Some("subscribe"), Some("bad"), Some("42"), "tok").is_none());
        assert!(verify_handshake(None, Some("tok"), Some("42"), "tok").is_none());
    }

    #[test]
    fn events_become_inbounds() {
        let body = serde_json::json!({"object":"page","entry":[{"id":"P","time":1,"messaging":[
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":5,"message":{"mid":"m1","text":"/start u_80"}},
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":6,"message":{"mid":"m2","text":"x","quick_reply":{"payload":"lang:en"}}},
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":7,"postback":{"title":"Go","payload":"GET_STARTED","referral":{"ref":"u_794","source":"SHORTLINK"}}},
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":8,"referral":{"ref":"r_abc"}},
            {"sender":{"id":"P"},"recipient":{"id":"U1"},"timestamp":9,"message":{"mid":"m3","is_echo":true,"text":"hi"}},
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":10,"read":{"watermark":1}}
        ]}]});
        let got = to_inbounds(&body);
        let events: Vec<(&str, &Event)> = got.iter().map(|(k, i)| (k.as_str(), &i.event)).collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].0, "m1");
        assert_eq!(
            events[0].1,
            &Event::Command {
                name: "start".into(),
                args: "u_80".into()
            }
        );
        assert!(matches!(events[1].1, Event::Button { data, .. } if data == "lang:en"));
        assert_eq!(
            events[2].1,
            &Event::Command {
                name: "start".into(),
                args: "u_794".into()
            }
        );
        assert_eq!(events[2].0, "U1.7");
        assert_eq!(
            events[3].1,
            &Event::Command {
                name: "start".into(),
                args: "r_abc".into()
            }
        );
        let body = serde_json::json!({"object":"page","entry":[{"id":"P","time":1,"messaging":[
            {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":9,"message":{"mid":"m9",
                "attachments":[{"type":"image","payload":{"url":"https://fb.example/p.jpg"}}]}}
        ]}]});
        let got = to_inbounds(&body);
        assert_eq!(
            got.first().map(|(_, i)| &i.event),
            Some(&Event::Photo {
                photo: PhotoRef::Url {
                    url: "https://fb.example/p.jpg".into()
                },
                caption: String::new()
            })
        );
    }
}
