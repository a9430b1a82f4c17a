//! Messenger settings from the environment.

use anyhow::{Context, Result, bail};

use crate::config::Secret;

/// How the bot reaches one Facebook Page.
#[derive(Debug, Clone)]
pub struct MessengerConfig {
    /// The account this Page is (its choices and chats are kept under it).
    pub account: crate::domain::AccountId,
    /// The app secret: signs every webhook POST (`X-Hub-Signature-256`).
    pub app_secret: Secret,
    /// The token the bot expects in the webhook verification handshake.
    pub verify_token: Secret,
    /// The Page access token used to send.
    pub page_access_token: Secret,
    /// The Page's id or username, for `m.me` deep links.
    pub page_id: String,
    /// The Graph API base (`https://graph.facebook.com`; tests use a fake).
    pub graph_url: url::Url,
    /// The Graph API version in the path.
    pub api_version: String,
    /// Send API calls per second per Page (Meta allows about 300 for text).
    pub sends_per_second: u32,
    /// The standard messaging window: a person can be written to for this long after their
    /// last message, then not until they write again (`MESSENGER_WINDOW_HOURS`, 24 h). No
    /// message tag fits a campaign message, so none is used.
    pub window_ms: i64,
}

impl MessengerConfig {
    /// The Page's reach rules: free inside the window, unreachable outside it.
    pub fn reach_rules(&self) -> crate::reach::ReachRules {
        crate::reach::ReachRules {
            free_ms: Some(self.window_ms),
            ..crate::reach::ReachRules::ALWAYS_FREE
        }
    }
}

impl MessengerConfig {
    /// Reads `MESSENGER_*`; `None` when Messenger is not configured at all.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<MessengerConfig>> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let token = var("MESSENGER_PAGE_ACCESS_TOKEN");
        let secret = var("MESSENGER_APP_SECRET");
        let (token, secret) = match (token, secret) {
            (None, None) => return Ok(None),
            (Some(t), Some(s)) => (t, s),
            _ => bail!("Messenger needs both MESSENGER_PAGE_ACCESS_TOKEN and MESSENGER_APP_SECRET"),
        };
        let Some(verify) = var("MESSENGER_VERIFY_TOKEN") else {
            bail!(
                "MESSENGER_VERIFY_TOKEN is required with Messenger (any secret string you also enter in the app dashboard)"
            );
        };
        Ok(Some(MessengerConfig {
            account: crate::domain::AccountId::of_platform(crate::domain::Platform::Messenger),
            app_secret: Secret::new(secret),
            verify_token: Secret::new(verify),
            page_access_token: Secret::new(token),
            page_id: var("MESSENGER_PAGE_ID")
                .context("MESSENGER_PAGE_ID (the Page's id or username, for m.me links) is required with Messenger")?,
            graph_url: url::Url::parse(
                &var("MESSENGER_GRAPH_URL").unwrap_or_else(|| "https://graph.facebook.com".into()),
            )
            .context("MESSENGER_GRAPH_URL")?,
            api_version: var("MESSENGER_API_VERSION").unwrap_or_else(|| "v25.0".into()),
            sends_per_second: var("MESSENGER_SENDS_PER_SECOND")
                .map(|v| v.parse::<u32>())
                .transpose()
                .context("MESSENGER_SENDS_PER_SECOND must be a whole number")?
                .unwrap_or(300)
                .max(1),
            window_ms: var("MESSENGER_WINDOW_HOURS")
                .map(|v| v.parse::<i64>())
                .transpose()
                .context("MESSENGER_WINDOW_HOURS must be a whole number")?
                .unwrap_or(24)
                .clamp(1, 24 * 7)
                * 3600
                * 1000,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<MessengerConfig>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MessengerConfig::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn off_by_default_complete_or_refused() -> Result<()> {
        assert!(read(&[])?.is_none());
        assert!(read(&[("MESSENGER_APP_SECRET", "s")]).is_err());
        assert!(
            read(&[
                ("MESSENGER_APP_SECRET", "s"),
                ("MESSENGER_PAGE_ACCESS_TOKEN", "t")
            ])
            .is_err()
        );
        let c = read(&[
            ("MESSENGER_APP_SECRET", "app-secret"),
            ("MESSENGER_PAGE_ACCESS_TOKEN", "page-token"),
            ("MESSENGER_VERIFY_TOKEN", "verify"),
            ("MESSENGER_PAGE_ID", "BluezonePage"),
        ])?
        .expect("configured");
        assert_eq!(c.graph_url.as_str(), "https://graph.facebook.com/");
        assert_eq!(c.sends_per_second, 300);
        let rules = c.reach_rules();
        assert_eq!(rules.free_ms, Some(24 * 3600 * 1000));
        assert_eq!((rules.billed_until_ms, rules.monthly_budget), (None, 0));
        let printed = format!("{c:?}");
        assert!(!printed.contains("app-secret") && !printed.contains("page-token"));
        Ok(())
    }
}
