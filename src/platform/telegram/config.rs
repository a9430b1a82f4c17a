//! Telegram settings from the environment (all but the token optional):
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `TELOXIDE_TOKEN` | — | the bot token from @BotFather; Telegram runs when it is set |
//! | `TELOXIDE_API_URL` | api.telegram.org | a Bot API server of its own (a local server, or a test fake) |
//! | `BLUEZONE_BOT_USERNAME` | the username Telegram reports (`getMe`) | the bot deep links name |
//! | `BLUEZONE_WEBHOOK_SECRET` | derived from the token | the secret Telegram sends back with each webhook update |
//! | `BLUEZONE_TG_GLOBAL_PER_SEC` | 30 | requests per second over all chats |
//! | `BLUEZONE_TG_PRIVATE_PER_SEC` | 1 | messages per second to one chat, private or group (the name is historical) |
//! | `BLUEZONE_TG_PRIVATE_BURST` | 3 | messages a chat may get at once (then the rate) |
//! | `BLUEZONE_TG_GROUP_PER_MIN` | 20 | messages per minute to one group, on top of the per-second rule |
//! | `BLUEZONE_TG_ANSWERS_PER_SEC` | 100 | answers to button presses per second, apart from messages (0 = no limit) |
//! | `BLUEZONE_TG_POLL_TIMEOUT_SECS` | 25 | how long Telegram holds an idle long poll (the HTTP client waits 10 s longer) |
//! | `BLUEZONE_RATE_MARGIN` | 0.02 | safety margin on every limit (fraction) |
//! | `BLUEZONE_TG_PAID_PER_SEC` | 1000 | messages per second of a paid broadcast (`allow_paid_broadcast`) |
//! | `BLUEZONE_TG_PAID_STARS_PER_MSG` | 0.1 | Stars per paid message (tenths of a Star at most) |
//! | `BLUEZONE_TG_PAID_STAR_BUDGET` | 0 | Stars one paid broadcast may spend at most; 0 (the default) = no paid broadcasts, since Telegram allows them only to bots with 10,000 Stars and 10,000 monthly users; 10,000 pay for 100,000 messages |

use anyhow::{Context, Result, bail};

use crate::config::Secret;
use crate::outbox::PlatformLimits;
use crate::reach::PaidSpeed;

/// How the bot reaches one Telegram bot account.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramConfig {
    /// The bot token from @BotFather; `None` when only the username is set (deep links to a
    /// bot this service does not run).
    pub token: Option<Secret>,
    /// A Bot API server other than api.telegram.org (a local server, or a test fake).
    pub api_url: Option<url::Url>,
    /// `BLUEZONE_BOT_USERNAME`: overrides the username deep links name, which is otherwise
    /// the one Telegram reports (`getMe`) at startup. No default: a made-up name would send
    /// people, and leader invitations, to somebody else's bot.
    pub username: Option<String>,
    /// The secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    pub webhook_secret: Option<Secret>,
    /// Telegram's rate limits.
    pub limits: PlatformLimits,
    /// How long Telegram is asked to hold an idle `getUpdates` (long polling).
    pub poll_timeout_secs: u32,
    /// Paid broadcasts (`allow_paid_broadcast`): their rate, price and budget per broadcast;
    /// `None` when the budget is 0 (turned off).
    pub paid_speed: Option<PaidSpeed>,
}

/// Parses a number of Stars with at most one decimal ("0.1", "1000") into tenths.
fn star_tenths(k: &str, v: &str) -> Result<i64> {
    let bad = || format!("{k} must be a number of Stars with at most one decimal (e.g. 0.1)");
    let (whole, tenth) = match v.split_once('.') {
        Some((w, t)) if t.len() == 1 => (w, t),
        Some(_) => bail!(bad()),
        None => (v, "0"),
    };
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().with_context(bad)?
    };
    let tenth: i64 = tenth.parse().with_context(bad)?;
    if whole < 0 || !(0..=9).contains(&tenth) {
        bail!(bad());
    }
    whole
        .checked_mul(10)
        .and_then(|w| w.checked_add(tenth))
        .with_context(bad)
}

/// Telegram's documented limits: about 30 messages a second overall, one a second per chat
/// (with a short burst), 20 a minute per group; answers to button presses are counted apart.
pub fn limits(private_burst: u32) -> PlatformLimits {
    let burst = private_burst.max(1);
    PlatformLimits {
        global_per_sec: Some(30),
        private_max: Some(burst),
        private_window_ms: 1000 * u64::from(burst),
        group_max: Some(20),
        group_window_ms: 60_000,
        answers_per_sec: Some(100),
        margin: 0.02,
    }
}

impl TelegramConfig {
    /// Reads the Telegram variables; `None` when neither a token nor a username is set.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<TelegramConfig>> {
        let val = |k: &str| crate::config::var(get, k);
        let count = |k: &str| crate::config::var_u32(get, k);
        let token = val("TELOXIDE_TOKEN").map(Secret::new);
        let username = val("BLUEZONE_BOT_USERNAME")
            .map(|v| v.trim_start_matches('@').to_string())
            .filter(|v| !v.is_empty());
        let per_sec = count("BLUEZONE_TG_PRIVATE_PER_SEC")?.unwrap_or(1).max(1);
        let burst = count("BLUEZONE_TG_PRIVATE_BURST")?.unwrap_or(3).max(1);
        let mut limits = limits(burst);
        limits.private_window_ms = 1000 * u64::from(burst) / u64::from(per_sec);
        if let Some(g) = count("BLUEZONE_TG_GLOBAL_PER_SEC")? {
            limits.global_per_sec = (g > 0).then_some(g);
        }
        if let Some(g) = count("BLUEZONE_TG_GROUP_PER_MIN")? {
            limits.group_max = (g > 0).then_some(g);
        }
        if let Some(a) = count("BLUEZONE_TG_ANSWERS_PER_SEC")? {
            limits.answers_per_sec = (a > 0).then_some(a);
        }
        if let Some(m) = val("BLUEZONE_RATE_MARGIN") {
            let m: f64 = m.parse().context("BLUEZONE_RATE_MARGIN must be a number")?;
            if !(0.0..=1.0).contains(&m) {
                bail!("BLUEZONE_RATE_MARGIN must be between 0 and 1");
            }
            limits.margin = m;
        }
        // Telegram accepts 0 (short polling) up to any value; keep it below an hour.
        let poll_timeout_secs = count("BLUEZONE_TG_POLL_TIMEOUT_SECS")?
            .unwrap_or(25)
            .min(3600);
        let paid_per_sec = count("BLUEZONE_TG_PAID_PER_SEC")?.unwrap_or(1000);
        let price = val("BLUEZONE_TG_PAID_STARS_PER_MSG")
            .map(|v| star_tenths("BLUEZONE_TG_PAID_STARS_PER_MSG", &v))
            .transpose()?
            .unwrap_or(1);
        let budget = val("BLUEZONE_TG_PAID_STAR_BUDGET")
            .map(|v| star_tenths("BLUEZONE_TG_PAID_STAR_BUDGET", &v))
            .transpose()?
            .unwrap_or(0);
        let free_per_sec = limits.global_per_sec.unwrap_or(30);
        let paid_speed = (budget > 0 && paid_per_sec > free_per_sec).then_some(PaidSpeed {
            per_sec: paid_per_sec,
            free_per_sec,
            star_tenths_per_msg: price,
            star_tenths_budget: budget,
        });
        let api_url = val("TELOXIDE_API_URL")
            .map(|u| url::Url::parse(&u).context("TELOXIDE_API_URL"))
            .transpose()?;
        if token.is_none() && username.is_none() {
            return Ok(None);
        }
        Ok(Some(TelegramConfig {
            token,
            api_url,
            username,
            webhook_secret: val("BLUEZONE_WEBHOOK_SECRET").map(Secret::new),
            limits,
            poll_timeout_secs,
            paid_speed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<TelegramConfig>> {
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        TelegramConfig::from_lookup(&get)
    }

    #[test]
    fn limits_parse_and_default() -> Result<()> {
        assert_eq!(config(&[])?, None);
        let c = config(&[("TELOXIDE_TOKEN", "1:x")])?.expect("configured");
        assert_eq!(c.limits, limits(3));
        assert_eq!(c.poll_timeout_secs, 25);
        let c = config(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BLUEZONE_TG_GLOBAL_PER_SEC", "300"),
            ("BLUEZONE_TG_PRIVATE_BURST", "1"),
        ])?
        .expect("configured");
        assert_eq!(c.limits.global_per_sec, Some(300));
        assert_eq!(c.limits.private_max, Some(1));
        assert_eq!(c.limits.private_window_ms, 1000);
        assert!(config(&[("TELOXIDE_TOKEN", "1:x"), ("BLUEZONE_RATE_MARGIN", "2")]).is_err());
        Ok(())
    }

    #[test]
    fn paid_broadcast_settings_parse_and_default() -> Result<()> {
        // Off unless a budget is set (Telegram allows paid broadcasts only to bots with
        // 10,000 Stars and 10,000 monthly users).
        let c = config(&[("TELOXIDE_TOKEN", "1:x")])?.expect("configured");
        assert_eq!(c.paid_speed, None);
        let c = config(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BLUEZONE_TG_PAID_STAR_BUDGET", "10000"),
        ])?
        .expect("configured");
        assert_eq!(
            c.paid_speed,
            Some(PaidSpeed {
                per_sec: 1000,
                free_per_sec: 30,
                star_tenths_per_msg: 1,
                star_tenths_budget: 100_000,
            })
        );
        let c = config(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BLUEZONE_TG_PAID_PER_SEC", "500"),
            ("BLUEZONE_TG_PAID_STARS_PER_MSG", "0.2"),
            ("BLUEZONE_TG_PAID_STAR_BUDGET", "250.5"),
        ])?
        .expect("configured");
        let paid = c.paid_speed.expect("paid");
        assert_eq!(
            (paid.per_sec, paid.star_tenths_per_msg, paid.star_tenths_budget),
            (500, 2, 2_505)
        );
        let off = config(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BLUEZONE_TG_PAID_STAR_BUDGET", "0"),
        ])?
        .expect("configured");
        assert_eq!(off.paid_speed, None);
        for bad in ["0.05", "-1", "x", "1.2.3"] {
            assert!(
                config(&[
                    ("TELOXIDE_TOKEN", "1:x"),
                    ("BLUEZONE_TG_PAID_STARS_PER_MSG", bad)
                ])
                .is_err(),
                "{bad}"
            );
        }
        Ok(())
    }

    #[test]
    fn tokens_are_never_printed_and_usernames_lose_their_at() -> Result<()> {
        let c = config(&[
            ("TELOXIDE_TOKEN", "123:SECRET-TOKEN"),
            ("BLUEZONE_BOT_USERNAME", " @LongAnBot "),
        ])?
        .expect("configured");
        assert!(!format!("{c:?}").contains("SECRET-TOKEN"));
        assert_eq!(c.username.as_deref(), Some("LongAnBot"));
        assert_eq!(
            c.token.map(|t| t.expose().to_string()),
            Some("123:SECRET-TOKEN".into())
        );
        Ok(())
    }
}
