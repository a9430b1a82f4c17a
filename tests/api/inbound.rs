//! The inbound path's mechanics: one transaction per event (a failure leaves nothing of it),
//! and a queued reply wakes the sender at once, in this process or (PostgreSQL) in another.

use std::sync::Arc;
use std::time::Duration;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::config::Settings;
use bluezone_bot::domain::Platform;
use bluezone_bot::outbox::Worker;
use bluezone_bot::platform::telegram::Telegram;
use bluezone_bot::platform::{Chat, ChatKind, Event, Inbound, Sender};
use bluezone_bot::startup::App;
use bluezone_bot::store::Store;
use fake_platforms::{FakeTelegram, TgUser};
use sqlx::Connection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Options, TestDb, WAIT, init_tracing, spawn_app_with};

const SECRET: &str = "inbound-Secret_1";

/// Raw SQL on the test database (a trigger that makes the bot's writes fail).
async fn sql(url: &str, statements: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    conn.close().await.expect("close");
}

/// Makes every write matching `event` (`INSERT ON outbox`, `UPDATE OF phone_kind ON
/// people`) fail, until [`allow`].
async fn refuse(db: &TestDb, event: &str) {
    if db.is_postgres() {
        sql(
            &db.url,
            &[
                "CREATE FUNCTION bz_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
                &format!("CREATE TRIGGER bz_refuse BEFORE {event} FOR EACH ROW EXECUTE FUNCTION bz_refuse()"),
            ],
        )
        .await;
    } else {
        sql(
            &db.url,
            &[&format!(
                "CREATE TRIGGER bz_refuse BEFORE {event} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )],
        )
        .await;
    }
}

/// Posts a Telegram update to the bot's webhook at `url`, with the secret.
fn post_update(
    client: &reqwest::Client,
    url: &str,
    update: &serde_json::Value,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    client
        .post(url)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(update)
        .send()
}

async fn allow(db: &TestDb, table: &str) {
    if db.is_postgres() {
        sql(
            &db.url,
            &[
                &format!("DROP TRIGGER bz_refuse ON {table}"),
                "DROP FUNCTION bz_refuse()",
            ],
        )
        .await;
    } else {
        sql(&db.url, &["DROP TRIGGER bz_refuse"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_person_state_replies_and_claim_commit_together_or_not_at_all() {
    let app = spawn_app_with(Options {
        webhook: Some(("https://bot.example.org".into(), Some(SECRET.into()))),
        ..Options::default()
    })
    .await;
    let url = format!("{}/webhooks/telegram", app.http_base().await);
    let client = reqwest::Client::new();
    let user = TgUser::vi(4101);
    let update = app.fake.text_update(&user, "/start");
    let claim = format!("telegram.webhook.{}", update["update_id"]);
    let post = || post_update(&client, &url, &update);
    let db = app.db.as_ref().expect("the database");

    // The replies cannot be queued: the person, their state and the claim go too.
    refuse(db, "INSERT ON outbox").await;
    assert_eq!(post().await.expect("post").status(), 500);
    assert!(
        app.person(&user).await.is_none(),
        "no person without replies"
    );
    assert_eq!(app.store.kv_get(&claim).await.expect("kv"), None);
    assert_eq!(
        app.store
            .kv_get(&format!("{claim}.done"))
            .await
            .expect("kv"),
        None
    );

    // Telegram's retry is handled in full, once.
    allow(db, "outbox").await;
    assert_eq!(post().await.expect("post").status(), 200);
    app.fake
        .wait_for(2, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the welcome");
    let person = app.person(&user).await.expect("the person");
    assert!(person.started);
    assert!(
        app.store
            .kv_get(&format!("{claim}.done"))
            .await
            .expect("kv")
            .is_some()
    );
    assert_eq!(post().await.expect("post").status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.messages_to(user.id).len(), 2, "handled once");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_conversation_leaves_nothing_but_the_apology() {
    let app = spawn_app_with(Options::default()).await;
    let user = TgUser::vi(4102);
    let welcome = app.say(&user, "/start", 2).await;
    let db = app.db.as_ref().expect("the database");
    refuse(db, "UPDATE OF phone_kind ON people").await;
    let before = app.person(&user).await.expect("the person");
    // The press fails half-way (its phone kind cannot be saved): nothing of it stays, and
    // the person hears a short apology instead of silence.
    let sorry = app.press_data(&user, &welcome[1], "phone:android", 1).await;
    assert!(!sorry[0].text().is_empty());
    let after = app.person(&user).await.expect("the person");
    assert_eq!(after.phone_kind, None);
    assert_eq!(
        after.state,
        bluezone_bot::domain::State::Idle,
        "the apology leaves the conversation idle"
    );
    assert_eq!(after.unit_code, before.unit_code);
    allow(db, "people").await;
    let guide = app.press_data(&user, &welcome[1], "phone:android", 1).await;
    assert_ne!(guide[0].text(), sorry[0].text());
    assert_eq!(
        app.person(&user)
            .await
            .expect("the person")
            .phone_kind
            .as_deref(),
        Some("android")
    );
    app.finish().await;
}

fn start_from(user: i64) -> Inbound {
    Inbound {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        sender: Sender {
            user_id: user.to_string(),
            private_chat_id: user.to_string(),
            display_name: "Waker".into(),
            language_code: Some("vi".into()),
        },
        chat: Chat {
            id: user.to_string(),
            kind: ChatKind::Private,
        },
        event: Event::Command {
            name: "start".into(),
            args: String::new(),
        },
    }
}

/// A sender on `store` that polls the queue only every minute, woken by `ready`.
fn slow_poller(store: &Store, fake: &FakeTelegram, ready: Arc<Notify>) -> Worker {
    let bot = teloxide::Bot::new(FakeTelegram::TOKEN)
        .set_api_url(url::Url::parse(&fake.api_url()).expect("url"));
    Worker::new(store.clone(), Arc::new(Telegram::new(bot)), ready).with_idle_poll(60_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_reply_wakes_the_sender_without_waiting_for_its_poll() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    let app = App::build_with_clock(Settings::for_database(&db.url), Arc::new(SystemClock))
        .await
        .expect("app");
    // This process sends: the wake is in-process.
    app.store.set_leading(true);
    let fake = FakeTelegram::start().await.expect("fake");
    let stop = CancellationToken::new();
    let worker = slow_poller(&app.store, &fake, app.outbox_ready.clone());
    let task = tokio::spawn(worker.run(stop.clone()));
    // Let it find the queue empty and fall asleep for its minute.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    app.engine.handle(&start_from(4201)).await.expect("handled");
    fake.wait_for(1, WAIT, |c| c.is_message_to(4201))
        .await
        .expect("the reply went long before the poll");
    assert!(started.elapsed() < WAIT);
    stop.cancel();
    task.await.expect("worker");
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_wakes_the_sender_of_another_replica() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    if !db.is_postgres() {
        // One SQLite process sends what it queues: nothing to notify.
        return;
    }
    // Replica A answers the person; replica B leads delivery, its sender asleep for a minute.
    let a = App::build_with_clock(Settings::for_database(&db.url), Arc::new(SystemClock))
        .await
        .expect("replica A");
    let b = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("replica B");
    b.set_leading(true);
    let fake = FakeTelegram::start().await.expect("fake");
    let stop = CancellationToken::new();
    let worker = slow_poller(&b, &fake, Arc::new(Notify::new()));
    let listener = tokio::spawn(bluezone_bot::outbox::lead::listen(
        b.clone(),
        vec![worker.clone()],
        stop.clone(),
    ));
    let task = tokio::spawn(worker.run(stop.clone()));
    // Wait until B listens.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_stat_activity");
        if n > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    conn.close().await.expect("close");
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.engine.handle(&start_from(4301)).await.expect("handled");
    fake.wait_for(1, WAIT, |c| c.is_message_to(4301))
        .await
        .expect("B sent A's reply long before its poll");
    stop.cancel();
    task.await.expect("worker");
    listener.await.expect("listener");
    a.store.close().await;
    b.close().await;
    db.drop_db().await;
}

/// A new, migrated database and a store on it (system clock).
async fn fresh_store() -> (TestDb, Store) {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    (db, store)
}

fn outgoing(chat: &str) -> bluezone_bot::store::NewOutboxItem {
    bluezone_bot::store::NewOutboxItem {
        to: bluezone_bot::domain::ChatAddress {
            platform: Platform::Telegram,
            account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
            chat_id: chat.into(),
            is_group: false,
        },
        person_id: None,
        broadcast_id: None,
        priority: bluezone_bot::store::Priority::Reply,
        message: bluezone_bot::platform::Outgoing::text("hello"),
        dedupe_key: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_of_a_work_left_unfinished_is_undone_or_undoes_the_work() {
    let (db, store) = fresh_store().await;

    // A part with a savepoint left early (as a transaction dropped on an early return): its
    // rows are undone, the rest of the work commits.
    let work = store.work().await.expect("work");
    work.store().kv_set("kept", "1").await.expect("kv");
    {
        let mut part = work.store().begin().await.expect("part");
        Store::enqueue_in(&mut part, store.now(), &[outgoing("1")])
            .await
            .expect("queued");
    }
    work.store().kv_set("after", "1").await.expect("kv");
    work.commit().await.expect("commit");
    assert_eq!(
        store.kv_get("kept").await.expect("kv").as_deref(),
        Some("1")
    );
    assert_eq!(
        store.kv_get("after").await.expect("kv").as_deref(),
        Some("1")
    );
    assert!(
        store
            .outbox_payloads_to(Platform::Telegram, "1")
            .await
            .expect("outbox")
            .is_empty()
    );

    // A part without a savepoint left unfinished: the whole work rolls back.
    let work = store.work().await.expect("work");
    work.store().kv_set("lost", "1").await.expect("kv");
    {
        let mut part = work.store().writer().await.expect("part");
        Store::enqueue_in(&mut part, store.now(), &[outgoing("2")])
            .await
            .expect("queued");
    }
    assert!(work.commit().await.is_err());
    assert_eq!(store.kv_get("lost").await.expect("kv"), None);
    assert!(
        store
            .outbox_payloads_to(Platform::Telegram, "2")
            .await
            .expect("outbox")
            .is_empty()
    );

    // Nothing is left locked: an ordinary transaction goes through.
    store.enqueue(&[outgoing("3")]).await.expect("queued");
    assert_eq!(
        store
            .outbox_payloads_to(Platform::Telegram, "3")
            .await
            .expect("outbox")
            .len(),
        1
    );
    store.close().await;
    db.drop_db().await;
}

/// The writes an event skips when they change nothing: a known person is written again only
/// when the name or chat changed or the inbound time is a minute old; a state save with the
/// same state under a minute after the last one writes nothing; a turn's outbox rows go in
/// one statement, a duplicate dedupe key dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_people_and_states_are_not_written_again_and_a_turns_rows_go_together() {
    use bluezone_bot::clock::{Clock, ManualClock, SharedClock};
    use bluezone_bot::domain::{ChatAddress, Locale, State};
    use bluezone_bot::platform::Outgoing;
    use bluezone_bot::store::{NewOutboxItem, Priority};

    init_tracing();
    let db = TestDb::new().await.expect("a database");
    let t0 = 1_600_000_000_000;
    let clock = ManualClock::at(t0);
    let shared: SharedClock = Arc::new(clock.clone());
    let store = Store::connect(&db.url, shared).await.expect("connect");
    store.migrate().await.expect("migrate");
    let touch = |name: &'static str, chat: &'static str| {
        let store = store.clone();
        async move {
            store
                .touch_person(Platform::Telegram, "u1", chat, name, Locale::Vi)
                .await
                .expect("touch")
        }
    };

    let (p, new) = touch("An", "c1").await;
    assert!(new);
    assert_eq!(p.last_inbound_at, t0);
    clock.advance_ms(30_000);
    let (p, new) = touch("An", "c1").await;
    assert!(!new);
    assert_eq!(
        p.last_inbound_at, t0,
        "unchanged within a minute: not written"
    );
    let stored = store.person(p.id).await.expect("read").expect("person");
    assert_eq!(stored.last_inbound_at, t0);
    let (p, _) = touch("An Nguyen", "c1").await;
    assert_eq!(
        (p.display_name.as_str(), p.last_inbound_at),
        ("An Nguyen", t0 + 30_000)
    );
    clock.advance_ms(60_000);
    let (p, _) = touch("An Nguyen", "c1").await;
    assert_eq!(p.last_inbound_at, t0 + 90_000, "a minute old: written");
    let stored = store.person(p.id).await.expect("read").expect("person");
    assert_eq!(
        (stored.display_name.as_str(), stored.last_inbound_at),
        ("An Nguyen", t0 + 90_000)
    );

    // State saves.
    store.save_state(p.id, &State::Idle).await.expect("save");
    let saved_at = clock.now_ms();
    clock.advance_ms(20_000);
    store.save_state(p.id, &State::Idle).await.expect("save");
    let stored = store.person(p.id).await.expect("read").expect("person");
    assert_eq!(
        stored.last_activity_at, saved_at,
        "the same state: not written"
    );
    store
        .save_state(p.id, &State::AwaitingUnitSearch)
        .await
        .expect("save");
    let stored = store.person(p.id).await.expect("read").expect("person");
    assert_eq!(stored.state, State::AwaitingUnitSearch);
    assert_eq!(stored.last_activity_at, clock.now_ms());
    clock.advance_ms(61_000);
    store
        .save_state(p.id, &State::AwaitingUnitSearch)
        .await
        .expect("save");
    let stored = store.person(p.id).await.expect("read").expect("person");
    assert_eq!(
        stored.last_activity_at,
        clock.now_ms(),
        "a minute old: written"
    );
    // What the engine asks before saving: nothing to write for the same state while the
    // activity is under a minute old, something for another state or later.
    assert!(stored.saves_nothing(&State::AwaitingUnitSearch, clock.now_ms()));
    assert!(!stored.saves_nothing(&State::Idle, clock.now_ms()));
    assert!(!stored.saves_nothing(&State::AwaitingUnitSearch, clock.now_ms() + 60_001));

    // A turn's rows.
    let item = |text: &str, key: Option<&str>| NewOutboxItem {
        to: ChatAddress {
            platform: Platform::Telegram,
            account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
            chat_id: "c1".into(),
            is_group: false,
        },
        person_id: Some(p.id),
        broadcast_id: None,
        priority: Priority::Reply,
        message: Outgoing::text(text),
        dedupe_key: key.map(str::to_string),
    };
    let ids = store
        .enqueue(&[
            item("one", None),
            item("two", Some("k")),
            item("three", Some("k")),
            item("four", None),
        ])
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    store.close().await;
    db.drop_db().await;
}

/// Group commit: works that start while a transaction is open share it; nothing of any is
/// visible until the last one finished, and then all of it is. A work that rolls back undoes
/// the others' writes too, and they learn it as `Undone` (the engine then runs each again
/// alone); a work alone is not held back by anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_that_start_together_commit_together_and_one_failure_undoes_them_all() {
    use bluezone_bot::store::Undone;

    let (db, store) = fresh_store().await;

    let first = store.work().await.expect("work");
    let second = store.work().await.expect("work");
    assert!(
        first.shared() && second.shared(),
        "the second joined the first"
    );
    first.store().kv_set("a", "1").await.expect("kv");
    second.store().kv_set("b", "1").await.expect("kv");
    let committing = tokio::spawn(first.commit());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!committing.is_finished(), "waits for the second work");
    assert_eq!(
        store.kv_get("a").await.expect("kv"),
        None,
        "not yet visible"
    );
    second.commit().await.expect("commit");
    committing.await.expect("task").expect("commit");
    assert_eq!(store.kv_get("a").await.expect("kv").as_deref(), Some("1"));
    assert_eq!(store.kv_get("b").await.expect("kv").as_deref(), Some("1"));

    // The next work opens a new transaction: the one before is over.
    let kept = store.work().await.expect("work");
    let failing = store.work().await.expect("work");
    assert!(kept.shared());
    kept.store().kv_set("c", "1").await.expect("kv");
    failing.store().kv_set("d", "1").await.expect("kv");
    failing.rollback().await;
    let err = kept.commit().await.expect_err("undone by the other");
    assert!(err.is::<Undone>(), "{err:?}");
    assert_eq!(store.kv_get("c").await.expect("kv"), None);
    assert_eq!(store.kv_get("d").await.expect("kv"), None);

    // Alone, as the engine runs an undone event again: nobody joins it (a work that starts
    // meanwhile opens a transaction of its own, which on SQLite waits for the writer).
    let alone = store.work_alone().await.expect("work");
    assert!(!alone.shared());
    let next = tokio::spawn({
        let store = store.clone();
        async move { store.work().await }
    });
    alone.store().kv_set("e", "1").await.expect("kv");
    alone.commit().await.expect("commit");
    let next = next.await.expect("task").expect("work");
    assert!(!next.shared());
    next.store().kv_set("f", "1").await.expect("kv");
    next.commit().await.expect("commit");
    assert_eq!(store.kv_get("e").await.expect("kv").as_deref(), Some("1"));
    assert_eq!(store.kv_get("f").await.expect("kv").as_deref(), Some("1"));
    store.close().await;
    db.drop_db().await;
}

/// Many people write at once while one of them hits a failure: the failing event is rolled
/// back (and answered with the apology), and every other event, whether or not it shared the
/// failing one's transaction, is handled exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_among_events_that_arrive_together_loses_and_repeats_none_of_the_others() {
    let app = spawn_app_with(Options {
        webhook: Some(("https://bot.example.org".into(), Some(SECRET.into()))),
        ..Options::default()
    })
    .await;
    let url = format!("{}/webhooks/telegram", app.http_base().await);
    let client = reqwest::Client::new();
    let failing = TgUser::vi(4200);
    let start = app.fake.text_update(&failing, "/start");
    let answer = post_update(&client, &url, &start).await.expect("post");
    assert_eq!(answer.status(), 200);
    let welcome = app
        .fake
        .wait_for(2, WAIT, |c| c.is_message_to(failing.id))
        .await
        .expect("the welcome");
    let db = app.db.as_ref().expect("the database");
    refuse(db, "UPDATE OF phone_kind ON people").await;

    let people: Vec<TgUser> = (4201..4241).map(TgUser::vi).collect();
    let mut updates: Vec<serde_json::Value> = people
        .iter()
        .map(|u| app.fake.text_update(u, "/start"))
        .collect();
    let (press, _) = app.fake.button_update(
        &failing,
        welcome[1].message_id().expect("the menu"),
        "phone:android",
    );
    updates.insert(people.len() / 2, press);
    for round in 0..2 {
        let posts = updates
            .iter()
            .map(|update| post_update(&client, &url, update));
        for answer in futures::future::join_all(posts).await {
            assert_eq!(answer.expect("post").status(), 200, "round {round}");
        }
    }
    for user in &people {
        app.fake
            .wait_for(2, WAIT, |c| c.is_message_to(user.id))
            .await
            .unwrap_or_else(|e| panic!("the welcome of {}: {e}", user.id));
    }
    app.fake
        .wait_for(3, WAIT, |c| c.is_message_to(failing.id))
        .await
        .expect("the apology");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for user in &people {
        assert_eq!(app.fake.messages_to(user.id).len(), 2, "{} once", user.id);
        assert!(app.person(user).await.expect("the person").started);
    }
    assert_eq!(
        app.fake.messages_to(failing.id).len(),
        3,
        "the apology, once (the repeated post was a retry)"
    );
    assert_eq!(
        app.person(&failing).await.expect("the person").phone_kind,
        None
    );
    allow(db, "people").await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senders_write_goes_before_an_inbound_group_that_waits_for_the_writer() {
    use bluezone_bot::store::Backend;

    let (db, store) = fresh_store().await;
    let order = Arc::new(std::sync::Mutex::new(Vec::<&str>::new()));
    let note = |order: &Arc<std::sync::Mutex<Vec<&'static str>>>, what: &'static str| {
        order.lock().expect("order").push(what);
    };

    // A work runs (it holds SQLite's one writer)…
    let running = store.work_alone().await.expect("work");
    running.store().kv_set("running", "1").await.expect("kv");
    // …an inbound group waits for the writer…
    let group = tokio::spawn({
        let (store, order) = (store.clone(), order.clone());
        async move {
            let work = store.work().await.expect("work");
            note(&order, "group");
            work.store().kv_set("group", "1").await.expect("kv");
            work.commit().await.expect("commit");
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …and then a sender records a reply (any write outside an inbound work).
    let sender = tokio::spawn({
        let (store, order) = (store.clone(), order.clone());
        async move {
            store.enqueue(&[outgoing("77")]).await.expect("queued");
            note(&order, "sender");
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    if store.backend() == Backend::Sqlite {
        assert!(
            order.lock().expect("order").is_empty(),
            "both wait for the running work"
        );
    }
    running.commit().await.expect("commit");
    group.await.expect("group");
    sender.await.expect("sender");
    let order = order.lock().expect("order").clone();
    match store.backend() {
        // SQLite has one writer: the sender's write goes first, though it came later, so a
        // reply waits for the one transaction running at most, never for inbound groups.
        Backend::Sqlite => assert_eq!(order, ["sender", "group"]),
        // PostgreSQL writes concurrently: neither waits for the other.
        Backend::Postgres => assert_eq!(order.len(), 2),
    }
    assert_eq!(
        store.kv_get("group").await.expect("kv").as_deref(),
        Some("1")
    );
    store.close().await;
    db.drop_db().await;
}

/// A guard that refuses the event, having written nothing or not.
struct Refuse {
    wrote_nothing: bool,
}

#[async_trait::async_trait]
impl bluezone_bot::conversation::Guard for Refuse {
    async fn enter(
        &self,
        _store: &Store,
        _sender: bluezone_bot::store::Sender<'_>,
    ) -> anyhow::Result<bluezone_bot::conversation::Entry> {
        Ok(bluezone_bot::conversation::Entry::Stop)
    }

    fn wrote_nothing(&self) -> bool {
        self.wrote_nothing
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_refused_without_writing_leaves_its_group_unharmed() {
    use bluezone_bot::store::Undone;

    init_tracing();
    let db = TestDb::new().await.expect("db");
    let app = App::build_with_clock(Settings::for_database(&db.url), Arc::new(SystemClock))
        .await
        .expect("app");
    for (wrote_nothing, key) in [(true, "kept"), (false, "undone")] {
        // Another event's work holds its group open…
        let held = app.store.work().await.expect("work");
        held.store().kv_set(key, "1").await.expect("kv");
        // …and a retried delivery joins it, its guard says no.
        let refused = tokio::spawn({
            let engine = app.engine.clone();
            async move {
                engine
                    .handle_guarded(&start_from(4242), Some(&Refuse { wrote_nothing }))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let committed = held.commit().await;
        assert!(!refused.await.expect("task").expect("handled"));
        match wrote_nothing {
            // It wrote nothing: it leaves without undoing the others' writes.
            true => {
                committed.expect("the group commits");
                assert_eq!(
                    app.store.kv_get(key).await.expect("kv").as_deref(),
                    Some("1")
                );
            }
            // Its guard wrote something: everything is undone, the others run again alone.
            false => {
                let err = committed.expect_err("undone");
                assert!(err.is::<Undone>(), "{err:?}");
                assert_eq!(app.store.kv_get(key).await.expect("kv"), None);
            }
        }
    }
    app.store.close().await;
    db.drop_db().await;
}

/// A text reply to `chat` on the Telegram account.
fn text_to(chat: &str, text: &str) -> bluezone_bot::store::NewOutboxItem {
    bluezone_bot::store::NewOutboxItem {
        message: bluezone_bot::platform::Outgoing::text(text),
        ..outgoing(chat)
    }
}

/// A group's turns (the new states, the replies) are written when its last work commits, all
/// in one go: nothing of them is visible before, each chat's rows keep the order they were
/// queued in across works, and only the last work learns what was queued. A turn that cannot
/// be written undoes the whole group (everyone learns `Undone` and runs again alone); alone,
/// the failure is the work's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_turns_are_written_together_when_its_last_work_commits() {
    use bluezone_bot::domain::{AccountId, Locale, State};
    use bluezone_bot::store::Undone;

    let (db, store) = fresh_store().await;
    let account = AccountId::of_platform(Platform::Telegram);
    let mut people = Vec::new();
    for id in ["1", "2"] {
        let (p, _) = store
            .touch_person_of(Platform::Telegram, &account, id, id, "P", Locale::Vi)
            .await
            .expect("person");
        people.push(p);
    }
    let state_of = |id| {
        let store = store.clone();
        async move {
            store
                .person(id)
                .await
                .expect("person")
                .expect("known")
                .state
        }
    };
    let payloads = |chat: &'static str| {
        let store = store.clone();
        async move {
            store
                .outbox_payloads_to(Platform::Telegram, chat)
                .await
                .expect("outbox")
                .join(" ")
        }
    };

    let first = store.work().await.expect("work");
    let second = store.work().await.expect("work");
    assert!(first.shared() && second.shared());
    first
        .store()
        .queue_turn(
            Some((people[0].id, &State::AwaitingUnitSearch)),
            vec![text_to("1", "one"), text_to("1", "two")],
        )
        .expect("queued");
    second
        .store()
        .queue_turn(
            Some((people[1].id, &State::AwaitingUnitSearch)),
            vec![text_to("2", "mine"), text_to("1", "three")],
        )
        .expect("queued");
    let committing = tokio::spawn(first.commit());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!committing.is_finished(), "waits for the second work");
    assert_eq!(payloads("1").await, "", "nothing written yet");
    assert_eq!(state_of(people[0].id).await, State::Idle);
    let last = second.commit().await.expect("commit");
    let other = committing.await.expect("task").expect("commit");
    assert!(last.waiting, "the last work learns what the group queued");
    assert!(!other.waiting && other.handed.is_empty());
    for p in &people {
        assert_eq!(state_of(p.id).await, State::AwaitingUnitSearch);
    }
    let texts = payloads("1").await;
    let at = |t: &str| texts.find(t).unwrap_or_else(|| panic!("{t} in {texts}"));
    assert!(at("one") < at("two") && at("two") < at("three"), "{texts}");
    assert!(payloads("2").await.contains("mine"));

    // One turn the database refuses: the group's works all learn `Undone`, nothing of theirs
    // is written.
    let refusal = match db.is_postgres() {
        true => vec![
            "CREATE FUNCTION bz_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql".to_string(),
            "CREATE TRIGGER bz_refuse BEFORE INSERT ON outbox FOR EACH ROW WHEN (NEW.chat_id = 'bad') EXECUTE FUNCTION bz_refuse()".to_string(),
        ],
        false => vec![
            "CREATE TRIGGER bz_refuse BEFORE INSERT ON outbox WHEN NEW.chat_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END".to_string(),
        ],
    };
    let refusal: Vec<&str> = refusal.iter().map(String::as_str).collect();
    sql(&db.url, &refusal).await;
    let kept = store.work().await.expect("work");
    let failing = store.work().await.expect("work");
    assert!(kept.shared());
    kept.store()
        .queue_turn(
            Some((people[0].id, &State::Idle)),
            vec![text_to("3", "kept")],
        )
        .expect("queued");
    failing
        .store()
        .queue_turn(None, vec![text_to("bad", "refused")])
        .expect("queued");
    let committing = tokio::spawn(kept.commit());
    let err = failing.commit().await.expect_err("refused");
    assert!(err.is::<Undone>(), "{err:?}");
    let err = committing.await.expect("task").expect_err("undone");
    assert!(err.is::<Undone>(), "{err:?}");
    assert_eq!(payloads("3").await, "");
    assert_eq!(state_of(people[0].id).await, State::AwaitingUnitSearch);

    // Alone, the refusal is the work's own error; the other goes through.
    let failing = store.work_alone().await.expect("work");
    failing
        .store()
        .queue_turn(None, vec![text_to("bad", "refused")])
        .expect("queued");
    let err = failing.commit().await.expect_err("refused");
    assert!(!err.is::<Undone>(), "{err:?}");
    let kept = store.work_alone().await.expect("work");
    kept.store()
        .queue_turn(
            Some((people[0].id, &State::Idle)),
            vec![text_to("3", "kept")],
        )
        .expect("queued");
    kept.commit().await.expect("commit");
    assert!(payloads("3").await.contains("kept"));
    assert_eq!(state_of(people[0].id).await, State::Idle);

    // Outside a work there is no turn to queue.
    assert!(store.queue_turn(None, vec![text_to("4", "x")]).is_err());
    store.close().await;
    db.drop_db().await;
}

/// The Telegram account, for `Sender`s that outlive the test's tasks.
fn telegram_account() -> &'static bluezone_bot::domain::AccountId {
    static ACCOUNT: std::sync::LazyLock<bluezone_bot::domain::AccountId> =
        std::sync::LazyLock::new(|| {
            bluezone_bot::domain::AccountId::of_platform(Platform::Telegram)
        });
    &ACCOUNT
}

/// A webhook event's claim reads its sender in the same round trip: the claim counts as
/// before (2 new, 0 handled before, 1 an earlier attempt's claim without its mark), the row
/// read ahead is the one the touch returns (a new sender: none, and the touch creates them),
/// a row read for someone else is not taken, and on PostgreSQL the read locks the row for
/// the event's transaction as the touch does (two events of one person take turns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_claim_reads_its_sender_ahead_in_the_same_round_trip() {
    use bluezone_bot::domain::Locale;
    use bluezone_bot::store::Sender;

    let (db, store) = fresh_store().await;
    let account = telegram_account();
    let sender = |user_id: &'static str| Sender { account, user_id };
    let (person, _) = store
        .touch_person_of(Platform::Telegram, account, "1", "1", "P", Locale::Vi)
        .await
        .expect("person");
    let touch = |store: Store, sender: Sender<'static>, ahead| async move {
        store
            .touch_person_ahead(
                Platform::Telegram,
                sender,
                sender.user_id,
                "P",
                Locale::Vi,
                ahead,
            )
            .await
            .expect("touch")
    };

    let work = store.work_alone().await.expect("work");
    let bound = work.store().clone();
    let claim = |key: &'static str, who| {
        let bound = bound.clone();
        async move {
            bound
                .claim_reading(key, &format!("{key}.done"), who)
                .await
                .expect("claim")
        }
    };
    let (new, ahead) = claim("c.1", sender("1")).await;
    assert_eq!(new, 2);
    assert_eq!(
        touch(bound.clone(), sender("1"), ahead).await,
        (person.clone(), false)
    );
    assert_eq!(claim("c.1", sender("1")).await.0, 0, "handled before");
    bound.kv_delete("c.1.done").await.expect("delete");
    assert_eq!(
        claim("c.1", sender("1")).await.0,
        1,
        "a claim without its mark"
    );
    // Someone new: nothing is found ahead, and the touch creates them.
    let (new, ahead) = claim("c.2", sender("2")).await;
    assert_eq!(new, 2);
    let (newcomer, is_new) = touch(bound.clone(), sender("2"), ahead).await;
    assert!(is_new);
    assert_eq!(newcomer.platform_user_id, "2");
    // A row read ahead for someone else is not taken for the sender.
    let (_, ahead) = claim("c.3", sender("1")).await;
    let (third, is_new) = touch(bound.clone(), sender("3"), ahead).await;
    assert!(is_new);
    assert_eq!(third.platform_user_id, "3");

    if db.is_postgres() {
        // Another event of person 1 waits for this transaction before it reads them.
        let other = tokio::spawn({
            let store = store.clone();
            async move {
                let work = store.work_alone().await.expect("work");
                let read = work
                    .store()
                    .claim_reading("c.4", "c.4.done", sender("1"))
                    .await
                    .expect("claim");
                work.rollback().await;
                read.0
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!other.is_finished(), "the second read waited for the lock");
        work.commit().await.expect("commit");
        assert_eq!(other.await.expect("task"), 2);
    } else {
        work.commit().await.expect("commit");
    }
    assert!(store.kv_get("c.2.done").await.expect("kv").is_some());
    store.close().await;
    db.drop_db().await;
}

/// The claims of a group's works that wait for its connection go together, in one round
/// trip (counted on PostgreSQL by a statement trigger), and each gets its own finding: its
/// sender's row, and a key delivered twice in one group is new for one of them only (the
/// other learns the event was handled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_waiting_claims_go_together_and_each_gets_its_own() {
    use bluezone_bot::domain::Locale;
    use bluezone_bot::store::Sender;

    let (db, store) = fresh_store().await;
    let account = telegram_account();
    for id in ["1", "2"] {
        store
            .touch_person_of(Platform::Telegram, account, id, id, id, Locale::Vi)
            .await
            .expect("person");
    }
    if db.is_postgres() {
        sql(
            &db.url,
            &[
                "CREATE TABLE bz_claims (n BIGINT)",
                "CREATE FUNCTION bz_count() RETURNS trigger AS $$ BEGIN INSERT INTO bz_claims VALUES (1); RETURN NULL; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER bz_count AFTER INSERT ON kv FOR EACH STATEMENT EXECUTE FUNCTION bz_count()",
            ],
        )
        .await;
    }
    // Four works of one group; the first holds the connection while the others queue their
    // claims (two of them for one event).
    let works = [
        store.work().await.expect("work"),
        store.work().await.expect("work"),
        store.work().await.expect("work"),
        store.work().await.expect("work"),
    ];
    assert!(works.iter().all(|w| w.shared()));
    let holder = works[0].store().clone();
    let hold = tokio::spawn(async move {
        let mut tx = holder.writer().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("INSERT INTO kv (key, value) VALUES ('held', '1')")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        anyhow::Ok(())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let claims = [("e.1", "1"), ("e.2", "2"), ("e.1", "1")];
    let found = futures::future::join_all(works[1..].iter().zip(claims).map(|(w, (key, who))| {
        let bound = w.store().clone();
        async move {
            bound
                .claim_reading(
                    key,
                    &format!("{key}.done"),
                    Sender {
                        account,
                        user_id: who,
                    },
                )
                .await
                .expect("claim")
        }
    }))
    .await;
    hold.await.expect("task").expect("held");
    let news: Vec<u64> = found.iter().map(|(n, _)| *n).collect();
    assert_eq!(news[1], 2);
    assert!(news == [2, 2, 0] || news == [0, 2, 2], "{news:?}");
    for ((_, ahead), (_, who)) in found.into_iter().zip(claims) {
        let (person, is_new) = works[0]
            .store()
            .touch_person_ahead(
                Platform::Telegram,
                Sender {
                    account,
                    user_id: who,
                },
                who,
                who,
                Locale::Vi,
                ahead,
            )
            .await
            .expect("touch");
        assert!(!is_new);
        assert_eq!(person.display_name, who);
    }
    let mut results = Vec::new();
    for work in works {
        results.push(tokio::spawn(work.commit()));
    }
    for r in results {
        r.await.expect("task").expect("commit");
    }
    if db.is_postgres() {
        let mut conn = sqlx::AnyConnection::connect(&db.url)
            .await
            .expect("connect");
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bz_claims")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        // The held part's own kv write, and one statement for the three claims.
        assert_eq!(n, 2, "the claims that waited went in one statement");
        conn.close().await.expect("close");
    }
    store.close().await;
    db.drop_db().await;
}

/// On SQLite the one writer's commits never copy the log into the database file (every
/// event queued behind the writer would wait for it): a task beside it does, soon after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_its_log_beside_the_writer_not_in_a_commit() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    if db.is_postgres() {
        db.drop_db().await;
        return;
    }
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let file = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let before = size(&file);
    // 8 MiB in one commit: over 2,000 pages of log, twice what makes SQLite's automatic
    // checkpoint copy it in the commit.
    const BIG: u64 = 8 << 20;
    store
        .kv_set("big", &"x".repeat(BIG as usize))
        .await
        .expect("write");
    let after_commit = size(&file);
    assert!(
        after_commit < before + BIG / 8,
        "the commit copied the log: {before} -> {after_commit} bytes"
    );
    assert!(
        size(&file.with_extension("db-wal")) >= BIG,
        "the log holds it"
    );
    let deadline = std::time::Instant::now() + WAIT;
    while size(&file) < before + BIG {
        assert!(
            std::time::Instant::now() < deadline,
            "the log was never copied into the database file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store
            .kv_get("big")
            .await
            .expect("read")
            .map(|v| v.len() as u64),
        Some(BIG)
    );
    store.close().await;
}
