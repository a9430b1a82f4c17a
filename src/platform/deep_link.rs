//! Deep links and share links per platform: a link that opens the bot and hands it a start
//! payload, and the way a person passes it on.
//!
//! The Telegram link names the bot Telegram reports (`getMe`, learned at startup) unless
//! `BLUEZONE_BOT_USERNAME` overrides it; there is no made-up default, so a link never sends
//! people (or a leader invitation) to somebody else's bot.

use std::sync::OnceLock;

use crate::config::Settings;
use crate::domain::{Platform, StartPayload};

/// Builds deep links and share links for every platform. One per engine, shared by its
/// clones; the Telegram username is filled in once, when Telegram has told it.
#[derive(Debug)]
pub struct DeepLinks {
    /// `BLUEZONE_BOT_USERNAME`: wins over what Telegram reports.
    username_override: Option<String>,
    /// The username Telegram reported (`getMe`), set once at startup.
    telegram_username: OnceLock<String>,
    /// The Messenger Page, for `m.me` links.
    messenger_page: Option<String>,
    /// The Zalo OA, for `zalo.me` links.
    zalo_oa: Option<String>,
}

impl DeepLinks {
    /// Links for the platforms in `settings`; the Telegram username is still to be learned
    /// unless the settings override it.
    pub fn new(settings: &Settings) -> DeepLinks {
        DeepLinks {
            username_override: settings.bot_username.clone(),
            telegram_username: OnceLock::new(),
            messenger_page: settings.messenger.as_ref().map(|m| m.page_id.clone()),
            zalo_oa: settings.zalo.as_ref().map(|z| z.oa_id.clone()),
        }
    }

    /// Records the username Telegram reported. The first one wins (one bot per process).
    pub fn learn_telegram_username(&self, username: &str) {
        let name = username.trim().trim_start_matches('@');
        if !name.is_empty() {
            let _ = self.telegram_username.set(name.to_string());
        }
    }

    /// The Telegram bot's username links name: the override, else what Telegram reported.
    pub fn telegram_username(&self) -> Option<&str> {
        self.username_override
            .as_deref()
            .or_else(|| self.telegram_username.get().map(String::as_str))
    }

    /// A link that opens the bot with `payload` on `platform`.
    ///
    /// - Telegram: `https://t.me/<bot>?start=<payload>`.
    /// - Messenger: `https://m.me/<page>?ref=<payload>`; the `ref` comes back in a referral
    ///   event, which the webhook turns into `/start <payload>`.
    /// - Zalo OA links carry no payload: the OA's link followed by the command to type
    ///   (`https://zalo.me/<oa id> /start u_794`).
    /// - The console (and Telegram before its username is known): the Telegram link when the
    ///   bot's username is known, else the command itself (`/start u_794`).
    pub fn deep_link(&self, platform: Platform, payload: &StartPayload) -> String {
        let code = payload.encode();
        match platform {
            Platform::Messenger if let Some(page) = &self.messenger_page => {
                format!("https://m.me/{page}?ref={code}")
            }
            Platform::Zalo if let Some(oa) = &self.zalo_oa => {
                format!("https://zalo.me/{oa} /start {code}")
            }
            _ => match self.telegram_username() {
                Some(bot) => format!("https://t.me/{bot}?start={code}"),
                None => format!("/start {code}"),
            },
        }
    }

    /// Where a "share with friends" button on `platform` points, for a person's own `link`
    /// (from [`DeepLinks::deep_link`]) and a suggested `text`; `None` when the platform has
    /// no way to share that a button can open.
    ///
    /// - Telegram: its share dialog, `https://t.me/share/url?url=<link>&text=<text>`.
    /// - Messenger: the `m.me` link itself (Messenger's own forward carries it on).
    /// - Zalo: the OA's link (`https://zalo.me/<oa id>`); the command to type is in the text.
    /// - The console: the link, when it is one.
    pub fn share_url(&self, platform: Platform, link: &str, text: &str) -> Option<String> {
        let is_url = link.starts_with("https://");
        match platform {
            Platform::Telegram if is_url => {
                let mut url = url::Url::parse("https://t.me/share/url").ok()?;
                url.query_pairs_mut()
                    .append_pair("url", link)
                    .append_pair("text", text);
                Some(url.to_string())
            }
            Platform::Messenger if is_url => Some(link.to_string()),
            Platform::Zalo => self
                .zalo_oa
                .as_ref()
                .map(|oa| format!("https://zalo.me/{oa}")),
            Platform::Console if is_url => Some(link.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(vars: &[(&str, &str)]) -> DeepLinks {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings = Settings::from_lookup(|k| map.get(k).cloned()).expect("settings");
        DeepLinks::new(&settings)
    }

    fn unit() -> StartPayload {
        StartPayload::parse("u_794").expect("payload")
    }

    #[test]
    fn telegram_links_name_the_bot_telegram_reports() {
        let l = links(&[("TELOXIDE_TOKEN", "1:x")]);
        // Nothing made up before Telegram has answered.
        assert_eq!(l.deep_link(Platform::Telegram, &unit()), "/start u_794");
        assert_eq!(l.share_url(Platform::Telegram, "/start u_794", "t"), None);
        l.learn_telegram_username("@LongAnBot");
        l.learn_telegram_username("SomebodyElse");
        assert_eq!(
            l.deep_link(Platform::Telegram, &unit()),
            "https://t.me/LongAnBot?start=u_794"
        );
        assert_eq!(
            l.deep_link(Platform::Console, &unit()),
            "https://t.me/LongAnBot?start=u_794"
        );
    }

    #[test]
    fn the_variable_overrides_what_telegram_reports() {
        let l = links(&[("BLUEZONE_BOT_USERNAME", "@Chosen")]);
        l.learn_telegram_username("Reported");
        assert_eq!(
            l.deep_link(Platform::Telegram, &unit()),
            "https://t.me/Chosen?start=u_794"
        );
    }

    #[test]
    fn each_platform_shares_its_own_way() {
        let l = links(&[
            ("BLUEZONE_BOT_USERNAME", "B"),
            ("MESSENGER_PAGE_ACCESS_TOKEN", "t"),
            ("MESSENGER_APP_SECRET", "s"),
            ("MESSENGER_VERIFY_TOKEN", "v"),
            ("MESSENGER_PAGE_ID", "Page"),
            ("ZALO_APP_ID", "a"),
            ("ZALO_OA_ID", "oa1"),
            ("ZALO_SECRET_KEY", "s"),
            ("ZALO_OA_SECRET", "s"),
            ("ZALO_REFRESH_TOKEN", "r"),
        ]);
        let tg = l.deep_link(Platform::Telegram, &unit());
        let share = l
            .share_url(Platform::Telegram, &tg, "hi there")
            .expect("tg");
        assert!(share.starts_with("https://t.me/share/url?url=https%3A%2F%2Ft.me%2FB"));
        let m = l.deep_link(Platform::Messenger, &unit());
        assert_eq!(m, "https://m.me/Page?ref=u_794");
        assert_eq!(l.share_url(Platform::Messenger, &m, "x"), Some(m.clone()));
        let z = l.deep_link(Platform::Zalo, &unit());
        assert_eq!(
            l.share_url(Platform::Zalo, &z, "x").as_deref(),
            Some("https://zalo.me/oa1")
        );
    }
}
