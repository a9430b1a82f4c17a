//! Telegram updates to neutral inbound events.

use teloxide::types::{ChatMemberUpdated, Message, Update, UpdateKind, User};

use crate::domain::Platform;
use crate::platform::{Chat, ChatKind, Event, Inbound, PhotoRef, Sender};

fn sender(user: &User) -> Sender {
    let mut name = user.first_name.clone();
    if let Some(last) = &user.last_name {
        name.push(' ');
        name.push_str(last);
    }
    Sender {
        user_id: user.id.0.to_string(),
        private_chat_id: user.id.0.to_string(),
        display_name: name,
        language_code: user.language_code.clone(),
    }
}

fn chat(c: &teloxide::types::Chat) -> Chat {
    Chat {
        id: c.id.0.to_string(),
        kind: if c.is_private() {
            ChatKind::Private
        } else {
            ChatKind::Group {
                title: c.title().unwrap_or_default().to_string(),
            }
        },
    }
}

/// Splits `/cmd@bot args`. Commands addressed to another bot give `None`.
fn command(text: &str, bot_username: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (name, target) = head.split_once('@').unwrap_or((head, ""));
    if !target.is_empty() && !target.eq_ignore_ascii_case(bot_username) {
        return None;
    }
    if name.is_empty() {
        return None;
    }
    Some((name.to_lowercase(), args.trim().to_string()))
}

fn message_event(m: &Message, bot_username: &str) -> Option<Event> {
    if let Some(to) = m.migrate_to_chat_id() {
        return Some(Event::GroupMigrated {
            to_chat_id: to.0.to_string(),
        });
    }
    match m.text() {
        Some(t) if t.starts_with('/') => {
            command(t, bot_username).map(|(name, args)| Event::Command { name, args })
        }
        Some(t) => Some(Event::Text(t.to_string())),
        // The sizes come smallest first: the last is the original.
        None if m.chat.is_private() => match m.photo().and_then(|sizes| sizes.last()) {
            Some(largest) => Some(Event::Photo {
                photo: PhotoRef::TelegramFile {
                    file_id: largest.file.id.0.clone(),
                    bot: None,
                },
                caption: m.caption().unwrap_or_default().to_string(),
            }),
            None => Some(Event::Unsupported),
        },
        // Photos and service messages in groups are none of the bot's business.
        None => None,
    }
}

fn member_event(u: &ChatMemberUpdated) -> Event {
    let now = &u.new_chat_member;
    let present = now.is_present();
    match (u.chat.is_private(), present) {
        (true, true) => Event::Unblocked,
        (true, false) => Event::Blocked,
        (false, true) => Event::AddedToGroup,
        (false, false) => Event::RemovedFromGroup,
    }
}

/// Translates an update; `None` for updates the bot ignores (edits, channel posts, other
/// bots' commands, messages from bots).
pub fn to_inbound(update: &Update, bot_username: &str) -> Option<Inbound> {
    let (user, chat_, event) = match &update.kind {
        UpdateKind::Message(m) => {
            let user = m.from.as_ref()?;
            if user.is_bot {
                return None;
            }
            (user, chat(&m.chat), message_event(m, bot_username)?)
        }
        UpdateKind::CallbackQuery(q) => {
            let c = q
                .message
                .as_ref()
                .map(|m| chat(m.chat()))
                .unwrap_or_else(|| Chat {
                    id: q.from.id.0.to_string(),
                    kind: ChatKind::Private,
                });
            (
                &q.from,
                c,
                Event::Button {
                    data: q.data.clone().unwrap_or_default(),
                    callback_id: Some(q.id.0.clone()),
                    message_id: q.message.as_ref().map(|m| m.id().0.to_string()),
                },
            )
        }
        UpdateKind::MyChatMember(u) => (&u.from, chat(&u.chat), member_event(u)),
        _ => return None,
    };
    Some(
        Inbound {
            platform: Platform::Telegram,
            account: crate::domain::AccountId::of_platform(Platform::Telegram),
            sender: sender(user),
            chat: chat_,
            event,
        }
        .cleaned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_and_foreign_ones_are_ignored() {
        assert_eq!(
            command("/start u_80", "mybot"),
            Some(("start".into(), "u_80".into()))
        );
        assert_eq!(
            command("/Start@MyBot  x ", "mybot"),
            Some(("start".into(), "x".into()))
        );
        assert_eq!(command("/start@otherbot", "mybot"), None);
        assert_eq!(command("/", "mybot"), None);
    }

    fn update(json: serde_json::Value) -> Update {
        serde_json::from_str(&json.to_string()).expect("valid update")
    }

    #[test]
    fn updates_become_inbound_events() {
        let u = update(serde_json::json!({
            "update_id": 1,
            "message": {"message_id": 5, "date": 0, "chat": {"id": 42, "type": "private", "first_name": "An"},
                        "from": {"id": 42, "is_bot": false, "first_name": "An", "language_code": "en"},
                        "text": "/start u_80"}
        }));
        let i = to_inbound(&u, "bot").expect("inbound");
        assert_eq!(
            i.event,
            Event::Command {
                name: "start".into(),
                args: "u_80".into()
            }
        );
        assert_eq!(i.sender.language_code.as_deref(), Some("en"));
        let u = update(serde_json::json!({
            "update_id": 2,
            "callback_query": {"id": "cb1", "chat_instance": "x",
                "from": {"id": 42, "is_bot": false, "first_name": "An"},
                "message": {"message_id": 6, "date": 0, "chat": {"id": 42, "type": "private", "first_name": "An"}, "text": "hi"},
                "data": "inst"}
        }));
        let i = to_inbound(&u, "bot").expect("inbound");
        assert_eq!(
            i.event,
            Event::Button {
                data: "inst".into(),
                callback_id: Some("cb1".into()),
                message_id: Some("6".into())
            }
        );
        let u = update(serde_json::json!({
            "update_id": 3,
            "my_chat_member": {"chat": {"id": 42, "type": "private", "first_name": "An"},
                "from": {"id": 42, "is_bot": false, "first_name": "An"}, "date": 0,
                "old_chat_member": {"user": {"id": 7, "is_bot": true, "first_name": "B"}, "status": "member"},
                "new_chat_member": {"user": {"id": 7, "is_bot": true, "first_name": "B"}, "status": "kicked", "until_date": 0}}
        }));
        assert_eq!(to_inbound(&u, "bot").map(|i| i.event), Some(Event::Blocked));
        let u = update(serde_json::json!({
            "update_id": 4,
            "message": {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private", "first_name": "An"},
                        "from": {"id": 42, "is_bot": false, "first_name": "An"},
                        "photo": [
                            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280}
                        ],
                        "caption": "Cài Bluezone"}
        }));
        assert_eq!(
            to_inbound(&u, "bot").map(|i| i.event),
            Some(Event::Photo {
                photo: PhotoRef::TelegramFile {
                    file_id: "large".into(),
                    bot: None,
                },
                caption: "Cài Bluezone".into()
            })
        );
    }
}
