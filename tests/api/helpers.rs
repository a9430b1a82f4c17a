//! The harness: a fresh database (SQLite file, or a new PostgreSQL database when
//! `BLUEZONE_TEST_POSTGRES_URL` is set), a fake Telegram, and the real `App` running against
//! both. Settings are built with `Settings::from_lookup`, so no test touches the process
//! environment.

// Other areas' tests use different parts of the harness.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::{Context, Result};
use bluezone_bot::clock::{ManualClock, SharedClock, SystemClock};
use bluezone_bot::config::Settings;
use bluezone_bot::domain::{Platform, UnitCode};
use bluezone_bot::startup::{App, SAMPLE_UNITS};
use bluezone_bot::store::{Person, Store, Unit};
use bluezone_bot::units_csv;
use fake_platforms::{Call, FakeTelegram, TgUser};
use sqlx::Connection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for the bot to answer before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// The PostgreSQL server to create test databases on, when set.
pub const PG_ENV: &str = "BLUEZONE_TEST_POSTGRES_URL";

static TRACING: Once = Once::new();

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=bluezone_bot=debug`).
/// A unit code the test knows to be valid.
pub fn unit_code(code: &str) -> UnitCode {
    UnitCode::parse(code).expect("a valid unit code")
}

pub fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    });
}

/// A database that exists for one test.
pub struct TestDb {
    /// The `DATABASE_URL` to use.
    pub url: String,
    /// Keeps the SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server URL and the database name, to drop at the end.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on whichever backend the environment selects.
    pub async fn new() -> Result<TestDb> {
        match std::env::var(PG_ENV).ok().filter(|v| !v.trim().is_empty()) {
            Some(server) => {
                let name = format!("bz_test_{}", rand::random::<u64>());
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .with_context(|| format!("connecting to {PG_ENV}"))?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                let mut url = url::Url::parse(&server)?;
                url.set_path(&format!("/{name}"));
                Ok(TestDb {
                    url: url.to_string(),
                    _dir: None,
                    pg: Some((server, name)),
                })
            }
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Ok(TestDb {
                    url,
                    _dir: Some(dir),
                    pg: None,
                })
            }
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Drops a PostgreSQL database (a SQLite folder goes with the value).
    pub async fn drop_db(self) {
        if let Some((server, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(server).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

/// How to start the app.
#[derive(Clone, Default)]
pub struct Options {
    /// Telegram user ids that are administrators.
    pub admins: Vec<i64>,
    /// Webhook mode: the public URL and the secret token.
    pub webhook: Option<(String, Option<String>)>,
    /// A manual clock; the system clock when `None`.
    pub clock: Option<ManualClock>,
    /// Do not import the bundled Long An units.
    pub no_units: bool,
    /// More environment variables.
    pub env: Vec<(String, String)>,
    /// The fake bot's username (getMe); [`FakeTelegram::USERNAME`] when `None`.
    pub bot_name: Option<&'static str>,
}

/// A running app over a fresh database and a fake Telegram.
pub struct TestApp {
    /// The app's database (a second handle; the app has its own pool).
    pub store: Store,
    /// The fake Bot API.
    pub fake: Arc<FakeTelegram>,
    /// Cancels the app.
    pub shutdown: CancellationToken,
    /// The app's task.
    pub handle: Option<JoinHandle<Result<()>>>,
    /// Where the app's HTTP server listens.
    pub http: SocketAddr,
    /// The database.
    pub db: Option<TestDb>,
    /// How it was started, for restarts.
    pub options: Options,
}

/// Starts the app with default options (Long An units, no admins, polling).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Starts the app with `options`.
pub async fn spawn_app_with(options: Options) -> TestApp {
    init_tracing();
    let db = TestDb::new().await.expect("a test database");
    let name = options.bot_name.unwrap_or(FakeTelegram::USERNAME);
    let fake = Arc::new(
        FakeTelegram::start_as(name, None)
            .await
            .expect("the fake Telegram"),
    );
    let (store, shutdown, handle, http) = start(&db, &fake, &options, !options.no_units)
        .await
        .expect("the app starts");
    TestApp {
        store,
        fake,
        shutdown,
        handle: Some(handle),
        http,
        db: Some(db),
        options,
    }
}

/// The settings for `db` and `fake`.
pub fn settings(
    db_url: &str,
    fake: &FakeTelegram,
    options: &Options,
    listen: SocketAddr,
) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), db_url.into());
    vars.insert("TELOXIDE_TOKEN".into(), FakeTelegram::TOKEN.into());
    vars.insert("TELOXIDE_API_URL".into(), fake.api_url());
    vars.insert("BLUEZONE_LISTEN".into(), listen.to_string());
    let admins: Vec<String> = options
        .admins
        .iter()
        .map(|a| format!("telegram:{a}"))
        .collect();
    vars.insert("BLUEZONE_ADMINS".into(), admins.join(","));
    if let Some((url, secret)) = &options.webhook {
        vars.insert("BLUEZONE_WEBHOOK_URL".into(), url.clone());
        if let Some(s) = secret {
            vars.insert("BLUEZONE_WEBHOOK_SECRET".into(), s.clone());
        }
    }
    // Reminders and digests are off unless a test turns them on: a test that moves the clock
    // by days would otherwise get them between its own messages.
    vars.insert("BLUEZONE_REMINDER_MAX".into(), "0".into());
    vars.insert("BLUEZONE_DIGEST_AT".into(), "off".into());
    // Tests run many apps at once: no shared metrics port (the metrics tests bind their own).
    vars.insert("BLUEZONE_METRICS_LISTEN".into(), "off".into());
    for (k, v) in &options.env {
        vars.insert(k.clone(), v.clone());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

async fn start(
    db: &TestDb,
    fake: &FakeTelegram,
    options: &Options,
    import_units: bool,
) -> Result<(Store, CancellationToken, JoinHandle<Result<()>>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listen = listener.local_addr()?;
    let settings = settings(&db.url, fake, options, listen);
    let clock: SharedClock = match &options.clock {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let app = App::build_with_clock(settings, clock.clone()).await?;
    let store = Store::connect(&db.url, clock).await?;
    if import_units && store.unit_count().await? == 0 {
        units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS).await?;
    }
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_on(listener, shutdown.clone()));
    Ok((store, shutdown, handle, listen))
}

impl TestApp {
    /// Stops the app and waits for it; the app's result.
    pub async fn stop_app(&mut self) -> Result<()> {
        self.shutdown.cancel();
        let result = match self.handle.take() {
            Some(h) => tokio::time::timeout(WAIT, h)
                .await
                .context("the app did not stop in time")?
                .context("the app panicked")?,
            None => Ok(()),
        };
        self.store.close().await;
        result
    }

    /// Stops the app and starts a new one on the same database and fake.
    pub async fn restart(&mut self) {
        self.stop_app().await.expect("the app stopped cleanly");
        self.start_again().await;
    }

    /// Starts a new app on the same database and fake, after [`TestApp::stop_app`].
    pub async fn start_again(&mut self) {
        let db = self.db.as_ref().expect("the database");
        let (store, shutdown, handle, http) = start(db, &self.fake, &self.options, false)
            .await
            .expect("the app starts again");
        self.store = store;
        self.shutdown = shutdown;
        self.handle = Some(handle);
        self.http = http;
    }

    /// Stops the app, checks it stopped cleanly, and drops a PostgreSQL database.
    pub async fn finish(mut self) {
        self.stop_app().await.expect("the app stopped cleanly");
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.as_ref().is_some_and(TestDb::is_postgres)
    }

    /// Sends `text` from `user` and waits for the bot's `n` messages in reply.
    pub async fn say(&self, user: &TgUser, text: &str, n: usize) -> Vec<Call> {
        let mark = self.fake.mark();
        self.fake.send_text(user, text);
        self.replies(user, mark, n).await
    }

    /// Presses the button labelled `label` on `on` (a message the bot sent `user`) and waits
    /// for `n` messages, plus the answer to the press.
    pub async fn press(&self, user: &TgUser, on: &Call, label: &str, n: usize) -> Vec<Call> {
        let data = on
            .button_data(label)
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", on.button_labels()));
        self.press_data(user, on, &data, n).await
    }

    /// Presses a button with raw callback `data` on `on`; waits for `n` messages and the
    /// answerCallbackQuery.
    pub async fn press_data(&self, user: &TgUser, on: &Call, data: &str, n: usize) -> Vec<Call> {
        let mark = self.fake.mark();
        let message_id = on.message_id().unwrap_or(1);
        let cb = self.fake.press_button(user, message_id, data);
        self.fake
            .wait_for_since(mark, 1, WAIT, |c| {
                c.method == "answerCallbackQuery"
                    && c.params.get("callback_query_id").and_then(|v| v.as_str())
                        == Some(cb.as_str())
            })
            .await
            .unwrap_or_else(|e| panic!("the press was not answered: {e}"));
        self.replies(user, mark, n).await
    }

    /// Waits for `n` messages to `user` recorded since `mark`, then for the outbox to drain,
    /// and returns them; fails when the turn sent more (or fewer) than `n`.
    pub async fn replies(&self, user: &TgUser, mark: usize, n: usize) -> Vec<Call> {
        self.fake
            .wait_for_since(mark, n, WAIT, |c| c.is_message_to(user.id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.drained().await;
        let got: Vec<Call> = self
            .fake
            .calls_since(mark)
            .into_iter()
            .filter(|c| c.is_message_to(user.id))
            .collect();
        let texts: Vec<&str> = got.iter().map(Call::text).collect();
        assert_eq!(got.len(), n, "expected {n} messages, got {texts:#?}");
        got
    }

    /// Waits until nothing is queued or being sent.
    pub async fn drained(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let due = self
                .store
                .next_due_at(Platform::Telegram)
                .await
                .expect("reading the outbox");
            if due.is_none() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox never drained"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The person behind a Telegram user.
    pub async fn person(&self, user: &TgUser) -> Option<Person> {
        self.store
            .person_by_platform_id(Platform::Telegram, &user.id.to_string())
            .await
            .expect("reading a person")
    }

    /// A unit with its counters.
    pub async fn unit(&self, code: &str) -> Unit {
        self.store
            .unit(&unit_code(code))
            .await
            .expect("reading a unit")
            .unwrap_or_else(|| panic!("unit {code} exists"))
    }

    /// Waits until `check` holds for the person behind `user` (state is written just before
    /// replies go out, so a reply seen means the row is written; this covers events that
    /// send nothing, such as a block).
    pub async fn wait_person(&self, user: &TgUser, check: impl Fn(&Person) -> bool) -> Person {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(p) = self.person(user).await
                && check(&p)
            {
                return p;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the person never reached the expected state: {:?}",
                self.person(user).await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The base URL of the app's HTTP server, once it answers /healthz.
    pub async fn http_base(&self) -> String {
        let base = format!("http://{}", self.http);
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await
                && r.status().is_success()
            {
                return base;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the HTTP server never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The first message in `calls` whose text contains `needle`.
pub fn find<'a>(calls: &'a [Call], needle: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| c.text().contains(needle))
        .unwrap_or_else(|| {
            let texts: Vec<&str> = calls.iter().map(Call::text).collect();
            panic!("no message contains {needle:?}: {texts:#?}")
        })
}

/// The last message in `calls` that has buttons.
pub fn last_with_buttons(calls: &[Call]) -> &Call {
    calls
        .iter()
        .rev()
        .find(|c| !c.buttons().is_empty())
        .expect("a message with buttons")
}

/// Waits until every one of `n` chats got a message `is_ours` from `fake` (each at least
/// once), failing after `within` with how many did.
pub async fn wait_every_chat(
    fake: &FakeTelegram,
    n: usize,
    is_ours: impl Fn(&Call) -> bool,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got: std::collections::HashSet<i64> = fake
            .calls_matching(&is_ours)
            .into_iter()
            .filter_map(|c| c.chat_id)
            .collect();
        if got.len() == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} recipients got it",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
