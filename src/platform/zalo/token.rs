//! The Zalo access token and its rotating refresh token.
//!
//! Zalo refresh tokens are single use: spending one returns a new access token *and* a new
//! refresh token, and the old refresh token is dead. Losing the new pair locks the bot out
//! until an operator re-authorises the OA. The design keeps that from happening:
//!
//! - **The database is the source of truth.** `ZALO_REFRESH_TOKEN` is imported once; after
//!   that the stored, rotated token wins on every restart (re-importing the spent token from
//!   the environment is the classic lock-out). A *different* value in the environment means
//!   the operator re-authorised, and it replaces the stored one.
//! - **The new pair is saved in the step that learns it**: one UPDATE right after Zalo's
//!   answer, before it is used for anything, compare-and-swapped on the spent token so a stale
//!   process can never overwrite a newer pair. The window for a crash to lose a pair is that
//!   single statement.
//! - **Refresh early, keep the old access token.** The refresh happens when less than
//!   [`REFRESH_MARGIN_MS`] of the access token's life remains; the old access token stays
//!   stored and usable until then, so even a refresh lost to a crash leaves hours of working
//!   access, a logged error and time to re-authorise.
//! - **One refresher at a time**, across replicas: a lease in the row (`refreshing_until`)
//!   is taken before spending the refresh token; a process that crashes mid-refresh loses the
//!   lease after [`LEASE_MS`]. In-process callers queue on a mutex.
//! - **A save that fails is retried**, and until it succeeds the new pair is kept in memory
//!   (and used), and saved before anything else on the next call.
//! - **A token Zalo refuses (-216/-220) is marked expired** and the next send refreshes.
//!
//! What cannot be covered: Zalo rotating the pair and the answer never reaching the bot (a
//! network cut or a crash inside that one statement). The old access token then keeps the bot
//! working until it expires, every refresh attempt logs an error naming the fix, and the
//! operator sets a fresh `ZALO_REFRESH_TOKEN`, which is adopted on restart.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use super::ZaloConfig;
use crate::platform::DeliveryError;
use crate::store::Store;

/// The row name in `platform_tokens` of the single Zalo account; every OA's row is named
/// after its account id.
pub const TOKEN_NAME: &str = "zalo";
/// Refresh when the access token has less than this left (Zalo issues 25 h tokens).
pub const REFRESH_MARGIN_MS: i64 = 2 * 3600 * 1000;
/// How long a refresher holds the lease.
pub const LEASE_MS: i64 = 30_000;

/// Hands out a working access token, refreshing it when needed.
#[derive(Clone)]
pub struct Tokens {
    config: Arc<ZaloConfig>,
    store: Store,
    http: reqwest::Client,
    /// Serialises this process's callers; also holds a new pair whose save failed, to be
    /// saved (and used) before anything else.
    refreshing: Arc<Mutex<Option<NewPair>>>,
}

/// A pair Zalo issued in exchange for `spent`.
#[derive(Debug, Clone)]
struct NewPair {
    spent: String,
    access: String,
    expires_at: i64,
    refresh: String,
}

impl Tokens {
    /// Imports the operator's refresh token when the database has none (or a different
    /// one was configured) and returns the manager.
    pub async fn load(config: Arc<ZaloConfig>, store: Store) -> anyhow::Result<Tokens> {
        store
            .token_seed(&config.account, config.refresh_token.expose())
            .await?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        Ok(Tokens {
            config,
            store,
            http,
            refreshing: Arc::new(Mutex::new(None)),
        })
    }

    /// A valid access token, refreshed first when it is missing or about to expire.
    pub async fn access_token(&self) -> Result<String, DeliveryError> {
        let db = |e: anyhow::Error| DeliveryError::Transient(format!("database: {e}"));
        let mut unsaved = self.refreshing.lock().await;
        if let Some(pair) = unsaved.clone() {
            // A pair whose save failed earlier: it is the only copy of the new refresh token.
            if self.save(&pair).await {
                *unsaved = None;
            } else if pair.expires_at > self.store.now() {
                return Ok(pair.access);
            }
        }
        for _ in 0..50 {
            let Some(row) = self.store.token(&self.config.account).await.map_err(db)? else {
                return Err(DeliveryError::Transient("no Zalo token stored".into()));
            };
            let now = self.store.now();
            let usable = row
                .access_token
                .clone()
                .filter(|_| row.access_expires_at > now);
            if let Some(access) = &usable
                && row.access_expires_at - REFRESH_MARGIN_MS > now
            {
                return Ok(access.clone());
            }
            if !self
                .store
                .token_lease(&self.config.account, now + LEASE_MS, &row.refresh_token)
                .await
                .map_err(db)?
            {
                // Another replica is refreshing (or just did): use the old token while it
                // lasts, or read the new pair.
                if let Some(access) = usable {
                    return Ok(access);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            match self.refresh(&row.refresh_token).await {
                Ok((access, refresh, expires_in_ms)) => {
                    // Saved before anything else happens with it (see the module docs).
                    let pair = NewPair {
                        spent: row.refresh_token.clone(),
                        access,
                        expires_at: now + expires_in_ms,
                        refresh,
                    };
                    if !self.save(&pair).await {
                        *unsaved = Some(pair.clone());
                    }
                    return Ok(pair.access);
                }
                Err(e) => {
                    let _ = self.store.token_release(&self.config.account).await;
                    tracing::error!(error = %e, "refreshing the Zalo access token failed (re-authorise the OA and set a new ZALO_REFRESH_TOKEN if this persists)");
                    return match usable {
                        Some(access) => Ok(access),
                        None => Err(e),
                    };
                }
            }
        }
        Err(DeliveryError::Transient(
            "waited too long for a Zalo token refresh".into(),
        ))
    }

    /// Saves a new pair, retrying a few times: until it is saved it exists only in memory.
    async fn save(&self, pair: &NewPair) -> bool {
        for attempt in 0..5u32 {
            match self
                .store
                .token_rotate(
                    &self.config.account,
                    &pair.spent,
                    &pair.access,
                    pair.expires_at,
                    &pair.refresh,
                )
                .await
            {
                Ok(true) => {
                    tracing::info!("Zalo access token refreshed and saved");
                    return true;
                }
                Ok(false) => {
                    tracing::error!(
                        "Zalo tokens changed during a refresh; keeping the stored pair"
                    );
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = ?e, attempt, "saving the new Zalo tokens failed; retrying");
                    let wait = crate::backoff::Backoff {
                        base: Duration::from_millis(200),
                        cap: Duration::from_secs(1),
                        jitter: false,
                    };
                    tokio::time::sleep(wait.delay(attempt + 1)).await;
                }
            }
        }
        false
    }

    /// Marks `access` as refused by Zalo, so the next call refreshes.
    pub async fn refused(&self, access: &str) {
        if let Err(e) = self.store.token_expire_access(&self.config.account, access).await {
            tracing::error!(error = ?e, "marking the Zalo token expired failed");
        }
    }

    /// Spends `refresh_token`: (access token, new refresh token, lifetime in ms).
    async fn refresh(&self, refresh_token: &str) -> Result<(String, String, i64), DeliveryError> {
        let url = format!(
            "{}/v4/oa/access_token",
            self.config.oauth_url.as_str().trim_end_matches('/')
        );
        let resp = self
            .http
            .post(url)
            .header("secret_key", self.config.app_secret.expose())
            .form(&[
                ("app_id", self.config.app_id.as_str()),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Transient(format!("Zalo OAuth network: {}", e.without_url()))
            })?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let access = v.get("access_token").and_then(Value::as_str);
        let refresh = v.get("refresh_token").and_then(Value::as_str);
        // `expires_in` is a string ("90000"), sometimes a number.
        let expires_s = match v.get("expires_in") {
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        match (access, refresh) {
            (Some(a), Some(r)) if !a.is_empty() && !r.is_empty() => Ok((
                a.to_string(),
                r.to_string(),
                expires_s.unwrap_or(90_000).max(60) * 1000,
            )),
            _ => Err(DeliveryError::Transient(format!(
                "Zalo OAuth refused the refresh (HTTP {status}, error {}: {})",
                v.get("error").map(Value::to_string).unwrap_or_default(),
                v.get("error_description")
                    .or_else(|| v.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ))),
        }
    }

    /// Refreshes ahead of expiry every `every` until `shutdown`, so a quiet bot's refresh
    /// token does not run out.
    pub async fn keep_fresh(self, every: Duration, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            if let Err(e) = self.access_token().await {
                tracing::warn!(error = %e, "Zalo token check failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
