//! The same person's events handled at the same time (webhook mode, several replicas on
//! PostgreSQL) keep every counter right.

use crate::helpers::unit_code;
use std::sync::Arc;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::config::Settings;
use bluezone_bot::domain::Platform;
use bluezone_bot::platform::{Chat, ChatKind, Event, Inbound, Sender};
use bluezone_bot::startup::{App, SAMPLE_UNITS};
use bluezone_bot::units_csv;

use crate::helpers::{TestDb, init_tracing};

fn inbound(user: &str, event: Event) -> Inbound {
    Inbound {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        sender: Sender {
            user_id: user.into(),
            private_chat_id: user.into(),
            display_name: "Racer".into(),
            language_code: Some("vi".into()),
        },
        chat: Chat {
            id: user.into(),
            kind: ChatKind::Private,
        },
        event,
    }
}

fn press(data: &str) -> Event {
    Event::Button {
        data: data.into(),
        callback_id: None,
        message_id: None,
    }
}

/// The app on `db`, with the Long An units, and person 77 started.
async fn app_with_77(db: &TestDb) -> App {
    let app = App::build_with_clock(Settings::for_database(&db.url), Arc::new(SystemClock))
        .await
        .expect("app");
    units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    let start = Event::Command {
        name: "start".into(),
        args: String::new(),
    };
    app.engine
        .handle(&inbound("77", start))
        .await
        .expect("start");
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_presses_count_once() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    let app = app_with_77(&db).await;

    // Eight taps on the same unit at once: one member.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let engine = app.engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.handle(&inbound("77", press("unit:794"))).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("handled");
    }
    let tan_an = app
        .store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(tan_an.members, 1);
    assert_eq!(
        app.store
            .unit(&unit_code("80"))
            .await
            .expect("read")
            .expect("unit")
            .sub_members,
        1
    );

    // Taps on two units at once: the person is in one of them, counted once.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let engine = app.engine.clone();
        let data = if i % 2 == 0 { "unit:795" } else { "unit:794" };
        tasks.push(tokio::spawn(async move {
            engine.handle(&inbound("77", press(data))).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("handled");
    }
    let a = app
        .store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("unit")
        .members;
    let b = app
        .store
        .unit(&unit_code("795"))
        .await
        .expect("read")
        .expect("unit")
        .members;
    assert_eq!(a + b, 1, "794: {a}, 795: {b}");
    assert_eq!(
        app.store
            .unit(&unit_code("80"))
            .await
            .expect("read")
            .expect("unit")
            .sub_members,
        1
    );

    // Eight "installed" at once: one confirmation.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let engine = app.engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.handle(&inbound("77", press("inst"))).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("handled");
    }
    let long_an = app
        .store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!((long_an.sub_members, long_an.sub_confirmed), (1, 1));

    // Eight new people arriving at once through the same link.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let engine = app.engine.clone();
        tasks.push(tokio::spawn(async move {
            let start = Event::Command {
                name: "start".into(),
                args: "u_796".into(),
            };
            engine
                .handle(&inbound(&format!("new{}", i % 4), start))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("handled");
    }
    let tan_hung = app
        .store
        .unit(&unit_code("796"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(tan_hung.members, 4);

    // Four of them move across at once, in opposite directions, several times.
    let mut tasks = Vec::new();
    for round in 0..6 {
        for i in 0..4 {
            let engine = app.engine.clone();
            let to = if (i + round) % 2 == 0 {
                "unit:797"
            } else {
                "unit:796"
            };
            tasks.push(tokio::spawn(async move {
                engine.handle(&inbound(&format!("new{i}"), press(to))).await
            }));
        }
    }
    for t in tasks {
        t.await.expect("join").expect("handled");
    }
    let a = app
        .store
        .unit(&unit_code("796"))
        .await
        .expect("read")
        .expect("unit")
        .members;
    let b = app
        .store
        .unit(&unit_code("797"))
        .await
        .expect("read")
        .expect("unit")
        .members;
    assert_eq!(a + b, 4, "796: {a}, 797: {b}");
    let before = app
        .store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("unit");
    app.store.recount_units().await.expect("recount");
    let after = app
        .store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(before, after, "the maintained counters match a recount");

    // No event failed (a deadlock or a conflict would have been answered with an apology).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("pool");
    let (apologies,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%Xin lỗi, đã có lỗi%'")
            .fetch_one(&pool)
            .await
            .expect("count");
    let (joined,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%Bạn đã được ghi nhận%'")
            .fetch_one(&pool)
            .await
            .expect("count");
    pool.close().await;
    assert!(joined > 0, "the payload search works");
    assert_eq!(apologies, 0, "some events failed");
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_a_time_leads_each_account() {
    use bluezone_bot::store::lease::LockKey;
    use bluezone_bot::store::{Backend, Store};
    init_tracing();
    let db = TestDb::new().await.expect("a database");
    let a = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("replica a");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("replica b");
    let mut first = a.take_seat().await.expect("a seat");
    let bot = LockKey::account("long-an");
    assert!(
        first.try_lock(bot).await.expect("ask"),
        "the first replica leads"
    );
    assert!(first.holds().await);
    let mut second = b.take_seat().await.expect("a seat");
    match a.backend() {
        Backend::Postgres => {
            assert_eq!(second.replicas().await.expect("count"), 2);
            assert!(
                !second.try_lock(bot).await.expect("ask"),
                "a second replica waits while the first leads the account"
            );
            assert!(
                second.try_lock(LockKey::account("hcm")).await.expect("ask"),
                "another account is free"
            );
            first.unlock(bot).await.expect("unlock");
            assert!(
                second.try_lock(bot).await.expect("ask"),
                "the second takes over once the first lets go"
            );
            first.release().await;
            assert_eq!(second.replicas().await.expect("count"), 1);
        }
        // SQLite is one process on one machine: it always leads.
        Backend::Sqlite => {
            assert!(second.try_lock(bot).await.expect("ask"));
            assert_eq!(second.replicas().await.expect("count"), 1);
            first.release().await;
        }
    }
    second.release().await;
    a.close().await;
    b.close().await;
    db.drop_db().await;
}

/// PostgreSQL breaks a deadlock by giving one of its transactions up. When that is an
/// event's, the event runs again and is handled: no apology, nothing lost, counted once.
/// (SQLite has one writer at a time: nothing to test there.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_given_up_in_a_deadlock_runs_again() {
    use sqlx::Connection;
    init_tracing();
    let db = TestDb::new().await.expect("db");
    if !db.is_postgres() {
        db.drop_db().await;
        return;
    }
    let app = app_with_77(&db).await;

    // Another transaction holds the unit the press moves the person to.
    let mut other = sqlx::PgConnection::connect(&db.url).await.expect("other");
    let mut watch = sqlx::PgConnection::connect(&db.url).await.expect("watch");
    sqlx::query("BEGIN")
        .execute(&mut other)
        .await
        .expect("begin");
    sqlx::query("UPDATE units SET members = members WHERE code = '794'")
        .execute(&mut other)
        .await
        .expect("lock the unit");
    // The press locks the person's row, then waits for the unit's.
    let engine = app.engine.clone();
    let pressed =
        tokio::spawn(async move { engine.handle(&inbound("77", press("unit:794"))).await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watch)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the press never waited for the unit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Now the other transaction wants the person's row: each waits for the other. The
    // event's transaction has waited longer, so PostgreSQL gives it up after its
    // `deadlock_timeout`, and this one goes on.
    sqlx::query("UPDATE people SET display_name = display_name WHERE platform_user_id = '77'")
        .execute(&mut other)
        .await
        .expect("the other transaction goes on");
    sqlx::query("COMMIT")
        .execute(&mut other)
        .await
        .expect("commit");
    pressed
        .await
        .expect("join")
        .expect("the press ran again and was handled");

    let unit = app
        .store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(unit.members, 1, "the press counted once");
    let (apologies,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%Xin lỗi, đã có lỗi%'")
            .fetch_one(&mut watch)
            .await
            .expect("count");
    assert_eq!(apologies, 0, "the person got an apology");
    let (joined,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%Bạn đã được ghi nhận%'")
            .fetch_one(&mut watch)
            .await
            .expect("count");
    assert_eq!(joined, 1, "the press was answered once");
    let _ = other.close().await;
    let _ = watch.close().await;
    app.store.close().await;
    db.drop_db().await;
}
