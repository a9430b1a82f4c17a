//! The public HTTP server (`/healthz` and the accounts' webhook routes) and, on its own
//! listener, the Prometheus `/metrics` ([`metrics_router`]): counters and queue depths are
//! no business of whoever can reach the webhooks.
//!
//! The webhook routes are each account's own (`src/platform/<name>/routes.rs`): each checks
//! its platform's proof of origin before reading the body as anything and hands its events
//! to the [`Inbox`](crate::platform::inbox::Inbox), which handles a retried event once.

use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use crate::domain::Platform;
use crate::metrics;

/// The public router: `/healthz`, and each account's webhook routes under
/// `/webhooks/<platform>/<account id>` (`mounts` names each account's platform and id with
/// its routes). The single account of a platform (its id is the platform's name) is also
/// served at `/webhooks/<platform>`, its address before accounts files.
pub fn router(mounts: Vec<(Platform, String, Router)>) -> Router {
    let mut router = Router::new().route("/healthz", get(|| async { "ok" }));
    for (platform, account, routes) in mounts {
        if account == platform.as_str() {
            router = router.nest(&format!("/webhooks/{platform}"), routes.clone());
        }
        router = router.nest(&format!("/webhooks/{platform}/{account}"), routes);
    }
    router
}

/// What the metrics listener needs.
struct MetricsState {
    store: crate::store::Store,
    /// The bearer token a scrape must show, when one is configured.
    token: Option<crate::config::Secret>,
}

/// The router of the metrics listener: `GET /metrics` (behind `Authorization: Bearer <token>`
/// when `token` is set) and `/healthz`; nothing else.
pub fn metrics_router(store: crate::store::Store, token: Option<crate::config::Secret>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_route))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(MetricsState { store, token }))
}

async fn metrics_route(AxState(s): AxState<Arc<MetricsState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
            )
                .into_response();
        }
    }
    let depth = s.store.outbox_depth().await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "reading the outbox depth failed");
        Vec::new()
    });
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&depth),
    )
        .into_response()
}
