//! Many accounts in one deployment (an accounts file): two Telegram bots, each with its own
//! fake Bot API and its own root unit. A person belongs to the bot they talk to, finds only
//! the units under its root and is answered through its API; the national administrator's
//! coverage counts both; each bot has its own webhook address and secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::startup::{App, SAMPLE_UNITS};
use bluezone_bot::store::Store;
use bluezone_bot::units_csv;
use fake_platforms::{Call, FakeTelegram, TgUser};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Options, TestDb, WAIT, init_tracing, settings, unit_code};

/// A national administrator (`BLUEZONE_ADMINS`).
const ADMIN: i64 = 900;
/// An administrator the Bến Lức bot names in the accounts file.
const BEN_LUC_ADMIN: i64 = 901;

/// Two bots: `tan-an` serves Thành phố Tân An (794), `ben-luc` Huyện Bến Lức (803).
struct TwoBots {
    db: Option<TestDb>,
    store: Store,
    tan_an: Arc<FakeTelegram>,
    ben_luc: Arc<FakeTelegram>,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    http: SocketAddr,
    _dir: tempfile::TempDir,
}

/// The accounts file for the two fakes, with `extra` lines in each entry.
fn accounts_file(tan_an: &FakeTelegram, ben_luc: &FakeTelegram, extra: [&str; 2]) -> String {
    format!(
        r#"# Two district bots of Long An.
[[account]]
id = "tan-an"
platform = "telegram"
root = "794"
token_env = "TAN_AN_TOKEN"
api_url = "{}"
{}

[[account]]
id = "ben-luc"
platform = "telegram"
root = "803"
token_env = "BEN_LUC_TOKEN"
api_url = "{}"
admins = ["{BEN_LUC_ADMIN}"]
{}
"#,
        tan_an.api_url(),
        extra[0],
        ben_luc.api_url(),
        extra[1]
    )
}

impl TwoBots {
    async fn start(webhook: Option<&str>, extra: [&str; 2], env: &[(&str, &str)]) -> TwoBots {
        init_tracing();
        let db = TestDb::new().await.expect("a database");
        let tan_an = Arc::new(
            FakeTelegram::start_as("TanAnBot", None)
                .await
                .expect("a fake"),
        );
        let ben_luc = Arc::new(
            FakeTelegram::start_as("BenLucBot", None)
                .await
                .expect("a fake"),
        );
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("accounts.toml");
        std::fs::write(&path, accounts_file(&tan_an, &ben_luc, extra)).expect("written");
        let mut vars = vec![
            (
                "BLUEZONE_ACCOUNTS_FILE".to_string(),
                path.display().to_string(),
            ),
            ("TAN_AN_TOKEN".into(), FakeTelegram::TOKEN.into()),
            ("BEN_LUC_TOKEN".into(), FakeTelegram::TOKEN.into()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let options = Options {
            admins: vec![ADMIN],
            webhook: webhook.map(|u| (u.to_string(), None)),
            env: vars,
            ..Options::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let http = listener.local_addr().expect("an address");
        // The helper's TELOXIDE_TOKEN is ignored: the accounts file lists every account.
        let settings = settings(&db.url, &tan_an, &options, http);
        assert_eq!(settings.accounts.len(), 2);
        let app = App::build_with_clock(settings, Arc::new(SystemClock))
            .await
            .expect("the app builds");
        let store = Store::connect(&db.url, Arc::new(SystemClock))
            .await
            .expect("a store");
        units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
            .await
            .expect("units");
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_on(listener, shutdown.clone()));
        TwoBots {
            db: Some(db),
            store,
            tan_an,
            ben_luc,
            shutdown,
            handle: Some(handle),
            http,
            _dir: dir,
        }
    }

    /// Sends `text` from `user` to the bot behind `fake` and returns every message the
    /// turn sent `user` there (once the outbox is empty).
    async fn say(&self, fake: &FakeTelegram, user: &TgUser, text: &str) -> Vec<Call> {
        let mark = fake.mark();
        fake.send_text(user, text);
        self.collect(fake, user, mark).await
    }

    /// Presses the button labelled `label` on `on`.
    async fn press(&self, fake: &FakeTelegram, user: &TgUser, on: &Call, label: &str) -> Vec<Call> {
        let data = on
            .button_data(label)
            .unwrap_or_else(|| panic!("no button {label:?} in {:?}", on.button_labels()));
        let mark = fake.mark();
        fake.press_button(user, on.message_id().unwrap_or(1), &data);
        self.collect(fake, user, mark).await
    }

    async fn collect(&self, fake: &FakeTelegram, user: &TgUser, mark: usize) -> Vec<Call> {
        fake.wait_for_since(mark, 1, WAIT, |c| c.is_message_to(user.id))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = tokio::time::Instant::now() + WAIT;
        for account in ["tan-an", "ben-luc"] {
            while self
                .store
                .next_due_at(account)
                .await
                .expect("outbox")
                .is_some()
            {
                assert!(tokio::time::Instant::now() < deadline, "never drained");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        fake.calls_since(mark)
            .into_iter()
            .filter(|c| c.is_message_to(user.id))
            .collect()
    }

    async fn finish(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(WAIT, h)
                .await
                .expect("stopped in time")
                .expect("no panic")
                .expect("stopped cleanly");
        }
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.drop_db().await;
        }
    }
}

fn texts(calls: &[Call]) -> String {
    calls
        .iter()
        .map(Call::text)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bot_serves_its_root_and_the_country_sees_both() {
    // The administrator's chat gets many answers in a row: a burst that holds them all (a
    // limit the entries do not set comes from the environment).
    let app = TwoBots::start(None, ["", ""], &[("BLUEZONE_TG_PRIVATE_BURST", "50")]).await;
    let lan = TgUser::en(5001);
    // A link to a Bến Lức commune opened on the Tân An bot is no link of that bot.
    let r = app.say(&app.tan_an, &lan, "/start u_27991").await;
    assert!(texts(&r).contains("not valid"), "{}", texts(&r));
    // Searching finds only Tân An's units.
    let r = app.say(&app.tan_an, &lan, "Bến Lức").await;
    assert!(texts(&r).contains("No unit found"), "{}", texts(&r));
    let r = app.say(&app.tan_an, &lan, "Phường 5").await;
    assert!(texts(&r).contains("Found 1 unit"), "{}", texts(&r));
    let r = app
        .press(&app.tan_an, &lan, &r[0], "Phường 5 (Thành phố Tân An)")
        .await;
    assert!(
        texts(&r).contains("registered in: Phường 5"),
        "{}",
        texts(&r)
    );
    // Browsing starts at the bot's root.
    let r = app.say(&app.tan_an, &lan, "/start").await;
    assert!(!r.is_empty());
    let lan_row = app
        .store
        .person_by_platform_id("tan-an", &lan.id.to_string())
        .await
        .expect("read")
        .expect("Lan belongs to the Tân An bot");
    assert_eq!(lan_row.unit_code.as_deref(), Some("27685"));

    // The Bến Lức bot takes its own link; its replies go through its own API.
    let minh = TgUser::en(5002);
    let r = app.say(&app.ben_luc, &minh, "/start u_27991").await;
    assert!(texts(&r).contains("Thị trấn Bến Lức"), "{}", texts(&r));
    assert!(
        app.tan_an.messages_to(minh.id).is_empty(),
        "nothing through the other bot"
    );
    assert!(
        app.ben_luc.messages_to(lan.id).is_empty(),
        "nothing through the other bot"
    );
    assert!(
        app.store
            .person_by_platform_id("tan-an", &minh.id.to_string())
            .await
            .expect("read")
            .is_none()
    );
    // The same Telegram user on the other bot is another person, in that bot's units.
    let r = app.say(&app.ben_luc, &lan, "/start").await;
    assert!(!r.is_empty());
    let other = app
        .store
        .person_by_platform_id("ben-luc", &lan.id.to_string())
        .await
        .expect("read")
        .expect("Lan on the Bến Lức bot");
    assert_ne!(other.id, lan_row.id);

    // The province counts the people of both bots.
    let province = app
        .store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("80");
    assert_eq!(province.sub_members, 2);
    // The national administrator, on either bot, reads the whole country.
    let admin = TgUser::en(ADMIN);
    let r = app.say(&app.tan_an, &admin, "/coverage").await;
    assert!(texts(&r).contains("Whole country"), "{}", texts(&r));
    assert!(texts(&r).contains("Members 2 ·"), "{}", texts(&r));
    // A leader of a Bến Lức commune is invited to the Bến Lức bot, whichever bot asks.
    let r = app.say(&app.tan_an, &admin, "/invite_leader 27991").await;
    assert!(
        texts(&r).contains("https://t.me/BenLucBot?start="),
        "{}",
        texts(&r)
    );
    let r = app.say(&app.tan_an, &admin, "/invite_leader 27685").await;
    assert!(
        texts(&r).contains("https://t.me/TanAnBot?start="),
        "{}",
        texts(&r)
    );
    // The Bến Lức bot's own administrator reads Bến Lức, and nothing outside it.
    let local = TgUser::en(BEN_LUC_ADMIN);
    let r = app.say(&app.ben_luc, &local, "/coverage").await;
    assert!(texts(&r).contains("Huyện Bến Lức"), "{}", texts(&r));
    assert!(texts(&r).contains("Members 1 ·"), "{}", texts(&r));
    let r = app.say(&app.ben_luc, &local, "/coverage 794").await;
    assert!(texts(&r).contains("only see and manage"), "{}", texts(&r));
    let r = app.say(&app.ben_luc, &local, "/invite_leader 27685").await;
    assert!(!texts(&r).contains("https://"), "{}", texts(&r));
    // On the other bot the same id is nobody's administrator.
    let r = app.say(&app.tan_an, &local, "/coverage").await;
    assert!(texts(&r).contains("for unit leaders"), "{}", texts(&r));

    // A photo broadcast to the province from the Tân An bot: its file id is that bot's, so
    // Bến Lức's member gets the caption through the Bến Lức bot.
    let r = app.say(&app.tan_an, &admin, "/broadcast 80").await;
    assert!(texts(&r).contains("send a photo"), "{}", texts(&r));
    let mark = app.tan_an.mark();
    let caption = "Cài Bluezone hôm nay";
    let (_, file_id) = app.tan_an.send_photo(&admin, caption);
    let r = app.collect(&app.tan_an, &admin, mark).await;
    let preview = r.last().expect("a preview");
    assert!(
        preview
            .text()
            .contains("1 of them use Zalo, Messenger or another bot"),
        "{}",
        texts(&r)
    );
    let everyone = label_starting(preview, "👥");
    let r = app.press(&app.tan_an, &admin, preview, &everyone).await;
    let confirm = r.last().expect("the confirmation");
    let send = label_starting(confirm, "✅");
    app.press(&app.tan_an, &admin, confirm, &send).await;
    let lan_got = app
        .tan_an
        .wait_for(1, WAIT, |c| {
            c.is_message_to(lan.id) && c.method == "sendPhoto"
        })
        .await
        .expect("Lan gets the photo");
    assert_eq!(
        lan_got[0].params.get("photo").and_then(|v| v.as_str()),
        Some(file_id.as_str())
    );
    let minh_got = app
        .ben_luc
        .wait_for(1, WAIT, |c| c.is_message_to(minh.id) && c.text() == caption)
        .await
        .expect("Minh gets the caption");
    assert_eq!(minh_got[0].method, "sendMessage");
    assert!(
        app.ben_luc
            .calls_matching(|c| c.method == "sendPhoto")
            .is_empty(),
        "no file id of another bot is sent"
    );
    app.finish().await;
}

/// The label of the first button of `call` that starts with `start`.
fn label_starting(call: &Call, start: &str) -> String {
    call.button_labels()
        .into_iter()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no {start} button in {:?}", call.button_labels()))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bot_has_its_own_webhook_and_secret() {
    let app = TwoBots::start(
        Some("https://bot.example.org/bz"),
        [
            "webhook_secret_env = \"TAN_AN_SECRET\"",
            "webhook_secret_env = \"BEN_LUC_SECRET\"",
        ],
        &[
            ("TAN_AN_SECRET", "tan-an-secret"),
            ("BEN_LUC_SECRET", "ben-luc-secret"),
        ],
    )
    .await;
    for (fake, id, secret) in [
        (&app.tan_an, "tan-an", "tan-an-secret"),
        (&app.ben_luc, "ben-luc", "ben-luc-secret"),
    ] {
        let set = fake
            .wait_for(1, WAIT, |c| c.method == "setWebhook")
            .await
            .expect("setWebhook");
        assert_eq!(
            set[0].params["url"].as_str(),
            Some(format!("https://bot.example.org/bz/webhooks/telegram/{id}").as_str())
        );
        assert_eq!(set[0].params["secret_token"].as_str(), Some(secret));
    }
    let base = format!("http://{}", app.http);
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let user = TgUser::vi(6001);
    let update = app.tan_an.text_update(&user, "/start");
    let post = |path: &str, secret: &str| {
        client
            .post(format!("{base}{path}"))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
    };
    // Another bot's secret, or none of theirs, opens nothing.
    for (path, secret) in [
        ("/webhooks/telegram/tan-an", "ben-luc-secret"),
        ("/webhooks/telegram/ben-luc", "tan-an-secret"),
        ("/webhooks/telegram/tan-an", "wrong"),
    ] {
        let status = post(path, secret).await.expect("post").status();
        assert_eq!(status, 401, "{path} with {secret}");
    }
    // Single-account addresses are not served when an accounts file names the accounts.
    let status = post("/webhooks/telegram", "tan-an-secret")
        .await
        .expect("post")
        .status();
    assert_eq!(status, 404);
    assert_eq!(
        post("/webhooks/telegram/tan-an", "tan-an-secret")
            .await
            .expect("post")
            .status(),
        200
    );
    app.tan_an
        .wait_for(1, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the Tân An bot answers");
    assert!(app.ben_luc.messages_to(user.id).is_empty());
    let person = app
        .store
        .person_by_platform_id("tan-an", &user.id.to_string())
        .await
        .expect("read");
    assert!(person.is_some());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_list_checks_credentials_without_printing_them() {
    init_tracing();
    let db = TestDb::new().await.expect("a database");
    let tan_an = FakeTelegram::start_as("TanAnBot", None)
        .await
        .expect("a fake");
    let ben_luc = FakeTelegram::start_as("BenLucBot", None)
        .await
        .expect("a fake");
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("accounts.toml");
    std::fs::write(&path, accounts_file(&tan_an, &ben_luc, ["", ""])).expect("written");
    let options = Options {
        env: vec![
            ("BLUEZONE_ACCOUNTS_FILE".into(), path.display().to_string()),
            ("TAN_AN_TOKEN".into(), FakeTelegram::TOKEN.into()),
            // Not the token the Bến Lức fake knows: Telegram answers 401.
            ("BEN_LUC_TOKEN".into(), "999:REVOKED-TOKEN".into()),
        ],
        ..Options::default()
    };
    let settings = settings(
        &db.url,
        &tan_an,
        &options,
        "127.0.0.1:0".parse().expect("addr"),
    );
    let app = App::build_with_clock(settings, Arc::new(SystemClock))
        .await
        .expect("the app builds");
    units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    let lines = bluezone_bot::accounts::list(&app.store, &app.settings).await;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].id, "tan-an");
    assert_eq!(lines[0].root, "794 (Thành phố Tân An)");
    assert_eq!(
        lines[0].credentials,
        Ok("bot @TanAnBot (getMe)".to_string())
    );
    assert_eq!(
        lines[0].webhook,
        "none: long polling (no BLUEZONE_WEBHOOK_URL)"
    );
    assert_eq!(lines[1].id, "ben-luc");
    assert!(lines[1].credentials.is_err(), "{:?}", lines[1].credentials);
    let table = bluezone_bot::accounts::table(&lines);
    assert!(table.starts_with("ACCOUNT"), "{table}");
    assert!(table.contains("FAILING"), "{table}");
    for secret in [FakeTelegram::TOKEN, "REVOKED-TOKEN"] {
        assert!(!table.contains(secret), "{table}");
        assert!(!format!("{lines:?}").contains(secret));
    }
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_before_accounts_belong_to_their_platforms_account() {
    use sqlx::migrate::Migrator;
    init_tracing();
    let db = TestDb::new().await.expect("a database");
    sqlx::any::install_default_drivers();
    let dir = if db.is_postgres() {
        "migrations/postgres"
    } else {
        "migrations/sqlite"
    };
    let migrator = Migrator::new(std::path::Path::new(dir))
        .await
        .expect("the migrations");
    let url = if db.is_postgres() {
        db.url.clone()
    } else {
        format!("{}?mode=rwc", db.url)
    };
    // One connection, so the pragma below holds for every statement.
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("a pool");
    if !db.is_postgres() {
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&pool)
            .await
            .expect("foreign keys on");
    }
    // The schema as it was before accounts, with a person who leads a unit, their link code
    // and a message waiting for them.
    migrator.run_to(12, &pool).await.expect("migrated to 0012");
    for sql in [
        "INSERT INTO units (code, name, name_folded, kind, path) VALUES ('80', 'Long An', 'long an', 'province', '/80/')",
        "INSERT INTO people (platform, platform_user_id, chat_id, ref_code, unit_code, created_at, last_activity_at, last_inbound_at) \
         VALUES ('telegram', '42', '42', 'REF42', '80', 1, 1, 1)",
        "INSERT INTO leaders (person_id, unit_code, granted_by, granted_at) VALUES (1, '80', 'telegram:1', 1)",
        "INSERT INTO link_codes (code, person_id, expires_at) VALUES ('L1', 1, 99)",
        "INSERT INTO outbox (platform, chat_id, priority, next_attempt_at, created_at) VALUES ('telegram', '42', 0, 1, 1)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    migrator.run(&pool).await.expect("every migration");
    let (account, id): (String, i64) =
        sqlx::query_as("SELECT account, id FROM people WHERE platform_user_id = '42'")
            .fetch_one(&pool)
            .await
            .expect("the person");
    assert_eq!((account.as_str(), id), ("telegram", 1));
    let (account,): (String,) = sqlx::query_as("SELECT account FROM outbox")
        .fetch_one(&pool)
        .await
        .expect("the row");
    assert_eq!(account, "telegram");
    let (leaders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM leaders WHERE person_id = 1")
        .fetch_one(&pool)
        .await
        .expect("leaders");
    assert_eq!(leaders, 1);
    // The references still hold, and are still checked (against the rebuilt table).
    let orphan = sqlx::query(
        "INSERT INTO leaders (person_id, unit_code, granted_by, granted_at) VALUES (999, '80', 'x', 1)",
    )
    .execute(&pool)
    .await;
    assert!(orphan.is_err(), "a leader who is nobody is refused");
    if !db.is_postgres() {
        let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .expect("checked");
        assert!(broken.is_empty(), "{broken:?}");
    }
    pool.close().await;

    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("a store");
    store.migrate().await.expect("nothing left to apply");
    let person = store
        .person_by_platform_id("telegram", "42")
        .await
        .expect("read")
        .expect("found by its account");
    assert_eq!(person.id, 1);
    assert!(
        store
            .leads(person.id, &unit_code("80"))
            .await
            .expect("leads")
    );
    // The same user on another bot is another person; a leader still needs a person.
    let account = bluezone_bot::domain::AccountId::parse("hcm").expect("an id");
    let (other, new) = store
        .touch_person_of(
            bluezone_bot::domain::Platform::Telegram,
            &account,
            "42",
            "42",
            "Lan",
            bluezone_bot::domain::Locale::Vi,
        )
        .await
        .expect("touched");
    assert!(new && other.id != person.id);
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_list_checks_pages_and_oas_without_spending_a_refresh_token() {
    let p = crate::platform_fakes::spawn_platforms(Options::default()).await;
    let db = p.app.db.as_ref().expect("the database");
    let settings = settings(&db.url, &p.app.fake, &p.app.options, p.app.http);
    let deadline = tokio::time::Instant::now() + WAIT;
    let lines = loop {
        let lines = bluezone_bot::accounts::list(&p.app.store, &settings).await;
        // The OA's access token is obtained when it starts.
        if lines.iter().all(|l| l.credentials.is_ok()) {
            break lines;
        }
        assert!(tokio::time::Instant::now() < deadline, "{lines:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["telegram", "messenger", "zalo"]);
    assert_eq!(lines[1].credentials, Ok("Bluezone Page".to_string()));
    assert_eq!(lines[2].credentials, Ok("Bluezone OA".to_string()));
    assert!(lines.iter().all(|l| l.root == "whole country"));
    assert!(
        lines[2].webhook.contains("/webhooks/zalo/zalo"),
        "{}",
        lines[2].webhook
    );
    let spent = p.zalo.state.lock().map(|s| s.spent.len()).unwrap_or(0);
    // Listing again spends nothing more: only the start refreshed the token.
    bluezone_bot::accounts::list(&p.app.store, &settings).await;
    assert_eq!(
        p.zalo.state.lock().map(|s| s.spent.len()).unwrap_or(0),
        spent
    );
    let table = bluezone_bot::accounts::table(&lines);
    for secret in ["PAGE-TOKEN", "RT0", "AT1", fake_platforms::MESSENGER_SECRET] {
        assert!(!table.contains(secret), "{table}");
    }
    p.app.finish().await;
}
