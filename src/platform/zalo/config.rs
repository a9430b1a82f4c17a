//! Zalo OA settings from the environment.

use anyhow::{Context, Result, bail};

use crate::config::Secret;

/// How the bot reaches one Zalo Official Account.
#[derive(Debug, Clone)]
pub struct ZaloConfig {
    /// The Zalo app id (first term of the webhook mac; sent when refreshing tokens).
    pub app_id: String,
    /// The OA id (some webhook macs start with it; `zalo.me/<oa id>` links).
    pub oa_id: String,
    /// The OA secret key: the last term of the webhook mac.
    pub oa_secret: Secret,
    /// The app secret key: the `secret_key` header when refreshing tokens.
    pub app_secret: Secret,
    /// The operator's refresh token from the consent flow. Used only the first time, or when
    /// it changes (the stored, rotated token wins otherwise).
    pub refresh_token: Secret,
    /// The OpenAPI base (`https://openapi.zalo.me`; tests use a fake).
    pub api_url: url::Url,
    /// The OAuth base (`https://oauth.zaloapp.com`; tests use a fake).
    pub oauth_url: url::Url,
    /// Sends per second (Zalo's app quota is 4000 requests a minute).
    pub sends_per_second: u32,
}

impl ZaloConfig {
    /// Reads `ZALO_*`; `None` when Zalo is not configured at all.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<ZaloConfig>> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(app_id) = var("ZALO_APP_ID") else {
            return Ok(None);
        };
        let need =
            |k: &str| var(k).with_context(|| format!("{k} is required when ZALO_APP_ID is set"));
        let oa_secret = need("ZALO_OA_SECRET")?;
        let app_secret = need("ZALO_SECRET_KEY")?;
        let url = |k: &str, default: &str| -> Result<url::Url> {
            url::Url::parse(&var(k).unwrap_or_else(|| default.into()))
                .with_context(|| k.to_string())
        };
        let sends = var("ZALO_SENDS_PER_SECOND")
            .map(|v| v.parse::<u32>())
            .transpose()
            .context("ZALO_SENDS_PER_SECOND must be a whole number")?
            .unwrap_or(50);
        if sends == 0 {
            bail!("ZALO_SENDS_PER_SECOND must be at least 1");
        }
        Ok(Some(ZaloConfig {
            app_id,
            oa_id: need("ZALO_OA_ID")?,
            oa_secret: Secret::new(oa_secret),
            app_secret: Secret::new(app_secret),
            refresh_token: Secret::new(need("ZALO_REFRESH_TOKEN")?),
            api_url: url("ZALO_API_URL", "https://openapi.zalo.me")?,
            oauth_url: url("ZALO_OAUTH_URL", "https://oauth.zaloapp.com")?,
            sends_per_second: sends,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<ZaloConfig>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ZaloConfig::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn off_by_default_complete_or_refused() -> Result<()> {
        assert!(read(&[])?.is_none());
        assert!(read(&[("ZALO_APP_ID", "1")]).is_err());
        let all = [
            ("ZALO_APP_ID", "1"),
            ("ZALO_OA_ID", "2"),
            ("ZALO_OA_SECRET", "oa-secret"),
            ("ZALO_SECRET_KEY", "app-secret"),
            ("ZALO_REFRESH_TOKEN", "refresh-token"),
        ];
        let c = read(&all)?.expect("configured");
        assert_eq!(c.api_url.as_str(), "https://openapi.zalo.me/");
        assert_eq!(c.oauth_url.as_str(), "https://oauth.zaloapp.com/");
        let printed = format!("{c:?}");
        for secret in ["oa-secret", "app-secret", "refresh-token"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let mut zero = all.to_vec();
        zero.push(("ZALO_SENDS_PER_SECOND", "0"));
        assert!(read(&zero).is_err());
        Ok(())
    }
}
