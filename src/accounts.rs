//! The accounts file (`BLUEZONE_ACCOUNTS_FILE`, TOML): every Telegram bot, Zalo OA and
//! Messenger Page one deployment runs, each with its id, the root unit it serves (a province
//! code, or the whole country when absent), its own administrators and optional settings.
//!
//! Secrets are never in the file: an entry names the ENVIRONMENT VARIABLES that hold them
//! (`token_env = "LONG_AN_BOT_TOKEN"`). A file that holds a literal secret is refused, and so
//! is an unknown platform, a duplicate id, an unknown key or a variable that is not set; each
//! error names the entry and its line.
//!
//! Each platform says which keys its entries take ([`FileKey`]): a key stands for one of the
//! platform's single-account variables (`token_env` for `TELOXIDE_TOKEN`), so one account of
//! the file is read by the same code as the single account of the environment. Keys under
//! `[account.limits]` (rates, budgets) fall back to the environment's value when the entry
//! has none; credentials, addresses and names never do (a second bot must not borrow the
//! first one's token).
//!
//! ```toml
//! [[account]]
//! id = "long-an"
//! platform = "telegram"
//! root = "80"
//! token_env = "LONG_AN_BOT_TOKEN"
//! admins = ["123456"]
//! limits = { global_per_sec = 30 }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::domain::{AccountId, Platform, UnitCode};
use crate::platform::Adapter;

/// One key an entry of a platform may have, and the single-account variable it stands for.
#[derive(Debug, Clone, Copy)]
pub struct FileKey {
    /// The key in the file (`token_env`, or `limits.global_per_sec` inside `limits`).
    pub key: &'static str,
    /// The variable the platform's reader asks for (`TELOXIDE_TOKEN`).
    pub var: &'static str,
    /// How the value is given.
    pub kind: KeyKind,
}

/// How an entry gives a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A secret: the file holds the name of the environment variable that holds it (the key
    /// ends in `_env`).
    Secret,
    /// A public value of this account (an id, an address, a name): in the file, never taken
    /// from the environment.
    Own,
    /// A setting (a rate, a budget): in the file, else the environment's value, else the
    /// default.
    Shared,
}

/// What an account is besides its platform's settings: its id, the root unit it serves and
/// its own administrators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Unique among the configured accounts.
    pub id: AccountId,
    /// The unit it serves (its people, searches and links are under it); `None`: the whole
    /// country.
    pub root: Option<UnitCode>,
    /// Its administrators: user ids on this account (besides `BLUEZONE_ADMINS`, which are
    /// administrators everywhere). They act under the root.
    pub admins: Vec<String>,
}

impl AccountInfo {
    /// The single account of `platform` described by the environment: named after the
    /// platform, serving the whole country, no administrators of its own.
    pub fn of_platform(platform: Platform) -> AccountInfo {
        AccountInfo {
            id: AccountId::of_platform(platform),
            root: None,
            admins: Vec::new(),
        }
    }
}

/// Builds one account of a platform from its info and a lookup of the platform's
/// single-account variables.
pub type BuildAccount =
    fn(AccountInfo, &dyn Fn(&str) -> Option<String>) -> Result<Arc<dyn Adapter>>;

/// How a platform's accounts are written in the file.
#[derive(Clone, Copy)]
pub struct AccountFile {
    /// The platform (`platform = "telegram"`).
    pub platform: Platform,
    /// The keys its entries take.
    pub keys: &'static [FileKey],
    /// Builds one account.
    pub build: BuildAccount,
}

/// The whole file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    account: Vec<toml::Spanned<toml::Table>>,
}

/// The keys every entry has, whatever its platform.
const COMMON: &[&str] = &["id", "platform", "root", "admins", "limits"];

/// Reads the accounts in the file at `path`; `env` reads the environment (the variables the
/// entries name, and the shared settings).
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Adapter>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the accounts file {}", path.display()))?;
    parse(&text, env).with_context(|| format!("accounts file {}", path.display()))
}

/// Reads the accounts in `text` (see [`load`]).
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Adapter>>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, entry) in raw.account.iter().enumerate() {
        let line = text[..entry.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        let table = entry.get_ref();
        let named = table
            .get("id")
            .and_then(|v| v.as_str())
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        let account = read_entry(table, env, &mut seen)
            .with_context(|| format!("line {line}: account #{}{named}", i + 1))?;
        out.push(account);
    }
    if out.is_empty() {
        bail!("no [[account]] entries");
    }
    Ok(out)
}

/// One entry.
fn read_entry(
    table: &toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
    seen: &mut HashSet<AccountId>,
) -> Result<Arc<dyn Adapter>> {
    let text = |k: &str| -> Result<Option<String>> {
        match table.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(toml::Value::Integer(n)) => Ok(Some(n.to_string())),
            Some(_) => bail!("`{k}` must be a string"),
        }
    };
    let id = text("id")?.context("`id` is missing")?;
    let id = AccountId::parse(&id).map_err(|e| anyhow!("`id`: {e}"))?;
    if !seen.insert(id.clone()) {
        bail!("duplicate id {id:?}: each account needs its own");
    }
    let platform = text("platform")?.context("`platform` is missing")?;
    let names: Vec<&str> = crate::platform::ACCOUNT_FILES
        .iter()
        .map(|f| f.platform.as_str())
        .collect();
    let Some(file) = crate::platform::ACCOUNT_FILES
        .iter()
        .find(|f| f.platform.as_str() == platform)
    else {
        bail!(
            "unknown platform {platform:?} (one of: {})",
            names.join(", ")
        );
    };
    let root = text("root")?
        .filter(|r| !r.is_empty())
        .map(|r| UnitCode::parse(&r).map_err(|e| anyhow!("`root`: {e}")))
        .transpose()?;
    let admins = match table.get("admins") {
        None => Vec::new(),
        Some(toml::Value::Array(list)) => list
            .iter()
            .map(|v| match v {
                toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                _ => Err(anyhow!("`admins` must list user ids on this account")),
            })
            .collect::<Result<_>>()?,
        Some(_) => bail!("`admins` must be a list of user ids, e.g. [\"123456\"]"),
    };
    let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
    for (key, value) in table {
        if COMMON.contains(&key.as_str()) && key != "limits" {
            continue;
        }
        if key == "limits" {
            let Some(limits) = value.as_table() else {
                bail!("`limits` must be a table, e.g. limits = {{ global_per_sec = 30 }}");
            };
            for (k, v) in limits {
                let full = format!("limits.{k}");
                let Some(fk) = file.keys.iter().find(|f| f.key == full) else {
                    bail!("unknown limit `{k}` for {platform} ({})", known(file, true));
                };
                values.insert(fk.var, scalar(&full, v)?);
            }
            continue;
        }
        let Some(fk) = file.keys.iter().find(|f| f.key == key) else {
            if file
                .keys
                .iter()
                .any(|f| f.kind == KeyKind::Secret && f.key == format!("{key}_env"))
            {
                bail!(
                    "`{key}` would put a secret in the file: set it in an environment variable and name that variable, e.g. {key}_env = \"{}\"",
                    suggest(&id, key)
                );
            }
            bail!(
                "unknown key `{key}` for {platform} ({})",
                known(file, false)
            );
        };
        let v = scalar(key, value)?;
        let v = match fk.kind {
            KeyKind::Secret => {
                if !is_variable_name(&v) {
                    bail!(
                        "`{key}` must NAME the environment variable that holds the secret (such as {}), not hold the secret itself",
                        suggest(&id, key.trim_end_matches("_env"))
                    );
                }
                crate::config::var(env, &v)
                    .with_context(|| format!("`{key}` names {v}, which is not set"))?
            }
            KeyKind::Own | KeyKind::Shared => v,
        };
        values.insert(fk.var, v);
    }
    let own: HashSet<&str> = file
        .keys
        .iter()
        .filter(|f| f.kind != KeyKind::Shared)
        .map(|f| f.var)
        .collect();
    let lookup = |k: &str| -> Option<String> {
        if let Some(v) = values.get(k) {
            return Some(v.clone());
        }
        if own.contains(k) { None } else { env(k) }
    };
    let info = AccountInfo { id, root, admins };
    (file.build)(info, &lookup)
}

/// One account as `bluezone-bot accounts list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLine {
    /// Its id.
    pub id: String,
    /// Its platform.
    pub platform: Platform,
    /// The unit it serves, with its name when imported (`whole country` without a root).
    pub root: String,
    /// Whether its credentials work, and what the platform says of it.
    pub credentials: std::result::Result<String, String>,
    /// Its webhook.
    pub webhook: String,
}

/// Every configured account, asked whether its credentials work (never printing a secret).
pub async fn list(
    store: &crate::store::Store,
    settings: &crate::config::Settings,
) -> Vec<AccountLine> {
    let mut out = Vec::new();
    for account in &settings.accounts {
        let root = match account.root_unit() {
            None => "whole country".to_string(),
            Some(code) => match store.unit(&code).await {
                Ok(Some(u)) => format!("{code} ({})", u.name),
                Ok(None) => format!("{code} (not imported)"),
                Err(_) => code.to_string(),
            },
        };
        let status = account.status(store, settings).await;
        out.push(AccountLine {
            id: account.account_id().to_string(),
            platform: account.platform(),
            root,
            credentials: status.credentials,
            webhook: status.webhook,
        });
    }
    out
}

/// The lines as a table, one account a line.
pub fn table(lines: &[AccountLine]) -> String {
    let rows: Vec<[String; 5]> = lines
        .iter()
        .map(|l| {
            [
                l.id.clone(),
                l.platform.to_string(),
                l.root.clone(),
                match &l.credentials {
                    Ok(who) => format!("ok ({who})"),
                    Err(why) => format!("FAILING: {why}"),
                },
                l.webhook.clone(),
            ]
        })
        .collect();
    let head = ["ACCOUNT", "PLATFORM", "ROOT", "CREDENTIALS", "WEBHOOK"];
    let mut widths = head.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(head)];
    for r in &rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out.join("\n") + "\n"
}

/// A value as the text a variable would hold.
fn scalar(key: &str, v: &toml::Value) -> Result<String> {
    match v {
        toml::Value::String(s) => Ok(s.trim().to_string()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => bail!("`{key}` must be a string or a number"),
    }
}

/// Whether `name` can be an environment variable's name (`LONG_AN_BOT_TOKEN`): a literal
/// token (`123:ABC…`, a long mixed-case string) cannot.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A variable name to suggest for `key` of account `id`.
fn suggest(id: &AccountId, key: &str) -> String {
    format!("{}_{}", id.as_str(), key)
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// The keys a platform's entries take, for an error message.
fn known(file: &AccountFile, limits: bool) -> String {
    let keys: Vec<&str> = file
        .keys
        .iter()
        .filter(|k| k.key.starts_with("limits.") == limits)
        .map(|k| k.key.trim_start_matches("limits."))
        .collect();
    let mut keys = keys;
    if !limits {
        keys.splice(0..0, COMMON.iter().copied());
    }
    format!("known: {}", keys.join(", "))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env() -> HashMap<String, String> {
        [
            ("LONG_AN_TOKEN", "111:SECRET-A"),
            ("HCM_TOKEN", "222:SECRET-B"),
            ("BLUEZONE_TG_GLOBAL_PER_SEC", "20"),
            ("TELOXIDE_TOKEN", "999:THE-SHORTHAND-ONE"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn read(text: &str) -> Result<Vec<Arc<dyn Adapter>>> {
        let env = env();
        parse(text, &|k| env.get(k).cloned())
    }

    fn error(text: &str) -> String {
        match read(text) {
            Ok(a) => panic!("accepted: {a:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    const TWO: &str = r#"
# Two provincial bots.
[[account]]
id = "long-an"
platform = "telegram"
root = "80"
token_env = "LONG_AN_TOKEN"
admins = ["42", 43]
limits = { global_per_sec = 25 }

[[account]]
id = "hcm"
platform = "telegram"
root = "79"
token_env = "HCM_TOKEN"
api_url = "http://127.0.0.1:9/tg"
"#;

    #[test]
    fn entries_become_accounts_with_their_roots_and_admins() -> Result<()> {
        let accounts = read(TWO)?;
        let ids: Vec<&str> = accounts.iter().map(|a| a.account_id()).collect();
        assert_eq!(ids, ["long-an", "hcm"]);
        assert_eq!(accounts[0].root_unit().as_deref(), Some("80"));
        assert_eq!(accounts[1].root_unit().as_deref(), Some("79"));
        assert_eq!(accounts[0].admins(), ["42", "43"]);
        assert!(accounts[1].admins().is_empty());
        assert!(accounts.iter().all(|a| a.platform() == Platform::Telegram));
        // Nothing secret is printed.
        let printed = format!("{accounts:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        Ok(())
    }

    #[test]
    fn errors_name_the_entry_and_its_line() {
        let e = error("[[account]]\nid = \"a\"\nplatform = \"icq\"\n");
        assert!(
            e.contains("line 1") && e.contains("(a)") && e.contains("unknown platform \"icq\""),
            "{e}"
        );
        let dup = format!(
            "{TWO}\n[[account]]\nid = \"hcm\"\nplatform = \"telegram\"\ntoken_env = \"HCM_TOKEN\"\n"
        );
        let e = error(&dup);
        assert!(
            e.contains("line 18") && e.contains("account #3") && e.contains("duplicate id"),
            "{e}"
        );
        let e =
            error("\n[[account]]\nid = \"a\"\nplatform = \"telegram\"\ntoken = \"111:SECRET-A\"\n");
        assert!(
            e.contains("line 2") && e.contains("would put a secret in the file"),
            "{e}"
        );
        assert!(!e.contains("SECRET-A"), "the secret is not repeated: {e}");
        let e = error(
            "[[account]]\nid = \"a\"\nplatform = \"telegram\"\ntoken_env = \"111:SECRET-A\"\n",
        );
        assert!(e.contains("must NAME the environment variable"), "{e}");
        assert!(!e.contains("SECRET-A"), "{e}");
        let e = error(
            "[[account]]\nid = \"a\"\nplatform = \"telegram\"\ntoken_env = \"NOT_SET_ANYWHERE\"\n",
        );
        assert!(e.contains("NOT_SET_ANYWHERE, which is not set"), "{e}");
        let e = error(
            "[[account]]\nid = \"a\"\nplatform = \"telegram\"\ntoken_env = \"LONG_AN_TOKEN\"\ncolour = 1\n",
        );
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = error("[[account]]\nid = \"Bad Id\"\nplatform = \"telegram\"\n");
        assert!(e.contains("account id"), "{e}");
        let e = error(
            "[[account]]\nid = \"a\"\nplatform = \"telegram\"\ntoken_env = \"LONG_AN_TOKEN\"\nroot = \"8 0\"\n",
        );
        assert!(e.contains("`root`"), "{e}");
        let e = error("[[acount]]\nid = \"a\"\n");
        assert!(e.contains("acount"), "{e}");
        assert!(error("").contains("no [[account]]"));
    }

    #[test]
    fn the_example_file_reads() -> Result<()> {
        let text = include_str!("../accounts.example.toml");
        // Every variable it names, set to something.
        let get = |k: &str| {
            k.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
                .then(|| format!("value-of-{k}"))
                .filter(|_| k.contains("TOKEN") || k.contains("SECRET"))
        };
        let accounts = parse(text, &get)?;
        let ids: Vec<&str> = accounts.iter().map(|a| a.account_id()).collect();
        assert_eq!(
            ids,
            [
                "long-an",
                "tien-giang",
                "bluezone",
                "zalo-long-an",
                "fb-long-an"
            ]
        );
        let platforms: Vec<Platform> = accounts.iter().map(|a| a.platform()).collect();
        assert_eq!(
            platforms[3..],
            [Platform::Zalo, Platform::Messenger],
            "{platforms:?}"
        );
        assert_eq!(accounts[2].root_unit(), None, "the national bot");
        Ok(())
    }

    #[test]
    fn credentials_never_come_from_the_shorthand_variables() {
        // An entry without a token does not borrow TELOXIDE_TOKEN: it runs no bot.
        let accounts =
            read("[[account]]\nid = \"a\"\nplatform = \"telegram\"\nusername = \"ABot\"\n")
                .expect("a username alone is an account that only lends its name");
        assert!(!accounts[0].serves());
    }
}
