//! A fake Zalo OpenAPI and OAuth server: customer-service messages, image uploads, user
//! details and the single-use rotating refresh token, answering like the real one. With a
//! clock set ([`FakePlatform::set_now`]) it keeps Zalo's windows: consultation messages are
//! free for 48 hours after the user's last interaction, billed (counted) until 7 days, then
//! refused with -230.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fake_platform::{FakePlatform, FakeState, Sent, Shared, Window, serve, take_error};

/// Consultation messages are free for 48 hours after the user's last interaction.
pub const FREE_MS: i64 = 48 * 3600 * 1000;
/// After the free window they are billed until 7 days after it, then refused (-230).
pub const BILLED_UNTIL_MS: i64 = 7 * 24 * 3600 * 1000;

/// The fake Zalo: `/v3.0/oa/message/cs` and `/v4/oa/access_token` on one server. Refresh
/// tokens are single use and rotate; only the newest access token works.
pub async fn fake_zalo() -> FakePlatform {
    async fn send(
        State(st): State<Shared>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> Response {
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        let token = headers
            .get("access_token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if token.is_empty() || token != s.access {
            s.attempts += 1;
            return axum::Json(json!({"error": -216, "message": "Access token is invalid"}))
                .into_response();
        }
        if let Some((status, body)) = take_error(&mut s) {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (code, axum::Json(body)).into_response();
        }
        let to = body["recipient"]["user_id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        // Consultation messages: free for 48 hours after the user's last interaction,
        // billed until 7 days, refused after.
        match s.window(&to, FREE_MS, BILLED_UNTIL_MS) {
            Window::Free => {}
            Window::Billed => s.billed += 1,
            Window::Refused => {
                s.refused_outside_window += 1;
                return axum::Json(json!({"error": -230,
                    "message": "User has not interacted with the OA in the past 7 days"}))
                .into_response();
            }
        }
        s.sent.push(Sent {
            to: to.clone(),
            message: body["message"].clone(),
        });
        let id = format!("z_{}", s.sent.len());
        axum::Json(
            json!({"error": 0, "message": "Success", "data": {"message_id": id, "user_id": to}}),
        )
        .into_response()
    }
    async fn refresh(
        State(st): State<Shared>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        let secret_ok =
            headers.get("secret_key").and_then(|v| v.to_str().ok()) == Some(ZALO_APP_SECRET);
        let given = form.get("refresh_token").cloned().unwrap_or_default();
        if !secret_ok
            || form.get("app_id").map(String::as_str) != Some(ZALO_APP_ID)
            || form.get("grant_type").map(String::as_str) != Some("refresh_token")
            || given != s.refresh
        {
            s.refused_refreshes += 1;
            return axum::Json(
                json!({"error": -14014, "error_name": "Invalid refresh token",
                "error_description": "Refresh token is invalid"}),
            )
            .into_response();
        }
        let n = s.spent.len() + 1;
        s.spent.push(given);
        s.access = format!("AT{n}");
        s.refresh = format!("RT{n}");
        axum::Json(
            json!({"access_token": s.access, "refresh_token": s.refresh, "expires_in": "90000"}),
        )
        .into_response()
    }
    let state: Shared = Arc::new(Mutex::new(FakeState {
        refresh: "RT0".into(),
        ..FakeState::default()
    }));
    let router = Router::new()
        .route("/v3.0/oa/message/cs", post(send))
        .route(
            "/v2.0/oa/upload/image",
            post(
                |State(st): State<Shared>,
                 headers: HeaderMap,
                 mut form: axum::extract::Multipart| async move {
                    let access = st.lock().unwrap_or_else(|e| e.into_inner()).access.clone();
                    if headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(&access) {
                        return axum::Json(json!({"error": -216, "message": "invalid token"}));
                    }
                    let mut size = 0;
                    while let Ok(Some(field)) = form.next_field().await {
                        if field.name() == Some("file") {
                            size = field.bytes().await.map(|b| b.len()).unwrap_or(0);
                        }
                    }
                    axum::Json(json!({"error": 0, "message": "Success",
                        "data": {"attachment_id": format!("img-{size}")}}))
                },
            ),
        )
        .route(
            "/v3.0/oa/user/detail",
            axum::routing::get(
                |State(st): State<Shared>,
                 headers: HeaderMap,
                 Query(q): Query<HashMap<String, String>>| async move {
                    let access = st.lock().unwrap_or_else(|e| e.into_inner()).access.clone();
                    if headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(&access) {
                        return axum::Json(json!({"error": -216, "message": "invalid token"}));
                    }
                    let data: Value = q
                        .get("data")
                        .and_then(|d| serde_json::from_str(d).ok())
                        .unwrap_or(Value::Null);
                    let user = data["user_id"].as_str().unwrap_or("").to_string();
                    let given = st
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .names
                        .get(&user)
                        .cloned();
                    let name = given.unwrap_or_else(|| format!("Zalo {user}"));
                    axum::Json(json!({"error": 0, "message": "Success",
                        "data": {"user_id": user, "display_name": name}}))
                },
            ),
        )
        .route(
            // The OA's own profile (`GET /v2.0/oa/getoa`, access token in the header).
            "/v2.0/oa/getoa",
            axum::routing::get(|State(st): State<Shared>, headers: HeaderMap| async move {
                let access = st.lock().unwrap_or_else(|e| e.into_inner()).access.clone();
                if access.is_empty()
                    || headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(&access)
                {
                    return axum::Json(
                        json!({"error": -216, "message": "Access token is invalid"}),
                    );
                }
                axum::Json(json!({"error": 0, "message": "Success",
                    "data": {"oa_id": ZALO_OA_ID, "name": "Bluezone OA", "is_verified": true}}))
            }),
        )
        .route("/v4/oa/access_token", post(refresh))
        .with_state(state.clone());
    FakePlatform {
        url: serve(router).await,
        state,
    }
}

/// The app id the OAuth refresh accepts (and webhooks carry).
pub const ZALO_APP_ID: &str = "1234567890";
/// The Official Account id.
pub const ZALO_OA_ID: &str = "987654321";
/// The OA secret key webhooks are signed with.
pub const ZALO_OA_SECRET: &str = "oa-secret-key";
/// The app secret the OAuth refresh accepts (`secret_key` header).
pub const ZALO_APP_SECRET: &str = "app-secret-key";

/// The Zalo signature header for `body` with `first` (app id or OA id) first.
pub fn zalo_signature(first: &str, body: &[u8], timestamp: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(first.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    format!("mac={}", hex::encode(h.finalize()))
}
