//! Bot API failures a test can ask for, answered exactly as Telegram answers them.

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::records::Outcome;

/// A Bot API failure to answer instead of success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A Bot API error exactly as Telegram sends it.
    Api {
        /// HTTP status and `error_code` (400, 403, 429, ...).
        code: u16,
        /// Telegram's `description` (teloxide matches it exactly).
        description: String,
        /// `parameters.retry_after`.
        retry_after: Option<u32>,
        /// `parameters.migrate_to_chat_id`.
        migrate_to_chat_id: Option<i64>,
    },
    /// Headers are sent, then the connection is cut: the client sees a network error.
    DropConnection,
    /// `502` with a JSON body. teloxide waits 10 s before reading any 5xx answer: use sparingly.
    BadGateway,
}

impl Failure {
    fn api(code: u16, description: &str) -> Failure {
        Failure::Api {
            code,
            description: description.into(),
            retry_after: None,
            migrate_to_chat_id: None,
        }
    }

    /// 403 "Forbidden: bot was blocked by the user".
    pub fn blocked() -> Failure {
        Failure::api(403, "Forbidden: bot was blocked by the user")
    }

    /// 403 "Forbidden: user is deactivated".
    pub fn user_deactivated() -> Failure {
        Failure::api(403, "Forbidden: user is deactivated")
    }

    /// 403 "Forbidden: bot was kicked from the group chat".
    pub fn kicked_from_group() -> Failure {
        Failure::api(403, "Forbidden: bot was kicked from the group chat")
    }

    /// 400 "Bad Request: chat not found".
    pub fn chat_not_found() -> Failure {
        Failure::api(400, "Bad Request: chat not found")
    }

    /// 400 with any description.
    pub fn bad_request(description: &str) -> Failure {
        Failure::api(400, description)
    }

    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after`.
    pub fn retry_after(seconds: u32) -> Failure {
        Failure::Api {
            code: 429,
            description: format!("Too Many Requests: retry after {seconds}"),
            retry_after: Some(seconds),
            migrate_to_chat_id: None,
        }
    }

    /// 400 "Bad Request: group chat was upgraded to a supergroup chat" with
    /// `parameters.migrate_to_chat_id`.
    pub fn migrated(to: i64) -> Failure {
        Failure::Api {
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
            retry_after: None,
            migrate_to_chat_id: Some(to),
        }
    }
}

pub(super) fn api_error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

pub(super) fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

pub(super) fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the fake"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::OK.into_response())
}

pub(super) fn failure_response(f: &Failure) -> (Response, Outcome) {
    match f {
        Failure::Api {
            code,
            description,
            retry_after,
            migrate_to_chat_id,
        } => {
            let mut params = serde_json::Map::new();
            if let Some(s) = retry_after {
                params.insert("retry_after".into(), json!(s));
            }
            if let Some(to) = migrate_to_chat_id {
                params.insert("migrate_to_chat_id".into(), json!(to));
            }
            let params = (!params.is_empty()).then_some(Value::Object(params));
            (
                api_error(*code, description, params),
                Outcome::Error {
                    code: *code,
                    description: description.clone(),
                },
            )
        }
        Failure::DropConnection => (dropped(), Outcome::Dropped),
        Failure::BadGateway => (
            api_error(502, "Bad Gateway", None),
            Outcome::Error {
                code: 502,
                description: "Bad Gateway".into(),
            },
        ),
    }
}

/// Takes one use of a failure; `true` when it applies to this call.
pub(super) fn take_failure(slot: &mut Option<&mut (Failure, Option<u32>)>) -> Option<Failure> {
    let (failure, times) = slot.as_mut()?;
    match times {
        None => Some(failure.clone()),
        Some(0) => None,
        Some(n) => {
            *n -= 1;
            Some(failure.clone())
        }
    }
}
