//! The seam between the service and a platform: an [`Adapter`] is ONE account on one
//! platform (a Telegram bot token, a Messenger Page, a Zalo OA), read from the environment
//! by its platform's folder (`src/platform/<name>/`), which owns everything about it: its
//! settings, its start-up, its webhook routes, its delivery, its links and a description of
//! what it can do ([`Capabilities`]). An account is data: two bots of one platform are two
//! adapters with two account ids, and nothing here assumes one account per platform.
//!
//! The conversation asks its capability questions through [`Platforms`], which the engine
//! holds: which link opens the bot, where a share button points, whether a chat's messages
//! can be edited, where a picture can go, whether a user administers a group.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::group_admins::GroupAdmins;
use super::inbox::Inbox;
use super::{Deliver, PhotoRef};
use crate::config::Settings;
use crate::doctor::{Check, CheckContext};
use crate::domain::{Platform, StartPayload, UnitCode};
use crate::reach::ReachRules;
use crate::store::Store;

/// What an account's platform can do, as the conversation and the outbox need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether a sent message can be edited, so one message can carry a changing status (a
    /// broadcast's preview, progress and summary).
    pub edits_messages: bool,
    /// The longest text of one message (longer texts are split).
    pub max_text: usize,
    /// Buttons one message can carry as buttons (more become numbered lines).
    pub max_buttons: usize,
    /// The longest button label shown as it is.
    pub max_label: usize,
    /// Whom the account may write to and at what cost: its messaging windows, billed
    /// periods, prices, budgets and paid speed.
    pub reach: ReachRules,
    /// Whether its deep links also serve chats on platforms without an account of their own
    /// (the console): a link anyone can open.
    pub links_for_others: bool,
}

/// A task an account runs only in the replica that leads it, started and stopped (through
/// its token) with the account's sender: Telegram's long polling, since two replicas polling
/// one bot would take each other's updates.
pub type LeadTask =
    Arc<dyn Fn(CancellationToken) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// What a started account hands back to the service.
pub struct Started {
    /// Its sending half, driven by an outbox worker at the adapter's limits
    /// ([`Deliver::limits`]).
    pub deliver: Arc<dyn Deliver>,
    /// Its webhook routes (paths relative to `/webhooks/<platform>/<account id>`), if it
    /// takes any.
    pub routes: Option<axum::Router>,
    /// What it runs while this replica leads it, if anything.
    pub led: Option<LeadTask>,
}

/// What an account needs to start.
pub struct StartContext<'a> {
    /// The database.
    pub store: &'a Store,
    /// The service's settings (the public webhook address among them).
    pub settings: &'a Settings,
    /// Where its events go.
    pub inbox: &'a Inbox,
    /// Where it registers what it can answer (group administrators).
    pub platforms: &'a Platforms,
    /// Its background tasks (polling, token refresh) run here.
    pub tracker: &'a TaskTracker,
    /// Stops its background tasks.
    pub shutdown: &'a CancellationToken,
}

/// What `bluezone-bot accounts list` shows of an account (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    /// Whether its credentials work: `Ok` with what the platform says of the account (the
    /// bot's name), or why not.
    pub credentials: Result<String, String>,
    /// Its webhook: the address the platform posts to, or how events arrive otherwise.
    pub webhook: String,
}

impl AccountStatus {
    /// The status `doctor`'s checks of one account describe: the first check is its
    /// credentials, the second its webhook.
    pub fn from_checks(checks: &[Check]) -> AccountStatus {
        let credentials = checks
            .first()
            .map_or_else(|| Err("not checked".to_string()), |c| c.result.clone());
        let webhook = match checks.get(1).map(|c| &c.result) {
            Some(Ok(found)) => found.clone(),
            Some(Err(why)) => format!("FAILING: {why}"),
            None => "-".to_string(),
        };
        AccountStatus {
            credentials,
            webhook,
        }
    }
}

/// One account on one platform.
#[async_trait::async_trait]
pub trait Adapter: fmt::Debug + Send + Sync {
    /// The account's id, unique among the configured accounts; its webhooks are served
    /// under `/webhooks/<platform>/<account id>`. (The single account a platform's
    /// environment variables describe uses the platform's name, so addresses and stored
    /// rows keep working.)
    fn account_id(&self) -> &str;

    /// The unit this account serves (its people, searches and links are under it); `None`:
    /// the whole country.
    fn root_unit(&self) -> Option<crate::domain::UnitCode> {
        None
    }

    /// The account's own administrators (user ids on it), besides `BLUEZONE_ADMINS`.
    fn admins(&self) -> &[String] {
        &[]
    }

    /// The platform the account is on.
    fn platform(&self) -> Platform;

    /// What the platform can do.
    fn capabilities(&self) -> Capabilities;

    /// Whether the account has anything to run (a Telegram username set without a token
    /// only lends its name to links).
    fn serves(&self) -> bool {
        true
    }

    /// A link that opens this account with `payload`; `None` when it cannot make one (yet).
    fn deep_link(&self, payload: &StartPayload) -> Option<String>;

    /// Where a "share with friends" button points for a person's own `link` and a
    /// suggested `text`; `None` when the platform has no way to share that a button opens.
    fn share_url(&self, link: &str, text: &str) -> Option<String>;

    /// Connects, registers what the platform needs (command menus, webhooks, tokens) and
    /// starts the account's background tasks.
    async fn start(&self, ctx: &StartContext<'_>) -> Result<Started>;

    /// Asks the platform, for `bluezone-bot doctor`, whether the account's credentials work
    /// and whether its webhook is where the settings say; one [`Check`] per line, never
    /// showing a secret. Nothing by default (an account without credentials).
    async fn check(&self, ctx: &CheckContext<'_>) -> Vec<Check> {
        let _ = ctx;
        Vec::new()
    }

    /// Asks the platform whether the credentials work and where its webhook points, without
    /// changing anything (`bluezone-bot accounts list`).
    async fn status(&self, store: &Store, settings: &Settings) -> AccountStatus;
}

/// The public address of account `account`'s webhook on `platform`:
/// `<BLUEZONE_WEBHOOK_URL>/webhooks/<platform>/<account id>`.
pub fn webhook_address(public: &url::Url, platform: Platform, account: &str) -> Result<url::Url> {
    // `https://host/prefix` must keep its prefix: join below it, not beside it.
    let mut base = public.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    Ok(base.join(&format!("webhooks/{platform}/{account}"))?)
}

/// Reads one platform's accounts from the environment (through a lookup, so tests pass
/// their own variables); none when the platform is not configured.
pub type ReadAccounts = fn(&dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Adapter>>>;

/// The configured accounts and what they answer, shared by every clone of the engine. Every
/// question is asked of one account, by its id (the account a person or chat belongs to).
#[derive(Clone, Default)]
pub struct Platforms {
    accounts: Arc<Vec<Arc<dyn Adapter>>>,
    /// Each account's place in `accounts`, by id (asked on every event).
    by_id: Arc<HashMap<String, usize>>,
    /// Group-administrator checks by account, registered by the accounts that can answer at
    /// start-up.
    group_admins: Arc<RwLock<HashMap<String, Arc<dyn GroupAdmins>>>>,
    /// Each started account's sending limits, registered at start-up (the reach preview
    /// tells how long a broadcast takes at them).
    limits: Arc<RwLock<HashMap<String, crate::outbox::PlatformLimits>>>,
    /// Global administrators (`BLUEZONE_ADMINS`).
    admins: Arc<Vec<(Platform, String)>>,
}

impl fmt::Debug for Platforms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.accounts.iter()).finish()
    }
}

impl Platforms {
    /// The accounts in `settings`.
    pub fn new(settings: &Settings) -> Platforms {
        let by_id = settings
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.account_id().to_string(), i))
            .collect();
        Platforms {
            accounts: Arc::new(settings.accounts.clone()),
            by_id: Arc::new(by_id),
            group_admins: Arc::default(),
            limits: Arc::default(),
            admins: Arc::new(settings.admins.clone()),
        }
    }

    /// The configured accounts.
    pub fn accounts(&self) -> &[Arc<dyn Adapter>] {
        &self.accounts
    }

    /// The account with id `account`.
    pub fn account(&self, account: &str) -> Option<&Arc<dyn Adapter>> {
        self.by_id.get(account).and_then(|&i| self.accounts.get(i))
    }

    /// The first account on `platform` (questions about the platform's own rules, which
    /// every account of it shares).
    fn first_on(&self, platform: Platform) -> Option<&Arc<dyn Adapter>> {
        self.accounts.iter().find(|a| a.platform() == platform)
    }

    /// The unit account `account` serves; `None`: the whole country (and for the console,
    /// or an account not configured).
    pub fn root(&self, account: &str) -> Option<UnitCode> {
        self.account(account).and_then(|a| a.root_unit())
    }

    /// Whether `user_id` on `platform` is an administrator of every account
    /// (`BLUEZONE_ADMINS`): they read the whole country wherever they write.
    pub fn is_global_admin(&self, platform: Platform, user_id: &str) -> bool {
        self.admins
            .iter()
            .any(|(p, id)| *p == platform && id == user_id)
    }

    /// Whether `user_id` is an administrator on account `account`: a global one, or one the
    /// account names (who then acts under the account's root).
    pub fn is_admin(&self, account: &str, platform: Platform, user_id: &str) -> bool {
        self.is_global_admin(platform, user_id)
            || self
                .account(account)
                .is_some_and(|a| a.admins().iter().any(|id| id == user_id))
    }

    /// A link that opens account `account` with `payload`: the account's own; else (the
    /// console, or an account whose link is not known yet) one anyone can open, of an
    /// account that serves every unit the payload names; else the command itself
    /// (`/start u_794`).
    pub fn deep_link(&self, account: &str, payload: &StartPayload) -> String {
        self.account(account)
            .and_then(|a| a.deep_link(payload))
            .or_else(|| {
                self.accounts
                    .iter()
                    .filter(|a| a.capabilities().links_for_others)
                    .find_map(|a| a.deep_link(payload))
            })
            .unwrap_or_else(|| format!("/start {}", payload.encode()))
    }

    /// Where a share button on account `account` points for `link`: the platform's way to
    /// share; without an account (the console), the link itself when it is one.
    pub fn share_url(&self, account: &str, link: &str, text: &str) -> Option<String> {
        match self.account(account) {
            Some(account) => account.share_url(link, text),
            None => link.starts_with("https://").then(|| link.to_string()),
        }
    }

    /// The reach rules of `platform` (its messaging windows, prices, budget and paid speed),
    /// as its first account describes them (always free where no account says otherwise:
    /// the console). Every account of a platform keeps the platform's windows; budgets are
    /// spent per account.
    pub fn reach_rules(&self, platform: Platform) -> ReachRules {
        self.first_on(platform)
            .map_or(ReachRules::ALWAYS_FREE, |a| a.capabilities().reach)
    }

    /// The reach rules of account `account` (always free for the console).
    pub fn account_reach_rules(&self, account: &str) -> ReachRules {
        self.account(account)
            .map_or(ReachRules::ALWAYS_FREE, |a| a.capabilities().reach)
    }

    /// The ids of the accounts on `platform`.
    pub fn account_ids(&self, platform: Platform) -> Vec<String> {
        self.accounts
            .iter()
            .filter(|a| a.platform() == platform)
            .map(|a| a.account_id().to_string())
            .collect()
    }

    /// Records the sending limits of started account `account`.
    pub fn register_limits(&self, account: &str, limits: crate::outbox::PlatformLimits) {
        if let Ok(mut map) = self.limits.write() {
            map.insert(account.to_string(), limits);
        }
    }

    /// The sending limits of account `account`, once started.
    pub fn limits(&self, account: &str) -> Option<crate::outbox::PlatformLimits> {
        self.limits
            .read()
            .ok()
            .and_then(|m| m.get(account).copied())
    }

    /// Whether messages in chats with account `account` can be edited in place.
    pub fn edits_messages(&self, account: &str) -> bool {
        self.account(account)
            .is_some_and(|a| a.capabilities().edits_messages)
    }

    /// The one platform `photo` can be sent on, when it cannot go everywhere.
    pub fn photo_only_on(&self, photo: &PhotoRef) -> Option<Platform> {
        photo.home()
    }

    /// Sets the group-administrator check of account `account`.
    pub fn register_group_admins(&self, account: &str, checker: Arc<dyn GroupAdmins>) {
        if let Ok(mut map) = self.group_admins.write() {
            map.insert(account.to_string(), checker);
        }
    }

    /// Whether `user_id` administers group `chat_id` of account `account`; false where
    /// nothing can tell, so nothing is linked there by mistake.
    pub async fn is_chat_admin(&self, account: &str, chat_id: &str, user_id: &str) -> Result<bool> {
        let checker = match self.group_admins.read() {
            Ok(map) => map.get(account).cloned(),
            Err(_) => None,
        };
        match checker {
            Some(c) => c.is_chat_admin(chat_id, user_id).await,
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platforms(vars: &[(&str, &str)]) -> Platforms {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings = Settings::from_lookup(|k| map.get(k).cloned()).expect("settings");
        Platforms::new(&settings)
    }

    fn unit() -> StartPayload {
        StartPayload::parse("u_794").expect("payload")
    }

    #[test]
    fn without_a_known_bot_links_are_the_command() {
        let p = platforms(&[("TELOXIDE_TOKEN", "1:x")]);
        // Nothing made up before Telegram has answered.
        assert_eq!(p.deep_link("telegram", &unit()), "/start u_794");
        assert_eq!(p.deep_link("console", &unit()), "/start u_794");
        assert_eq!(p.share_url("telegram", "/start u_794", "t"), None);
        assert_eq!(p.share_url("console", "/start u_794", "t"), None);
    }

    #[test]
    fn each_platform_links_and_shares_its_own_way() {
        let p = platforms(&[
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
        let tg = p.deep_link("telegram", &unit());
        assert_eq!(tg, "https://t.me/B?start=u_794");
        let share = p.share_url("telegram", &tg, "hi there").expect("tg");
        assert!(share.starts_with("https://t.me/share/url?url=https%3A%2F%2Ft.me%2FB"));
        // The console has no account: it gets the link anyone can open.
        assert_eq!(p.deep_link("console", &unit()), tg);
        assert_eq!(p.share_url("console", &tg, "x"), Some(tg.clone()));
        let m = p.deep_link("messenger", &unit());
        assert_eq!(m, "https://m.me/Page?ref=u_794");
        assert_eq!(p.share_url("messenger", &m, "x"), Some(m.clone()));
        let z = p.deep_link("zalo", &unit());
        assert_eq!(z, "https://zalo.me/oa1 /start u_794");
        assert_eq!(
            p.share_url("zalo", &z, "x").as_deref(),
            Some("https://zalo.me/oa1")
        );
    }

    #[test]
    fn capabilities_are_asked_of_the_account() {
        let p = platforms(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("MESSENGER_PAGE_ACCESS_TOKEN", "t"),
            ("MESSENGER_APP_SECRET", "s"),
            ("MESSENGER_VERIFY_TOKEN", "v"),
            ("MESSENGER_PAGE_ID", "Page"),
        ]);
        assert!(p.edits_messages("telegram"));
        assert!(!p.edits_messages("messenger"));
        // No account, no edits (the console prints every message anew).
        assert!(!p.edits_messages("console"));
        assert!(!p.edits_messages("zalo"));
        let file = PhotoRef::TelegramFile {
            file_id: "f".into(),
            bot: None,
        };
        assert_eq!(p.photo_only_on(&file), Some(Platform::Telegram));
        let url = PhotoRef::Url {
            url: "https://x/y.png".into(),
        };
        assert_eq!(p.photo_only_on(&url), None);
        let ids: Vec<&str> = p.accounts().iter().map(|a| a.account_id()).collect();
        assert_eq!(ids, ["telegram", "messenger"]);
    }
}
