//! What `bluezone-bot doctor` asks Zalo of one OA: whether a working access token can be had
//! (the stored one, or a new one got with the stored refresh token exactly as `serve` does,
//! the new pair saved at once: see [`Tokens`]) and which OA it opens (`GET
//! /v2.0/oa/getoa`). Zalo has no API that tells where the OA's webhook points: it is set in
//! the app's Webhook page, so there is no webhook line.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Tokens, ZaloConfig};
use crate::doctor::{Check, CheckContext};

/// The checks of the OA configured by `config`, known as `account`.
pub(super) async fn checks(
    account: &str,
    config: &Arc<ZaloConfig>,
    ctx: &CheckContext<'_>,
) -> Vec<Check> {
    let name = format!("{account} credentials");
    let hide = [
        config.refresh_token.expose(),
        config.app_secret.expose(),
        config.oa_secret.expose(),
    ];
    let Some(store) = ctx.store else {
        // The tokens live in the database.
        return vec![Check::fail(name, "not checked: the database is not ready")];
    };
    let tokens = match Tokens::load(config.clone(), store.clone()).await {
        Ok(t) => t,
        Err(e) => return vec![Check::fail(name, format!("loading the tokens: {e:#}")).hiding(&hide)],
    };
    let access = match tokens.access_token().await {
        Ok(a) => a,
        Err(e) => {
            let why = format!("no working access token: {e}");
            return vec![Check::fail(name, why).hiding(&hide)];
        }
    };
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_default();
    let url = format!(
        "{}/v2.0/oa/getoa",
        config.api_url.as_str().trim_end_matches('/')
    );
    let sent = http.get(url).header("access_token", &access).send().await;
    let check = match sent {
        Err(e) => Check::fail(name, format!("GET getoa: network: {}", e.without_url())),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            match v["error"].as_i64() {
                Some(0) => {
                    let data = &v["data"];
                    let id = data["oa_id"]
                        .as_str()
                        .or_else(|| data["oaid"].as_str())
                        .unwrap_or_default();
                    let oa = data["name"].as_str().unwrap_or_default();
                    if id == config.oa_id {
                        Check::ok(name, format!("OA {oa} ({id})"))
                    } else {
                        Check::fail(
                            name,
                            format!(
                                "the token opens OA {id} ({oa}), but ZALO_OA_ID is {}",
                                config.oa_id
                            ),
                        )
                    }
                }
                Some(code) => {
                    if matches!(code, -216 | -220) {
                        // As a send would: the next use refreshes it.
                        tokens.refused(&access).await;
                    }
                    let message = v["message"].as_str().unwrap_or("");
                    Check::fail(
                        name,
                        format!("Zalo refused the access token (error {code}: {message})"),
                    )
                }
                None => Check::fail(name, format!("GET getoa: HTTP {status}, no Zalo answer")),
            }
        }
    };
    vec![check.hiding(&[&access, hide[0], hide[1], hide[2]])]
}
