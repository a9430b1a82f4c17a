//! A fake Messenger Graph API: the Send API (JSON and uploads), user profiles, the
//! Messenger profile, and the Page behind the token with its subscribed apps, recording what the bot sent and answering like the real one (scripted
//! errors included). With a clock set ([`FakePlatform::set_now`]) it refuses messages outside
//! the 24-hour window (error 10, subcode 2018278).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fake_platform::{FakePlatform, Sent, Shared, Window, serve, take_error};

/// The standard messaging window: 24 hours after the person's last message.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

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
        // The standard messaging window: 24 hours after the person's last message. (A
        // message tag would open more; the bot uses none.)
        if body.get("tag").is_none() && s.window(&to, WINDOW_MS, WINDOW_MS) != Window::Free {
            s.refused_outside_window += 1;
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {
                    "message": "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                    "type": "OAuthException", "code": 10, "error_subcode": 2018278,
                    "fbtrace_id": "FakeTrace"}})),
            )
                .into_response();
        }
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
        // The Page behind the access token (what a token check asks).
        .route(
            "/{version}/me",
            axum::routing::get(|Query(q): Query<HashMap<String, String>>| async move {
                if let Some(refused) = check_token(&q) {
                    return refused;
                }
                axum::Json(json!({"name": "Bluezone Page", "id": MESSENGER_PAGE})).into_response()
            }),
        )
        // The apps whose webhooks get the Page's events, and for which fields.
        .route(
            "/{version}/me/subscribed_apps",
            axum::routing::get(
                |State(st): State<Shared>, Query(q): Query<HashMap<String, String>>| async move {
                    if let Some(refused) = check_token(&q) {
                        return refused;
                    }
                    let unsubscribed = st.lock().unwrap_or_else(|e| e.into_inner()).unsubscribed;
                    let data = if unsubscribed {
                        json!([])
                    } else {
                        json!([{"category": "Business", "link": "https://example.org/",
                            "name": "Bluezone Bot", "id": "5550001",
                            "subscribed_fields": ["messages", "messaging_postbacks",
                                "messaging_referrals"]}])
                    };
                    axum::Json(json!({"data": data})).into_response()
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

/// The Page access token the fake's Page checks (`/me`, `/me/subscribed_apps`).
pub const MESSENGER_PAGE_TOKEN: &str = "PAGE-TOKEN";

/// Graph API's answer to a missing or wrong access token (OAuthException 190), if it is one.
fn check_token(q: &HashMap<String, String>) -> Option<Response> {
    if q.get("access_token").map(String::as_str) == Some(MESSENGER_PAGE_TOKEN) {
        return None;
    }
    Some(
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException", "code": 190, "fbtrace_id": "FakeTrace"}})),
        )
            .into_response(),
    )
}

/// The app secret the fake expects the app to be configured with (webhook signatures).
pub const MESSENGER_SECRET: &str = "fb-app-secret";
/// The webhook verify token.
pub const MESSENGER_VERIFY: &str = "verify-me";
/// The page id webhooks come from.
pub const MESSENGER_PAGE: &str = "BluezonePage";

/// The Messenger signature header for `body`.
pub fn messenger_signature(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
