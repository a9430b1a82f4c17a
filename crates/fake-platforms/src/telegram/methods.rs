//! The Bot API methods: reading a request, checking failures and limits, answering in
//! Telegram's shapes, and the long poll of getUpdates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};

use super::failures::{Failure, api_error, failure_response, ok, take_failure};
use super::limits::{STAR_TENTHS_PER_PAID_MESSAGE, Verdict, rate_check};
use super::records::{Call, Outcome, Upload, is_send_method, record};
use super::server::{Inner, Shared, now_unix};

/// How long after a button press Telegram accepts its answer.
pub const CALLBACK_ANSWER_DEADLINE: Duration = Duration::from_secs(15);

pub(super) fn bot_user(shared: &Shared) -> Value {
    json!({
        "id": shared.bot_id,
        "is_bot": true,
        "first_name": "Bluezone Test",
        "username": shared.username,
    })
}

/// `SendMessage` and `sendmessage` both become `sendMessage`.
pub(super) fn canonical(method: &str) -> String {
    const KNOWN: &[&str] = &[
        "getMe",
        "getUpdates",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "answerCallbackQuery",
        "setMyCommands",
        "deleteWebhook",
        "setWebhook",
        "getChatMember",
        "getChat",
        "getWebhookInfo",
        "deleteMyCommands",
        "getMyCommands",
        "sendChatAction",
        "deleteMessage",
        "editMessageReplyMarkup",
        "leaveChat",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .map(|k| k.to_string())
        .unwrap_or_else(|| {
            let mut chars = method.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        })
}

/// Reads a JSON, urlencoded or multipart body into parameters plus the uploaded file.
pub(super) async fn read_params(req: Request) -> Result<(Value, Option<Upload>), String> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| e.to_string())?;
        let mut params = serde_json::Map::new();
        let mut upload = None;
        while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            if file_name.is_some() {
                params.insert(name.clone(), json!(format!("attach://{name}")));
                upload = Some(Upload {
                    field: name,
                    file_name,
                    size: bytes.len(),
                });
            } else {
                let text = String::from_utf8_lossy(&bytes).to_string();
                let value = if text.starts_with('{') || text.starts_with('[') {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else if name == "chat_id" || name == "message_id" {
                    text.parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text))
                } else {
                    Value::String(text)
                };
                params.insert(name, value);
            }
        }
        return Ok((Value::Object(params), upload));
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((json!({}), None));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        return Ok((Value::Object(pairs), None));
    }
    serde_json::from_slice(&bytes)
        .map(|v| (v, None))
        .map_err(|e| e.to_string())
}

pub(super) fn chat_of(params: &Value) -> Option<i64> {
    match params.get("chat_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn chat_json(chat: i64) -> Value {
    if chat < 0 {
        json!({"id": chat, "type": "group", "title": format!("Group {chat}")})
    } else {
        json!({"id": chat, "type": "private", "first_name": format!("User {chat}")})
    }
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    let at = Instant::now();
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return api_error(401, "Unauthorized", None);
    }
    let method = canonical(&method);
    let (params, upload) = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return api_error(400, &format!("Bad Request: {e}"), None),
    };
    if method == "getUpdates" {
        let failure = {
            let mut inner = shared.lock();
            let mut slot = inner.method_failures.get_mut(&method);
            take_failure(&mut slot)
        };
        if let Some(f) = failure {
            let (response, outcome) = failure_response(&f);
            record(&shared, Call::bare(method, params, at, outcome));
            return response;
        }
        return get_updates(&shared, params, at).await;
    }
    let chat_id = chat_of(&params);
    let text = params
        .get("text")
        .or_else(|| params.get("caption"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let reply_markup = params.get("reply_markup").cloned().map(|m| match m {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    });
    let mut inner = shared.lock();
    let failure = {
        let by_chat = chat_id.and_then(|c| inner.chat_failures.get_mut(&c));
        let mut slot = by_chat;
        match take_failure(&mut slot) {
            Some(f) => Some(f),
            None => {
                let mut slot = inner.method_failures.get_mut(&method);
                take_failure(&mut slot)
            }
        }
    };
    let paid = params
        .get("allow_paid_broadcast")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    let verdict = match (&failure, chat_id) {
        (None, Some(c)) if is_send_method(&method) => rate_check(&mut inner, c, paid, at),
        _ => Verdict::Go { billed: false },
    };
    let (response, outcome) = if let Some(f) = failure {
        failure_response(&f)
    } else if let Verdict::Wait(retry) = verdict {
        failure_response(&Failure::retry_after(retry))
    } else {
        let (response, outcome) = answer(&shared, &mut inner, &method, &params, chat_id, &upload);
        // Only successful sends are billed.
        if paid && matches!(outcome, Outcome::Ok { .. }) {
            inner.paid_sent += 1;
            if matches!(verdict, Verdict::Go { billed: true }) {
                inner.star_tenths += STAR_TENTHS_PER_PAID_MESSAGE;
            }
        }
        (response, outcome)
    };
    let seq = inner.calls.len();
    inner.calls.push(Call {
        seq,
        method,
        chat_id,
        text,
        reply_markup,
        upload,
        params,
        at,
        outcome,
    });
    response
}

pub(super) fn answer(
    shared: &Shared,
    inner: &mut Inner,
    method: &str,
    params: &Value,
    chat_id: Option<i64>,
    upload: &Option<Upload>,
) -> (Response, Outcome) {
    let done = |v: Value| (ok(v), Outcome::Ok { message_id: None });
    let need_chat = || api_error(400, "Bad Request: chat_id is empty", None);
    let s = |k: &str| params.get(k).and_then(Value::as_str).unwrap_or_default();
    // Telegram refuses to answer a button press after about 15 s.
    if method == "answerCallbackQuery"
        && inner
            .callbacks
            .get(s("callback_query_id"))
            .is_some_and(|at| at.elapsed() > CALLBACK_ANSWER_DEADLINE)
    {
        let description =
            "Bad Request: query is too old and response timeout expired or query ID is invalid";
        return (
            api_error(400, description, None),
            Outcome::Error {
                code: 400,
                description: description.into(),
            },
        );
    }
    // A file sent by id must be one this bot has seen.
    let file = match method {
        "sendPhoto" if upload.is_none() => Some(s("photo")),
        "sendDocument" if upload.is_none() => Some(s("document")),
        _ => None,
    };
    if file.is_some_and(|f| !inner.known_files.contains(f) && !f.starts_with("https://")) {
        let description = "Bad Request: wrong file identifier/HTTP URL specified";
        return (
            api_error(400, description, None),
            Outcome::Error {
                code: 400,
                description: description.into(),
            },
        );
    }
    match method {
        "getMe" => {
            let mut me = bot_user(shared);
            me["can_join_groups"] = json!(true);
            me["can_read_all_group_messages"] = json!(false);
            me["supports_inline_queries"] = json!(false);
            me["can_connect_to_business"] = json!(false);
            me["has_main_web_app"] = json!(false);
            done(me)
        }
        "sendMessage" | "sendPhoto" | "sendDocument" => {
            let Some(chat) = chat_id else {
                return (
                    need_chat(),
                    Outcome::Error {
                        code: 400,
                        description: "Bad Request: chat_id is empty".into(),
                    },
                );
            };
            let id = inner.next_message_id;
            inner.next_message_id += 1;
            let mut m = json!({
                "message_id": id,
                "date": now_unix(),
                "chat": chat_json(chat),
                "from": bot_user(shared),
            });
            let size = upload.as_ref().map(|u| u.size).unwrap_or(0);
            match method {
                "sendMessage" => m["text"] = json!(s("text")),
                "sendPhoto" => {
                    let file_id = match upload {
                        Some(_) => format!("photo{id}"),
                        None => s("photo").to_string(),
                    };
                    inner.known_files.insert(file_id.clone());
                    m["photo"] = json!([{
                        "file_id": file_id, "file_unique_id": format!("p{id}"),
                        "width": 800, "height": 600, "file_size": size
                    }]);
                    m["caption"] = json!(s("caption"));
                }
                _ => {
                    let name = upload
                        .as_ref()
                        .and_then(|u| u.file_name.clone())
                        .unwrap_or_else(|| "file".into());
                    m["document"] = json!({
                        "file_id": format!("doc{id}"), "file_unique_id": format!("d{id}"),
                        "file_name": name, "file_size": size
                    });
                    m["caption"] = json!(s("caption"));
                }
            }
            if let Some(markup) = params.get("reply_markup") {
                let markup = match markup {
                    Value::String(t) => serde_json::from_str(t).unwrap_or(Value::Null),
                    v => v.clone(),
                };
                if markup.get("inline_keyboard").is_some() {
                    m["reply_markup"] = markup;
                }
            }
            (
                ok(m),
                Outcome::Ok {
                    message_id: Some(id),
                },
            )
        }
        "editMessageText" => {
            let Some(chat) = chat_id else {
                // Inline messages: Telegram answers `true`.
                return done(json!(true));
            };
            let id = params
                .get("message_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let m = json!({
                "message_id": id,
                "date": now_unix(),
                "edit_date": now_unix(),
                "chat": chat_json(chat),
                "from": bot_user(shared),
                "text": s("text"),
            });
            (
                ok(m),
                Outcome::Ok {
                    message_id: Some(id),
                },
            )
        }
        "getChatMember" => {
            let user = params
                .get("user_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let status = inner
                .member_status
                .get(&(chat_id.unwrap_or_default(), user))
                .cloned()
                .unwrap_or_else(|| inner.default_member_status.clone());
            done(member_json(user, &status))
        }
        "getChat" => done(chat_json(chat_id.unwrap_or_default())),
        "setWebhook" => {
            // An empty URL removes the webhook, as deleteWebhook does.
            inner.webhook = (!s("url").is_empty()).then(|| {
                let mut hook = json!({"url": s("url"), "max_connections": 40});
                if let Some(n) = params.get("max_connections").and_then(number) {
                    hook["max_connections"] = json!(n);
                }
                if let Some(list) = params.get("allowed_updates") {
                    // A JSON array, or its text in a form body.
                    hook["allowed_updates"] = match list {
                        Value::String(t) => serde_json::from_str(t).unwrap_or(Value::Null),
                        v => v.clone(),
                    };
                }
                hook
            });
            done(json!(true))
        }
        "deleteWebhook" => {
            inner.webhook = None;
            done(json!(true))
        }
        "getWebhookInfo" => {
            let pending = inner.updates.len();
            let mut info = json!({"url": "", "has_custom_certificate": false,
                "pending_update_count": pending});
            if let Some(Value::Object(hook)) = &inner.webhook {
                for (k, v) in hook {
                    info[k] = v.clone();
                }
                info["ip_address"] = json!("127.0.0.1");
            }
            done(info)
        }
        "getMyCommands" => done(json!([])),
        // answerCallbackQuery, setMyCommands, deleteMessage, ...
        _ => done(json!(true)),
    }
}

/// A number given as JSON or as form text.
fn number(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
}

pub(super) fn member_json(user: i64, status: &str) -> Value {
    let u = json!({"id": user, "is_bot": false, "first_name": format!("User {user}")});
    match status {
        "administrator" => json!({
            "user": u, "status": "administrator",
            "can_be_edited": false, "is_anonymous": false, "can_manage_chat": true,
            "can_delete_messages": true, "can_manage_video_chats": true,
            "can_restrict_members": true, "can_promote_members": false,
            "can_change_info": true, "can_invite_users": true, "can_pin_messages": true,
            "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false,
            "can_manage_topics": false
        }),
        "creator" => json!({"user": u, "status": "creator", "is_anonymous": false}),
        "kicked" => json!({"user": u, "status": "kicked", "until_date": 0}),
        "restricted" => json!({
            "user": u, "status": "restricted", "until_date": 0, "is_member": true,
            "can_send_messages": false, "can_send_audios": false, "can_send_documents": false,
            "can_send_photos": false, "can_send_videos": false, "can_send_video_notes": false,
            "can_send_voice_notes": false, "can_send_polls": false,
            "can_send_other_messages": false, "can_add_web_page_previews": false,
            "can_change_info": false, "can_invite_users": false, "can_pin_messages": false,
            "can_manage_topics": false
        }),
        other => json!({"user": u, "status": other}),
    }
}

pub(super) async fn get_updates(shared: &Arc<Shared>, params: Value, at: Instant) -> Response {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = params.get("timeout").and_then(Value::as_u64).unwrap_or(0);
    let max_hold = shared.lock().max_hold;
    let hold = Duration::from_secs(timeout).min(max_hold);
    let deadline = tokio::time::Instant::now() + hold;
    let found = loop {
        let notified = shared.updates_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let found: Vec<Value> = {
            let mut inner = shared.lock();
            if offset > 0 {
                // Like Telegram: an offset confirms every earlier update.
                inner.updates.retain(|(id, _)| *id >= offset);
            }
            inner
                .updates
                .iter()
                .filter(|(id, _)| *id >= offset)
                .take(limit)
                .map(|(_, u)| u.clone())
                .collect()
        };
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            break found;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            continue;
        }
    };
    record(
        shared,
        Call::bare(
            "getUpdates".into(),
            params,
            at,
            Outcome::Ok { message_id: None },
        ),
    );
    ok(Value::Array(found))
}
