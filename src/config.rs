//! Settings from environment variables, plus an optional TOML campaign file. Secrets are kept
//! in [`Secret`], whose `Debug` and `Display` never show the value.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::domain::Platform;
use crate::platform::Adapter;

/// A token or password. Printing it shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The app being promoted and the campaign's goal.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Campaign {
    /// The app's name as shown to people.
    pub app_name: String,
    /// The official Google Play link.
    pub android_url: String,
    /// The official App Store link.
    pub ios_url: String,
    /// The official website.
    pub website: String,
    /// The coverage target, as a fraction of the population (0.6 = 60%).
    pub target: f64,
    /// The campaign's time zone (reminder windows and digests use local time).
    pub timezone: String,
}

impl Default for Campaign {
    fn default() -> Campaign {
        Campaign {
            app_name: "Bluezone".into(),
            android_url: "https://play.google.com/store/apps/details?id=com.mic.bluezone".into(),
            ios_url: "https://apps.apple.com/vn/app/bluezone/id1508062685".into(),
            website: "https://bluezone.gov.vn".into(),
            target: 0.6,
            timezone: "Asia/Ho_Chi_Minh".into(),
        }
    }
}

impl Campaign {
    /// Reads and checks a campaign file.
    pub fn load(path: &Path) -> Result<Campaign> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading campaign file {}", path.display()))?;
        let campaign: Campaign =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        campaign.check()?;
        Ok(campaign)
    }

    fn check(&self) -> Result<()> {
        if !(self.target > 0.0 && self.target <= 1.0) {
            bail!(
                "target must be a fraction between 0 and 1, got {}",
                self.target
            );
        }
        self.tz()?;
        for url in [&self.android_url, &self.ios_url, &self.website] {
            url::Url::parse(url).with_context(|| format!("invalid link {url:?}"))?;
        }
        Ok(())
    }

    /// The campaign's time zone.
    pub fn tz(&self) -> Result<chrono_tz::Tz> {
        self.timezone
            .parse()
            .map_err(|_| anyhow::anyhow!("unknown time zone {:?}", self.timezone))
    }
}

/// Everything the service reads from its environment. The platform-neutral settings live
/// here; each platform reads its own variables in its folder (`src/platform/<name>/`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The platform accounts to run (Telegram bots, Messenger Pages, Zalo OAs): the entries
    /// of the accounts file (`BLUEZONE_ACCOUNTS_FILE`, see [`crate::accounts`]), or else the
    /// single account each platform reads from the environment
    /// ([`crate::platform::PLATFORMS`]).
    pub accounts: Vec<Arc<dyn Adapter>>,
    /// Platform-qualified ids of the administrators of every account (`BLUEZONE_ADMINS`);
    /// each account may name administrators of its own besides.
    pub admins: Vec<(Platform, String)>,
    /// The public HTTPS address of the webhook server; webhook mode when set (each account's
    /// webhooks are under `/webhooks/<account id>`).
    pub webhook_url: Option<url::Url>,
    /// Where the HTTP server (webhooks, health, metrics) listens.
    pub listen: SocketAddr,
    /// Where `/metrics` is served, apart from the public webhooks (loopback by default);
    /// `None` when turned off.
    pub metrics_listen: Option<SocketAddr>,
    /// A bearer token `/metrics` asks for, when set.
    pub metrics_token: Option<Secret>,
    /// How long a leader invitation stays valid, in days.
    pub invite_ttl_days: i64,
    /// The app and the goal.
    pub campaign: Campaign,
    /// Rate limits, retries, reminders and digests.
    pub delivery: crate::outbox::DeliverySettings,
}

/// The default database: a SQLite file in the working folder, created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://bluezone.db";

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings> {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get`, so tests can pass their own variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let admins = match non_empty("BLUEZONE_ADMINS") {
            Some(list) => parse_admins(&list)?,
            None => Vec::new(),
        };
        let campaign = match non_empty("BLUEZONE_CAMPAIGN_FILE") {
            Some(path) => Campaign::load(Path::new(path.trim()))?,
            None => Campaign::default(),
        };
        Ok(Settings {
            database_url: non_empty("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            accounts: match non_empty("BLUEZONE_ACCOUNTS_FILE") {
                Some(path) => crate::accounts::load(Path::new(path.trim()), &get)?,
                None => crate::platform::accounts_from_lookup(&get)?,
            },
            admins,
            webhook_url: non_empty("BLUEZONE_WEBHOOK_URL")
                .map(|u| url::Url::parse(u.trim()).context("BLUEZONE_WEBHOOK_URL"))
                .transpose()?,
            listen: non_empty("BLUEZONE_LISTEN")
                .unwrap_or_else(|| "0.0.0.0:8080".into())
                .trim()
                .parse()
                .context("BLUEZONE_LISTEN must be an address such as 0.0.0.0:8080")?,
            metrics_listen: parse_metrics_listen(non_empty("BLUEZONE_METRICS_LISTEN"))?,
            metrics_token: non_empty("BLUEZONE_METRICS_TOKEN").map(|t| Secret::new(t.trim())),
            invite_ttl_days: non_empty("BLUEZONE_INVITE_TTL_DAYS")
                .map(|v| v.trim().parse::<i64>())
                .transpose()
                .context("BLUEZONE_INVITE_TTL_DAYS must be a whole number")?
                .unwrap_or(7)
                .max(1),
            campaign,
            delivery: crate::outbox::DeliverySettings::from_lookup(&get)?,
        })
    }

    /// Settings for tests and the console: defaults everywhere, this database.
    pub fn for_database(database_url: &str) -> Settings {
        let mut s = Settings::from_lookup(|_| None).unwrap_or_else(|_| unreachable_defaults());
        s.database_url = database_url.to_string();
        s
    }
}

fn unreachable_defaults() -> Settings {
    // from_lookup with no variables cannot fail; this keeps the signature infallible.
    Settings {
        database_url: DEFAULT_DATABASE_URL.into(),
        accounts: Vec::new(),
        admins: Vec::new(),
        webhook_url: None,
        listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
        metrics_listen: Some(DEFAULT_METRICS_LISTEN),
        metrics_token: None,
        invite_ttl_days: 7,
        campaign: Campaign::default(),
        delivery: crate::outbox::DeliverySettings::default(),
    }
}

/// Where `/metrics` listens unless `BLUEZONE_METRICS_LISTEN` says otherwise: loopback only
/// (9464, as Prometheus exporters commonly use, not Prometheus's own 9090 on the same host).
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// `BLUEZONE_METRICS_LISTEN`: an address, or `off`; the default when unset.
fn parse_metrics_listen(value: Option<String>) -> Result<Option<SocketAddr>> {
    match value.as_deref().map(str::trim) {
        None => Ok(Some(DEFAULT_METRICS_LISTEN)),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .context("BLUEZONE_METRICS_LISTEN must be an address such as 127.0.0.1:9464, or off"),
    }
}

/// The trimmed, non-empty value of variable `k` read through `get`.
pub fn var(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Option<String> {
    get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Variable `k` as a whole number, when set; an error naming it when it is not one.
pub fn var_u32(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Result<Option<u32>> {
    var(get, k)
        .map(|v| {
            v.parse::<u32>()
                .with_context(|| format!("{k} must be a whole number"))
        })
        .transpose()
}

/// Variable `k` as a number, when set; an error naming it when it is not one.
pub fn var_f64(get: &dyn Fn(&str) -> Option<String>, k: &str) -> Result<Option<f64>> {
    var(get, k)
        .map(|v| {
            v.parse::<f64>()
                .with_context(|| format!("{k} must be a number"))
        })
        .transpose()
}

/// Parses `telegram:123, zalo:abc`.
pub fn parse_admins(list: &str) -> Result<Vec<(Platform, String)>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((platform, id)) = item.split_once(':') else {
            bail!("BLUEZONE_ADMINS: {item:?} must look like telegram:123456");
        };
        let Some(platform) = Platform::parse(platform.trim()) else {
            bail!("BLUEZONE_ADMINS: unknown platform in {item:?}");
        };
        if id.trim().is_empty() {
            bail!("BLUEZONE_ADMINS: empty id in {item:?}");
        }
        out.push((platform, id.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_variables() -> Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert!(s.accounts.is_empty());
        assert_eq!(s.campaign.target, 0.6);
        assert_eq!(s.campaign.timezone, "Asia/Ho_Chi_Minh");
        assert_eq!(s.invite_ttl_days, 7);
        Ok(())
    }

    #[test]
    fn tokens_are_never_printed() -> Result<()> {
        let s = settings(&[("TELOXIDE_TOKEN", "123:SECRET-TOKEN")])?;
        let printed = format!("{s:?}");
        assert!(!printed.contains("SECRET-TOKEN"), "{printed}");
        assert_eq!(s.accounts.len(), 1);
        assert_eq!(s.accounts[0].platform(), Platform::Telegram);
        Ok(())
    }

    #[test]
    fn admins_parse_and_bad_lists_are_refused() -> Result<()> {
        let s = settings(&[("BLUEZONE_ADMINS", "telegram:1, zalo:abc")])?;
        assert_eq!(
            s.admins,
            vec![
                (Platform::Telegram, "1".into()),
                (Platform::Zalo, "abc".into())
            ]
        );
        assert!(settings(&[("BLUEZONE_ADMINS", "1234")]).is_err());
        assert!(settings(&[("BLUEZONE_ADMINS", "icq:1")]).is_err());
        assert!(settings(&[("BLUEZONE_LISTEN", "nowhere")]).is_err());
        Ok(())
    }

    #[test]
    fn metrics_listen_on_loopback_unless_told_otherwise() -> Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.metrics_listen, Some(DEFAULT_METRICS_LISTEN));
        assert!(s.metrics_listen.is_some_and(|a| a.ip().is_loopback()));
        assert!(s.metrics_token.is_none());
        let s = settings(&[
            ("BLUEZONE_METRICS_LISTEN", "0.0.0.0:9100"),
            ("BLUEZONE_METRICS_TOKEN", "scrape-secret"),
        ])?;
        assert_eq!(s.metrics_listen, Some("0.0.0.0:9100".parse()?));
        assert!(!format!("{s:?}").contains("scrape-secret"));
        assert_eq!(
            settings(&[("BLUEZONE_METRICS_LISTEN", "off")])?.metrics_listen,
            None
        );
        assert!(settings(&[("BLUEZONE_METRICS_LISTEN", "nowhere")]).is_err());
        Ok(())
    }

    #[test]
    fn campaign_files_are_checked() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "app_name = \"PC-Covid\"\ntarget = 0.7\n")?;
        let c = Campaign::load(&good)?;
        assert_eq!(c.app_name, "PC-Covid");
        assert_eq!(c.target, 0.7);
        assert_eq!(c.android_url, Campaign::default().android_url);
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "target = 7\n")?;
        assert!(Campaign::load(&bad).is_err());
        std::fs::write(&bad, "timezone = \"Mars/Olympus\"\n")?;
        assert!(Campaign::load(&bad).is_err());
        std::fs::write(&bad, "colour = \"red\"\n")?;
        assert!(Campaign::load(&bad).is_err());
        Ok(())
    }
}
