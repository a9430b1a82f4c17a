//! `bluezone-bot doctor`, the real binary, against the fake platforms: every line ok and
//! exit 0 when all is in place; a bad credential, a missing unit, a migration not applied
//! (or one from a newer build) or a webhook pointing elsewhere fails its own line and the
//! exit; no line shows a secret.

use std::sync::Arc;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::config::Settings;
use bluezone_bot::startup::{App, SAMPLE_UNITS};
use bluezone_bot::store::Store;
use bluezone_bot::units_csv;
use fake_platforms::{
    FakePlatform, FakeTelegram, MESSENGER_SECRET, ZALO_APP_SECRET, ZALO_OA_SECRET, fake_messenger,
    fake_zalo,
};
use sqlx::Connection;

use crate::helpers::{TestDb, init_tracing};
use crate::platform_fakes;

const BIN: &str = env!("CARGO_BIN_EXE_bluezone-bot");
/// The public address the webhook tests configure.
const PUBLIC: &str = "https://bot.example.org/bz";

/// What one run printed and how it ended.
struct Run {
    ok: bool,
    out: String,
}

impl Run {
    /// The line of check `name`.
    fn line(&self, name: &str) -> &str {
        self.out
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .starts_with(name)
            })
            .unwrap_or_else(|| panic!("no line {name:?} in:\n{}", self.out))
    }

    /// Whether check `name` passed.
    fn passed(&self, name: &str) -> bool {
        let line = self.line(name);
        assert!(
            line.starts_with("ok ") || line.starts_with("FAIL "),
            "not a check line: {line}"
        );
        line.starts_with("ok ")
    }

    /// The checks that failed.
    fn failed(&self) -> Vec<&str> {
        self.out
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .collect()
    }
}

/// Runs `bluezone-bot doctor` with only `vars` in its environment.
async fn doctor(vars: &[(String, String)]) -> Run {
    let out = tokio::process::Command::new(BIN)
        .arg("doctor")
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("doctor runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        FakeTelegram::TOKEN,
        "TEST-TOKEN",
        "PAGE-TOKEN",
        "WRONG-PAGE",
        MESSENGER_SECRET,
        ZALO_APP_SECRET,
        ZALO_OA_SECRET,
        "RT0",
        "RT1",
        "AT1",
        "bad-refresh",
    ] {
        assert!(!text.contains(secret), "{secret:?} shown:\n{text}");
    }
    Run {
        ok: out.status.success(),
        out: text,
    }
}

/// A migrated database, with the Long An sample units when `units`.
async fn database(units: bool) -> TestDb {
    let db = TestDb::new().await.expect("a test database");
    let app = App::build(Settings::for_database(&db.url))
        .await
        .expect("migrated");
    if units {
        units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS)
            .await
            .expect("units");
    }
    app.store.close().await;
    db
}

/// The fakes of the three platforms.
struct Fakes {
    telegram: FakeTelegram,
    messenger: FakePlatform,
    zalo: FakePlatform,
}

impl Fakes {
    async fn start() -> Fakes {
        Fakes {
            telegram: FakeTelegram::start().await.expect("fake Telegram"),
            messenger: fake_messenger().await,
            zalo: fake_zalo().await,
        }
    }

    /// The environment of a deployment on `db` with one account on each platform, in
    /// webhook mode under [`PUBLIC`].
    fn env(&self, db: &TestDb) -> Vec<(String, String)> {
        let mut vars = vec![
            ("DATABASE_URL".to_string(), db.url.clone()),
            (
                "TELOXIDE_TOKEN".to_string(),
                FakeTelegram::TOKEN.to_string(),
            ),
            ("TELOXIDE_API_URL".to_string(), self.telegram.api_url()),
            ("BLUEZONE_WEBHOOK_URL".to_string(), PUBLIC.to_string()),
        ];
        vars.extend(platform_fakes::env(Some(&self.messenger), Some(&self.zalo)));
        vars
    }

    /// Sets the bot's webhook at the fake Telegram, as `serve` (or another deployment) would.
    async fn set_webhook(&self, url: &str) {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!(
                "{}/bot{}/setWebhook",
                self.telegram.api_url(),
                FakeTelegram::TOKEN
            ))
            .json(&serde_json::json!({"url": url}))
            .send()
            .await
            .expect("setWebhook")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["ok"], true, "{answer}");
    }
}

/// `vars` with `key` set to `value`.
fn with(mut vars: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    vars.retain(|(k, _)| k != key);
    vars.push((key.to_string(), value.to_string()));
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_when_all_is_in_place() {
    init_tracing();
    let db = database(true).await;
    let fakes = Fakes::start().await;
    fakes
        .set_webhook(&format!("{PUBLIC}/webhooks/telegram/telegram"))
        .await;
    let run = doctor(&fakes.env(&db)).await;
    assert!(run.ok, "{}", run.out);
    assert!(run.failed().is_empty(), "{}", run.out);
    for (name, found) in [
        ("config", "settings read"),
        (
            "accounts",
            "telegram (telegram), messenger (messenger), zalo (zalo)",
        ),
        ("migrations", "applied"),
        ("units", "204 imported"),
        ("telegram account", "serves the whole country"),
        ("telegram credentials", "bot @BluezoneTestBot"),
        (
            "telegram webhook",
            "https://bot.example.org/bz/webhooks/telegram/telegram, 0 updates",
        ),
        ("messenger credentials", "Page Bluezone Page"),
        ("messenger webhook", "sends messages to Bluezone Bot"),
        ("zalo credentials", "OA Bluezone OA"),
    ] {
        let line = run.line(name);
        assert!(
            line.starts_with("ok ") && line.contains(found),
            "{name}: {found:?} expected in:\n{}",
            run.out
        );
    }
    // The Zalo check got its token as serve would: the refresh token was spent once.
    assert_eq!(fakes.zalo.spent(), ["RT0"]);
    let again = doctor(&fakes.env(&db)).await;
    assert!(again.ok, "{}", again.out);
    assert_eq!(fakes.zalo.spent(), ["RT0"], "the stored token is reused");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_credential_fails_its_own_line_and_the_exit() {
    init_tracing();
    let db = database(true).await;
    let fakes = Fakes::start().await;
    fakes
        .set_webhook(&format!("{PUBLIC}/webhooks/telegram/telegram"))
        .await;
    let env = fakes.env(&db);

    let run = doctor(&with(env.clone(), "TELOXIDE_TOKEN", "123456:WRONG")).await;
    assert!(!run.ok, "{}", run.out);
    let line = run.line("telegram credentials");
    assert!(
        line.starts_with("FAIL ") && line.contains("Invalid bot token"),
        "{line}"
    );
    assert!(!run.passed("telegram webhook"));
    assert_eq!(
        run.failed().len(),
        2,
        "only Telegram's lines fail:\n{}",
        run.out
    );
    assert!(run.out.contains("2 of 13 checks failed"), "{}", run.out);

    let env = with(env, "MESSENGER_PAGE_ACCESS_TOKEN", "WRONG-PAGE");
    let run = doctor(&with(env, "ZALO_REFRESH_TOKEN", "bad-refresh")).await;
    assert!(!run.ok);
    let line = run.line("messenger credentials");
    assert!(
        line.starts_with("FAIL ") && line.contains("Graph API error 190"),
        "{line}"
    );
    let line = run.line("zalo credentials");
    assert!(
        line.starts_with("FAIL ") && line.contains("no working access token"),
        "{line}"
    );
    assert!(
        run.passed("telegram credentials") && run.passed("units"),
        "{}",
        run.out
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_units_fails() {
    init_tracing();
    let db = database(false).await;
    let fake = FakeTelegram::start().await.expect("fake");
    let env = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        (
            "TELOXIDE_TOKEN".to_string(),
            FakeTelegram::TOKEN.to_string(),
        ),
        ("TELOXIDE_API_URL".to_string(), fake.api_url()),
    ];
    let run = doctor(&env).await;
    assert!(!run.ok, "{}", run.out);
    let line = run.line("units");
    assert!(
        line.starts_with("FAIL ") && line.contains("units import"),
        "{line}"
    );
    // Long polling, and no webhook set: as it should be.
    assert!(run.passed("telegram webhook"), "{}", run.out);
    assert_eq!(run.failed().len(), 1, "{}", run.out);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_not_applied_or_from_a_newer_build_fail() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    // An empty database (a SQLite file created, nothing in it).
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("connect");
    store.close().await;
    let env = vec![("DATABASE_URL".to_string(), db.url.clone())];
    let run = doctor(&env).await;
    assert!(!run.ok);
    assert!(run.passed("database"), "{}", run.out);
    let line = run.line("migrations");
    assert!(
        line.starts_with("FAIL ")
            && line.contains("not applied")
            && line.contains("bluezone-bot migrate"),
        "{line}"
    );

    // Migrated, then a migration this build does not know.
    database_on(&db).await;
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect");
    let blob = if db.is_postgres() {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    let sql = format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990, 'from a newer build', TRUE, {blob}, 0)"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("insert");
    conn.close().await.expect("close");
    let run = doctor(&env).await;
    let line = run.line("migrations");
    assert!(
        line.starts_with("FAIL ") && line.contains("unknown to this build (99990)"),
        "{line}"
    );
    assert!(!run.ok);
    db.drop_db().await;
}

/// Migrates `db` and imports the sample units.
async fn database_on(db: &TestDb) {
    let app = App::build(Settings::for_database(&db.url))
        .await
        .expect("migrated");
    units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    app.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_elsewhere_or_missing_fails() {
    init_tracing();
    let db = database(true).await;
    let fake = FakeTelegram::start().await.expect("fake");
    let polling = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        (
            "TELOXIDE_TOKEN".to_string(),
            FakeTelegram::TOKEN.to_string(),
        ),
        ("TELOXIDE_API_URL".to_string(), fake.api_url()),
    ];
    let webhook = with(polling.clone(), "BLUEZONE_WEBHOOK_URL", PUBLIC);
    let run = doctor(&webhook).await;
    let line = run.line("telegram webhook");
    assert!(
        line.starts_with("FAIL ") && line.contains("none set"),
        "{line}"
    );
    assert!(!run.ok);

    let fakes = Fakes {
        telegram: fake,
        messenger: fake_messenger().await,
        zalo: fake_zalo().await,
    };
    fakes
        .set_webhook("https://elsewhere.example.org/webhooks/telegram")
        .await;
    let run = doctor(&webhook).await;
    let line = run.line("telegram webhook");
    assert!(
        line.starts_with("FAIL ")
            && line.contains("elsewhere.example.org")
            && line.contains(PUBLIC),
        "{line}"
    );
    // Polling while a webhook is set: serve would take the bot over from whoever set it.
    let run = doctor(&polling).await;
    let line = run.line("telegram webhook");
    assert!(
        line.starts_with("FAIL ") && line.contains("BLUEZONE_WEBHOOK_URL is not set"),
        "{line}"
    );
    assert_eq!(run.failed().len(), 1, "{}", run.out);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_do_not_parse_and_a_missing_database_fail() {
    init_tracing();
    let run = doctor(&[("BLUEZONE_LISTEN".to_string(), "nowhere".to_string())]).await;
    assert!(!run.ok);
    let line = run.line("config");
    assert!(
        line.starts_with("FAIL ") && line.contains("BLUEZONE_LISTEN"),
        "{line}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let run = doctor(&[("DATABASE_URL".to_string(), missing)]).await;
    let line = run.line("database");
    assert!(
        line.starts_with("FAIL ") && line.contains("no such file"),
        "{line}"
    );
    assert!(
        !dir.path().join("none.db").exists(),
        "doctor creates no database"
    );
}
