//! What `bluezone-bot doctor` asks the Graph API of one Page: whether the Page access token
//! works (`GET /me`, the Page it belongs to) and whether the Page sends its events to an
//! app's webhook (`GET /me/subscribed_apps`, with `messages` among the fields). The callback
//! address itself is set in the app dashboard and cannot be read with a Page token.

use std::time::Duration;

use serde_json::Value;

use super::MessengerConfig;
use crate::doctor::Check;

/// The checks of the Page configured by `config`, known as `account`.
pub(super) async fn checks(account: &str, config: &MessengerConfig) -> Vec<Check> {
    let credentials = format!("{account} credentials");
    let webhook = format!("{account} webhook");
    let token = config.page_access_token.expose();
    let hide = [token, config.app_secret.expose(), config.verify_token.expose()];
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_default();
    let base = format!(
        "{}/{}",
        config.graph_url.as_str().trim_end_matches('/'),
        config.api_version
    );
    let get = |path: &str, query: &'static [(&'static str, &'static str)]| {
        http.get(format!("{base}/{path}"))
            .query(&[("access_token", token)])
            .query(query)
            .send()
    };
    let page = match graph(get("me", &[("fields", "id,name")]).await).await {
        Ok(page) => page,
        Err(why) => {
            return vec![
                Check::fail(credentials, format!("GET /me: {why}")).hiding(&hide),
                Check::fail(webhook, "not checked: the Page access token does not work"),
            ];
        }
    };
    let id = page["id"].as_str().unwrap_or_default();
    let name = page["name"].as_str().unwrap_or_default();
    // MESSENGER_PAGE_ID may be the Page's username, which /me does not give back.
    let numeric = config.page_id.chars().all(|c| c.is_ascii_digit());
    let mut out = vec![if numeric && id != config.page_id {
        Check::fail(
            credentials,
            format!(
                "the token is for Page {id} ({name}), but MESSENGER_PAGE_ID is {}",
                config.page_id
            ),
        )
    } else {
        Check::ok(credentials, format!("Page {name} ({id})"))
    }];
    let apps = match graph(get("me/subscribed_apps", &[]).await).await {
        Ok(apps) => apps,
        Err(why) => {
            out.push(Check::fail(webhook, format!("GET /me/subscribed_apps: {why}")).hiding(&hide));
            return out;
        }
    };
    let apps = apps["data"].as_array().cloned().unwrap_or_default();
    let listening: Vec<String> = apps
        .iter()
        .filter(|app| {
            app["subscribed_fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f.as_str() == Some("messages")))
        })
        .map(|app| app["name"].as_str().unwrap_or("an app").to_string())
        .collect();
    out.push(if listening.is_empty() {
        Check::fail(
            webhook,
            "the Page sends its messages to no app's webhook: subscribe it in the app's \
             Messenger → Webhooks settings (fields messages, messaging_postbacks, \
             messaging_referrals)",
        )
    } else {
        Check::ok(
            webhook,
            format!("the Page sends messages to {}", listening.join(", ")),
        )
    });
    out
}

/// A Graph API answer's JSON, or why it is not one: the error Graph gave (code and message)
/// or the network failure (without the address, which carries the token).
async fn graph(sent: reqwest::Result<reqwest::Response>) -> Result<Value, String> {
    let resp = sent.map_err(|e| format!("network: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    match value.get("error") {
        None if (200..300).contains(&status) => Ok(value),
        Some(error) => Err(format!(
            "Graph API error {}: {}",
            error["code"].as_i64().unwrap_or(0),
            error["message"].as_str().unwrap_or("")
        )),
        None => Err(format!("HTTP {status}")),
    }
}
