//! Zalo OA settings from the environment.

use anyhow::{Context, Result, bail};

use crate::config::Secret;

/// How the bot reaches one Zalo Official Account.
#[derive(Debug, Clone)]
pub struct ZaloConfig {
    /// The account this OA is (its token row, choices and spending are kept under it).
    pub account: crate::domain::AccountId,
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
    /// Consultation messages are free for this long after the person's last interaction
    /// (`ZALO_FREE_WINDOW_HOURS`, 48 h).
    pub free_window_ms: i64,
    /// From the end of the free window until this long after the last interaction they are
    /// billed; after it Zalo refuses them (error -230) (`ZALO_BILLED_UNTIL_DAYS`, 7 days).
    pub billed_until_ms: i64,
    /// The price of one billed message in VND (`ZALO_PRICE_PER_MESSAGE`). The default is a
    /// guess ([`DEFAULT_PRICE_VND`]): set your OA's price.
    pub price_per_message: i64,
    /// The most billed messages may cost in one calendar month (campaign time zone), in VND
    /// (`ZALO_MONTHLY_BUDGET`); never exceeded. 0 (the default) turns billing off: only
    /// people inside the free window are written to.
    pub monthly_budget: i64,
}

/// The default price of one billed consultation message, in VND: a documented guess (Zalo
/// publishes its price list to OA owners only); set `ZALO_PRICE_PER_MESSAGE`.
pub const DEFAULT_PRICE_VND: i64 = 55;

const HOUR_MS: i64 = 3600 * 1000;

impl ZaloConfig {
    /// The OA's reach rules: free for the free window, billed (within the monthly budget)
    /// until the billed limit, refused after.
    pub fn reach_rules(&self) -> crate::reach::ReachRules {
        crate::reach::ReachRules {
            free_ms: Some(self.free_window_ms),
            billed_until_ms: Some(self.billed_until_ms),
            price: self.price_per_message,
            monthly_budget: self.monthly_budget,
            paid_speed: None,
        }
    }
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
        let number = |k: &str, default: i64| -> Result<i64> {
            let v = var(k)
                .map(|v| v.replace(['_', ','], "").parse::<i64>())
                .transpose()
                .with_context(|| format!("{k} must be a whole number"))?
                .unwrap_or(default);
            if v < 0 {
                bail!("{k} must not be negative");
            }
            Ok(v)
        };
        let free_hours = number("ZALO_FREE_WINDOW_HOURS", 48)?;
        let billed_days = number("ZALO_BILLED_UNTIL_DAYS", 7)?;
        if free_hours == 0 || billed_days * 24 < free_hours {
            bail!("ZALO_FREE_WINDOW_HOURS must be at least 1 and end before ZALO_BILLED_UNTIL_DAYS");
        }
        Ok(Some(ZaloConfig {
            account: crate::domain::AccountId::of_platform(crate::domain::Platform::Zalo),
            app_id,
            oa_id: need("ZALO_OA_ID")?,
            oa_secret: Secret::new(oa_secret),
            app_secret: Secret::new(app_secret),
            refresh_token: Secret::new(need("ZALO_REFRESH_TOKEN")?),
            api_url: url("ZALO_API_URL", "https://openapi.zalo.me")?,
            oauth_url: url("ZALO_OAUTH_URL", "https://oauth.zaloapp.com")?,
            sends_per_second: sends,
            free_window_ms: free_hours * HOUR_MS,
            billed_until_ms: billed_days * 24 * HOUR_MS,
            price_per_message: number("ZALO_PRICE_PER_MESSAGE", DEFAULT_PRICE_VND)?,
            monthly_budget: number("ZALO_MONTHLY_BUDGET", 0)?,
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

    #[test]
    fn reach_settings_default_to_the_documented_windows_with_billing_off() -> Result<()> {
        let all = [
            ("ZALO_APP_ID", "1"),
            ("ZALO_OA_ID", "2"),
            ("ZALO_OA_SECRET", "s"),
            ("ZALO_SECRET_KEY", "k"),
            ("ZALO_REFRESH_TOKEN", "r"),
        ];
        let c = read(&all)?.expect("configured");
        let rules = c.reach_rules();
        assert_eq!(rules.free_ms, Some(48 * HOUR_MS));
        assert_eq!(rules.billed_until_ms, Some(7 * 24 * HOUR_MS));
        assert_eq!(rules.price, DEFAULT_PRICE_VND);
        assert_eq!(rules.monthly_budget, 0, "billing is off by default");
        let mut set = all.to_vec();
        set.extend([
            ("ZALO_PRICE_PER_MESSAGE", "200"),
            ("ZALO_MONTHLY_BUDGET", "1_000_000"),
            ("ZALO_FREE_WINDOW_HOURS", "24"),
            ("ZALO_BILLED_UNTIL_DAYS", "5"),
        ]);
        let rules = read(&set)?.expect("configured").reach_rules();
        assert_eq!(
            (rules.price, rules.monthly_budget, rules.free_ms, rules.billed_until_ms),
            (200, 1_000_000, Some(24 * HOUR_MS), Some(5 * 24 * HOUR_MS))
        );
        for bad in [
            ("ZALO_MONTHLY_BUDGET", "-1"),
            ("ZALO_PRICE_PER_MESSAGE", "cheap"),
            ("ZALO_FREE_WINDOW_HOURS", "200"),
        ] {
            let mut v = all.to_vec();
            v.push(bad);
            assert!(read(&v).is_err(), "{bad:?}");
        }
        Ok(())
    }
}
