//! `bluezone-bot doctor`: whether this installation can serve, one line per check. The
//! settings parse; the database answers (it is never created here) and carries exactly this
//! build's migrations; units are imported; then each configured account: the root unit it
//! serves, and what its platform says of its credentials and webhook (asked by the account
//! itself, [`Adapter::check`](crate::platform::Adapter::check)). A check that fails says
//! why; no line shows a secret. The caller exits non-zero when any check failed.
//!
//! Doctor reads and asks; it changes nothing, with one exception: a Zalo OA without a valid
//! access token gets one the way `serve` would (the new token pair is saved in the database
//! at once), since spending Zalo's single-use refresh token is the only way to check it.

use std::fmt;
use std::sync::Arc;

use anyhow::Result;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::domain::UnitCode;
use crate::store::{MigrationStatus, Store};

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`database`, `telegram webhook`).
    pub name: String,
    /// What was found (`Ok`), or why the check failed (`Err`).
    pub result: Result<String, String>,
}

impl Check {
    /// A check that passed, with what was found.
    pub fn ok(name: impl Into<String>, found: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            result: Ok(found.into()),
        }
    }

    /// A check that failed, with why.
    pub fn fail(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            result: Err(why.into()),
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }

    /// The same check with every occurrence of each of `secrets` shown as `***` (an error
    /// text from a client library may quote a request that carried one).
    pub fn hiding(mut self, secrets: &[&str]) -> Check {
        let text = match &mut self.result {
            Ok(t) | Err(t) => t,
        };
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            *text = text.replace(secret, "***");
        }
        self
    }
}

impl fmt::Display for Check {
    /// `ok    database      sqlite:///var/lib/bluezone/bluezone.db`, or `FAIL  …` and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, text) = match &self.result {
            Ok(t) => ("ok", t),
            Err(t) => ("FAIL", t),
        };
        write!(f, "{status:<5} {:<22} {text}", self.name)
    }
}

/// What an account's checks may use.
pub struct CheckContext<'a> {
    /// The settings (the public webhook address among them).
    pub settings: &'a Settings,
    /// The database, when it answers and carries this build's migrations; `None` otherwise.
    pub store: Option<&'a Store>,
}

/// Runs every check on `settings` (the error when they did not parse), handing each line to
/// `report` as soon as it is known; returns them all.
pub async fn run(settings: Result<Settings>, report: &mut dyn FnMut(&Check)) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |check: Check, checks: &mut Vec<Check>| {
        report(&check);
        checks.push(check);
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            let why = format!("{e:#} (nothing else can be checked)");
            add(Check::fail("config", why), &mut checks);
            return checks;
        }
    };
    let campaign = format!(
        "settings read; campaign for {}, target {:.0}%, {}",
        settings.campaign.app_name,
        settings.campaign.target * 100.0,
        settings.campaign.timezone
    );
    add(Check::ok("config", campaign), &mut checks);
    let serving: Vec<_> = settings.accounts.iter().filter(|a| a.serves()).collect();
    add(accounts_line(&serving), &mut checks);

    let shown = shown_url(&settings.database_url);
    let password = url::Url::parse(&settings.database_url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
        .unwrap_or_default();
    let store = match Store::connect_existing(&settings.database_url, Arc::new(SystemClock)).await {
        Ok(store) => {
            add(Check::ok("database", shown), &mut checks);
            Some(store)
        }
        Err(_) if sqlite_file(&settings.database_url).is_some_and(|f| !f.exists()) => {
            let why = format!(
                "{shown}: no such file (serve creates it; `bluezone-bot migrate` creates and \
                 migrates it)"
            );
            add(Check::fail("database", why), &mut checks);
            None
        }
        Err(e) => {
            let why = format!("{shown}: {e:#}");
            add(
                Check::fail("database", why).hiding(&[&password]),
                &mut checks,
            );
            None
        }
    };
    let mut ready = None;
    if let Some(store) = &store {
        let migrations = match store.migration_status().await {
            Ok(status) => migrations_line(&status),
            Err(e) => Check::fail("migrations", format!("{e:#}")),
        };
        let current = migrations.passed();
        add(migrations, &mut checks);
        let units = match store.unit_count().await {
            Ok(0) => Check::fail(
                "units",
                "none imported: run `bluezone-bot units import UNITS.csv` \
                 (the sample: `bluezone-bot units import --sample`)",
            ),
            Ok(n) => Check::ok("units", format!("{n} imported")),
            Err(e) => Check::fail("units", format!("{e:#}")),
        };
        add(units, &mut checks);
        if current {
            ready = Some(store);
        }
    }
    let ctx = CheckContext {
        settings: &settings,
        store: ready,
    };
    for account in serving {
        let root = account.root_unit();
        add(
            account_line(account.account_id(), account.platform(), root, ready).await,
            &mut checks,
        );
        for check in account.check(&ctx).await {
            add(check, &mut checks);
        }
    }
    if let Some(store) = store {
        store.close().await;
    }
    checks
}

/// The serving accounts, or why `serve` would refuse to start.
fn accounts_line(serving: &[&Arc<dyn crate::platform::Adapter>]) -> Check {
    if serving.is_empty() {
        return Check::fail(
            "accounts",
            "none configured: serve needs TELOXIDE_TOKEN, MESSENGER_PAGE_ACCESS_TOKEN or \
             ZALO_APP_ID (see the README)",
        );
    }
    let list: Vec<String> = serving
        .iter()
        .map(|a| format!("{} ({})", a.account_id(), a.platform().as_str()))
        .collect();
    Check::ok("accounts", list.join(", "))
}

/// What the migrations table says against this build's migrations.
fn migrations_line(s: &MigrationStatus) -> Check {
    let versions = |v: &[i64]| {
        v.iter()
            .map(|n| format!("{n:04}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if s.is_current() {
        return Check::ok("migrations", format!("all {} applied", s.known));
    }
    let mut why = Vec::new();
    if let Some(v) = s.dirty {
        why.push(format!(
            "{v:04} failed half-way: repair the database before serving"
        ));
    }
    if !s.unknown.is_empty() {
        why.push(format!(
            "{} unknown to this build ({}): the database was migrated by a newer bluezone-bot",
            s.unknown.len(),
            versions(&s.unknown)
        ));
    }
    if !s.changed.is_empty() {
        why.push(format!(
            "{} applied from a different text ({})",
            s.changed.len(),
            versions(&s.changed)
        ));
    }
    if !s.pending.is_empty() {
        why.push(format!(
            "{} of {} not applied ({}): run `bluezone-bot migrate` (serve applies them too)",
            s.pending.len(),
            s.known,
            versions(&s.pending)
        ));
    }
    Check::fail("migrations", why.join("; "))
}

/// The account itself: its platform and the unit it serves, which must be imported.
async fn account_line(
    id: &str,
    platform: crate::domain::Platform,
    root: Option<UnitCode>,
    store: Option<&Store>,
) -> Check {
    let name = format!("{id} account");
    let Some(code) = root else {
        return Check::ok(
            name,
            format!("{}, serves the whole country", platform.as_str()),
        );
    };
    match store.map(|s| s.unit(&code)) {
        None => Check::fail(
            name,
            format!(
                "{}, root unit {code}: not checked, the database is not ready",
                platform.as_str()
            ),
        ),
        Some(lookup) => match lookup.await {
            Ok(Some(unit)) => Check::ok(
                name,
                format!("{}, root unit {code} {}", platform.as_str(), unit.name),
            ),
            Ok(None) => Check::fail(
                name,
                format!(
                    "{}, root unit {code} is not imported (`bluezone-bot units import`)",
                    platform.as_str()
                ),
            ),
            Err(e) => Check::fail(name, format!("root unit {code}: {e:#}")),
        },
    }
}

/// The file of a SQLite address (`sqlite://bluezone.db`, `sqlite:///var/lib/x.db?mode=rw`).
fn sqlite_file(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// A database address as shown: without its password.
fn shown_url(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => database_url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_ok_or_fail_and_hides_secrets() {
        let ok = Check::ok("database", "sqlite://bluezone.db");
        assert!(ok.passed());
        assert!(ok.to_string().starts_with("ok    database "));
        let fail = Check::fail("telegram credentials", "GET /bot1:SECRET/getMe: refused")
            .hiding(&["1:SECRET", ""]);
        assert!(!fail.passed());
        let line = fail.to_string();
        assert!(line.starts_with("FAIL  telegram credentials"), "{line}");
        assert!(line.ends_with("GET /bot***/getMe: refused"), "{line}");
    }

    #[test]
    fn database_passwords_are_never_shown() {
        assert_eq!(
            shown_url("postgres://bz:hunter2@db:5432/bluezone"),
            "postgres://bz:***@db:5432/bluezone"
        );
        assert_eq!(shown_url("sqlite://bluezone.db"), "sqlite://bluezone.db");
    }

    #[test]
    fn sqlite_addresses_name_their_file() {
        let file = |u: &str| sqlite_file(u).map(|p| p.display().to_string());
        assert_eq!(file("sqlite://bluezone.db").as_deref(), Some("bluezone.db"));
        assert_eq!(
            file("sqlite:///var/lib/bluezone/bluezone.db?mode=rw").as_deref(),
            Some("/var/lib/bluezone/bluezone.db")
        );
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://db/bluezone"), None);
    }

    #[test]
    fn migrations_name_what_is_missing_or_foreign() {
        let current = MigrationStatus {
            known: 3,
            applied: 3,
            ..MigrationStatus::default()
        };
        assert_eq!(
            migrations_line(&current).result,
            Ok("all 3 applied".to_string())
        );
        let behind = MigrationStatus {
            known: 3,
            applied: 1,
            pending: vec![2, 3],
            unknown: vec![9],
            ..MigrationStatus::default()
        };
        let why = migrations_line(&behind).result.expect_err("fails");
        assert!(why.contains("2 of 3 not applied (0002, 0003)"), "{why}");
        assert!(why.contains("1 unknown to this build (0009)"), "{why}");
    }
}
