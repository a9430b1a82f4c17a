//! Updates a test injects for getUpdates (or posts to the webhook): texts, commands,
//! photos, button presses, blocks and group membership.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::methods::bot_user;
use super::records::TgUser;
use super::server::{FakeTelegram, now_unix};

impl FakeTelegram {
    // ---- updates ----------------------------------------------------------------------

    /// Queues an update for getUpdates. The `update_id` is assigned when missing; returns it.
    pub fn inject(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => {
                    inner.next_update_id = inner.next_update_id.max(id + 1);
                    id
                }
                None => {
                    let id = inner.next_update_id;
                    inner.next_update_id += 1;
                    update["update_id"] = json!(id);
                    id
                }
            };
            inner.updates.push((id, update));
            id
        };
        self.shared.updates_ready.notify_waiters();
        id
    }

    fn next_message_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        let id = inner.next_message_id;
        inner.next_message_id += 1;
        id
    }

    fn next_update_id(&self) -> i64 {
        let mut inner = self.shared.lock();
        let id = inner.next_update_id;
        inner.next_update_id += 1;
        id
    }

    fn text_message(&self, from: &TgUser, chat: Value, text: &str) -> Value {
        let mut m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": chat,
            "from": from.json(),
            "text": text,
        });
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .map(|c| c.encode_utf16().count())
                .unwrap_or(1);
            m["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        m
    }

    /// An update (with a fresh update_id) for a private text message; not queued. Use it for
    /// webhook posts, or pass it to [`FakeTelegram::inject`].
    pub fn text_update(&self, from: &TgUser, text: &str) -> Value {
        let message = self.text_message(from, from.private_chat(), text);
        json!({"update_id": self.next_update_id(), "message": message})
    }

    /// Queues a private text message from `from`; returns the update id.
    pub fn send_text(&self, from: &TgUser, text: &str) -> i64 {
        let u = self.text_update(from, text);
        self.inject(u)
    }

    /// Queues a command (`/start u_80`); same as [`FakeTelegram::send_text`] with a
    /// `bot_command` entity.
    pub fn send_command(&self, from: &TgUser, command: &str) -> i64 {
        self.send_text(from, command)
    }

    /// Queues a photo with a caption in `from`'s private chat; the bot may then send it on by
    /// the returned file id. Returns `(update id, file id)`.
    pub fn send_photo(&self, from: &TgUser, caption: &str) -> (i64, String) {
        let file_id = format!("user-photo-{}-{}", from.id, self.next_message_id());
        self.shared.lock().known_files.insert(file_id.clone());
        let m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": from.private_chat(),
            "from": from.json(),
            "photo": [
                {"file_id": format!("{file_id}-thumb"), "file_unique_id": "t",
                 "width": 90, "height": 90},
                {"file_id": file_id, "file_unique_id": "o", "width": 1280, "height": 960}
            ],
            "caption": caption
        });
        (self.inject(json!({"message": m})), file_id)
    }

    /// Queues a sticker in the private chat.
    pub fn send_sticker(&self, from: &TgUser) -> i64 {
        let m = json!({
            "message_id": self.next_message_id(),
            "date": now_unix(),
            "chat": from.private_chat(),
            "from": from.json(),
            "sticker": {
                "file_id": "sticker-file", "file_unique_id": "sticker-u",
                "type": "regular", "width": 512, "height": 512,
                "is_animated": false, "is_video": false
            }
        });
        self.inject(json!({"message": m}))
    }

    /// An update for a button press on the bot's message `message_id` in `from`'s private
    /// chat; returns `(update, callback_query_id)`. Not queued.
    pub fn button_update(&self, from: &TgUser, message_id: i64, data: &str) -> (Value, String) {
        let cb = {
            let mut inner = self.shared.lock();
            let id = inner.next_callback_id;
            inner.next_callback_id += 1;
            let cb = format!("cq{id}");
            inner.callbacks.insert(cb.clone(), Instant::now());
            cb
        };
        let u = json!({
            "update_id": self.next_update_id(),
            "callback_query": {
                "id": cb,
                "from": from.json(),
                "chat_instance": format!("ci{}", from.id),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": now_unix(),
                    "chat": from.private_chat(),
                    "from": self.bot_user(),
                    "text": "…"
                }
            }
        });
        (u, cb)
    }

    /// Makes a callback query look `age` old (its answer is refused after 15 s).
    pub fn age_callback(&self, callback_id: &str, age: Duration) {
        let mut inner = self.shared.lock();
        if let Some(at) = Instant::now().checked_sub(age) {
            inner.callbacks.insert(callback_id.to_string(), at);
        }
    }

    /// Queues a button press; returns the callback query id (to match answerCallbackQuery).
    pub fn press_button(&self, from: &TgUser, message_id: i64, data: &str) -> String {
        let (u, cb) = self.button_update(from, message_id, data);
        self.inject(u);
        cb
    }

    fn member_update(&self, from: &TgUser, chat: Value, old: &str, new: &str) -> Value {
        let member = |status: &str| {
            let mut m = json!({"user": self.bot_user(), "status": status});
            if status == "kicked" {
                m["until_date"] = json!(0);
            }
            if status == "restricted" {
                m["until_date"] = json!(0);
            }
            m
        };
        json!({"my_chat_member": {
            "chat": chat,
            "from": from.json(),
            "date": now_unix(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }})
    }

    /// Queues `my_chat_member`: `from` blocked the bot (status kicked).
    pub fn block(&self, from: &TgUser) -> i64 {
        let u = self.member_update(from, from.private_chat(), "member", "kicked");
        self.inject(u)
    }

    /// Queues `my_chat_member`: `from` unblocked the bot (status member).
    pub fn unblock(&self, from: &TgUser) -> i64 {
        let u = self.member_update(from, from.private_chat(), "kicked", "member");
        self.inject(u)
    }

    fn group_chat(group_id: i64, title: &str) -> Value {
        json!({"id": group_id, "type": "group", "title": title})
    }

    /// Queues a text message from `from` in a group (use a negative `group_id`).
    pub fn group_text(&self, from: &TgUser, group_id: i64, title: &str, text: &str) -> i64 {
        let m = self.text_message(from, FakeTelegram::group_chat(group_id, title), text);
        self.inject(json!({"message": m}))
    }

    /// Queues `my_chat_member`: `from` added the bot to a group.
    pub fn add_to_group(&self, from: &TgUser, group_id: i64, title: &str) -> i64 {
        let u = self.member_update(
            from,
            FakeTelegram::group_chat(group_id, title),
            "left",
            "member",
        );
        self.inject(u)
    }

    /// Queues `my_chat_member`: `from` removed the bot from a group.
    pub fn remove_from_group(&self, from: &TgUser, group_id: i64, title: &str) -> i64 {
        let u = self.member_update(
            from,
            FakeTelegram::group_chat(group_id, title),
            "member",
            "left",
        );
        self.inject(u)
    }

    /// Updates still waiting with an id at or above the last offset the bot confirmed.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    fn bot_user(&self) -> Value {
        bot_user(&self.shared)
    }
}
