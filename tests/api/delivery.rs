//! The delivery engine: broadcasts end to end (audience, preview, one queueing however often
//! Confirm is pressed, progress and summary), who may broadcast where, each Bot API error
//! class, per-chat limits that never hold back other chats, a reply overtaking a broadcast,
//! graceful stop and SIGKILL mid-broadcast, reminders inside the daytime window, and the
//! leaders' daily digest. Every test runs on SQLite or PostgreSQL, as the harness picks.

use crate::helpers::unit_code;
use bluezone_bot::domain::State;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_bot::clock::{Clock, ManualClock, SharedClock};
use bluezone_bot::config::Settings;
use bluezone_bot::coverage::{Figures, percent};
use bluezone_bot::domain::{ChatAddress, Locale, Platform};
use bluezone_bot::outbox::{PlatformLimits, Scheduler, Worker, WorkerConfig};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::platform::telegram::Telegram;
use bluezone_bot::startup::SAMPLE_UNITS;
use bluezone_bot::store::{Audience, NewOutboxItem, Priority, Queued, Store, UnitRow};
use bluezone_bot::units_csv;
use fake_platforms::{Failure, FakeTelegram, TgUser};
use teloxide::Bot;
use tokio::sync::Notify;

use crate::helpers::{Options, TestApp, TestDb, WAIT, spawn_app_with};

const ADMIN: i64 = 9901;

/// A person who started the bot and joined `unit`, created straight in the store.
async fn member(store: &Store, id: i64, unit: &str) -> i64 {
    let (p, _) = store
        .touch_person(
            Platform::Telegram,
            &id.to_string(),
            &id.to_string(),
            "Member",
            Locale::Vi,
        )
        .await
        .expect("a person");
    store.save_state(p.id, &State::Idle).await.expect("started");
    store
        .set_person_unit(p.id, Some(&unit_code(unit)))
        .await
        .expect("joined");
    p.id
}

/// Makes `user` a leader of `unit`.
async fn make_leader(store: &Store, user: &TgUser, unit: &str) -> i64 {
    let id = member(store, user.id, unit).await;
    store.set_person_unit(id, None).await.expect("no unit");
    let token = store
        .create_invitation(&unit_code(unit), "test", 7)
        .await
        .expect("invitation");
    store
        .redeem_invitation(&token, id)
        .await
        .expect("redeemed")
        .expect("valid");
    id
}

fn fast(extra: &[(&str, &str)]) -> Options {
    let mut env: Vec<(String, String)> = vec![
        ("BLUEZONE_PROGRESS_EVERY_SECS".into(), "0".into()),
        ("BLUEZONE_TG_PRIVATE_BURST".into(), "5".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Options {
        admins: vec![ADMIN],
        env,
        ..Options::default()
    }
}

/// Waits for a message to `user` containing `needle`, recorded at or after `mark`.
async fn wait_text(app: &TestApp, user: &TgUser, mark: usize, needle: &str) {
    app.fake
        .wait_for_since(mark, 1, WAIT, |c| {
            c.is_message_to(user.id) && c.text().contains(needle)
        })
        .await
        .unwrap_or_else(|e| panic!("no message containing {needle:?}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_broadcasts_to_their_subtree_exactly_once() {
    let app = spawn_app_with(fast(&[])).await;
    let leader = TgUser::vi(7001);
    make_leader(&app.store, &leader, "794").await;
    let mut inside = Vec::new();
    for i in 0..10 {
        inside.push(member(&app.store, 71_000 + i, "27694").await);
    }
    for i in 0..3 {
        inside.push(member(&app.store, 72_000 + i, "794").await);
    }
    for i in 0..2 {
        let p = member(&app.store, 73_000 + i, "27694").await;
        app.store.confirm_install(p).await.expect("confirmed");
    }
    for i in 0..5 {
        member(&app.store, 74_000 + i, "80").await;
    }
    let stopped = member(&app.store, 75_000, "794").await;
    app.store.set_opted_out(stopped, true).await.expect("stop");
    member(&app.store, 75_001, "794").await;
    app.store
        .mark_unreachable(Platform::Telegram, "75001", "blocked")
        .await
        .expect("unreachable");

    let group = -7777;
    app.store
        .link_group(
            Platform::Telegram,
            Platform::Telegram,
            &group.to_string(),
            &unit_code("27694"),
            "Tổ 1",
            1,
        )
        .await
        .expect("a linked group");
    let r = app.say(&leader, "/broadcast", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"), "{}", r[0].text());
    let text = "Họp tổ dân phố lúc 19 giờ tối nay";
    let r = app.say(&leader, text, 1).await;
    let preview = &r[0];
    assert!(preview.text().contains(text), "{}", preview.text());
    assert!(
        preview
            .text()
            .contains("15 người (13 người chưa xác nhận cài đặt) và 1 nhóm"),
        "{}",
        preview.text()
    );
    let r = app.press(&leader, preview, "Tất cả", 1).await;
    assert!(r[0].text().contains("16 người"), "{}", r[0].text());
    let confirm = r[0].button_data("Gửi ngay").expect("a confirm button");

    // A double tap: both presses arrive; the broadcast is queued once.
    let mark = app.fake.mark();
    let msg_id = r[0].message_id().unwrap_or(1);
    app.fake.press_button(&leader, msg_id, &confirm);
    app.fake.press_button(&leader, msg_id, &confirm);
    wait_text(&app, &leader, mark, "đã gửi xong").await;
    wait_text(&app, &leader, mark, "đã được gửi hoặc đã huỷ").await;
    app.drained().await;

    for id in 71_000..71_010 {
        let got: Vec<_> = app
            .fake
            .messages_to(id)
            .into_iter()
            .filter(|c| c.text() == text)
            .collect();
        assert_eq!(got.len(), 1, "member {id}");
    }
    for id in [72_000, 72_001, 72_002, 73_000, 73_001, group] {
        assert_eq!(app.fake.messages_to(id).len(), 1, "member {id}");
    }
    for id in [74_000, 74_004, 75_000, 75_001] {
        assert!(
            app.fake.messages_to(id).is_empty(),
            "{id} is outside the audience"
        );
    }
    let queued = app
        .fake
        .calls_since(mark)
        .into_iter()
        .filter(|c| c.is_message_to(leader.id) && c.text().contains("Đã xếp hàng gửi cho 16"))
        .count();
    assert_eq!(queued, 1, "queued once");
    let c = app.fake.counters();
    assert_eq!(c.duplicates, 0, "{c:?}");
    let list = app.store.recent_broadcasts(None, 5).await.expect("list");
    assert_eq!(list.len(), 1);
    let b = &list[0];
    assert_eq!((b.total, b.sent, b.status.as_str()), (16, 16, "done"));
    assert_eq!(b.text, text, "the audit trail keeps the text");
    assert_eq!(b.author, format!("telegram:{}", leader.id));
    // The progress message was edited to the final figures.
    let edits = app.fake.calls_matching(|c| {
        c.method == "editMessageText" && c.chat_id == Some(leader.id) && c.ok()
    });
    assert!(
        edits
            .iter()
            .any(|e| e.text().contains("16/16 người đã nhận")),
        "{:?}",
        edits
            .iter()
            .map(|e| e.text().to_string())
            .collect::<Vec<_>>()
    );
    let r = app.say(&leader, "/broadcasts", 1).await;
    assert!(r[0].text().contains("đã xong"), "{}", r[0].text());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_leaders_and_administrators_broadcast_and_only_within_reach() {
    let app = spawn_app_with(fast(&[])).await;
    let citizen = TgUser::vi(7101);
    member(&app.store, citizen.id, "27694").await;
    let r = app.say(&citizen, "/broadcast", 1).await;
    assert!(r[0].text().contains("không có quyền"), "{}", r[0].text());
    let r = app.say(&citizen, "/broadcasts", 1).await;
    assert!(r[0].text().contains("không có quyền"), "{}", r[0].text());

    let leader = TgUser::vi(7102);
    make_leader(&app.store, &leader, "794").await;
    let r = app.say(&leader, "/broadcast 80", 1).await;
    assert!(
        r[0].text().contains("không có quyền"),
        "above: {}",
        r[0].text()
    );
    let r = app.say(&leader, "/broadcast 27694", 1).await;
    assert!(r[0].text().contains("Phường 1"), "below: {}", r[0].text());
    let r = app.say(&leader, "Xin chào", 1).await;
    let everyone = r[0].button_data("Tất cả").expect("audience button");
    let id: i64 = everyone
        .split(':')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("draft id");
    // A citizen forging the leader's buttons gets nothing queued.
    let r = app
        .press_data(&citizen, &r[0], &format!("bcok:{id}"), 1)
        .await;
    assert!(r[0].text().contains("không có quyền"), "{}", r[0].text());
    let r = app
        .press_data(&citizen, &r[0], &format!("bca:{id}:u"), 1)
        .await;
    assert!(
        r[0].text().contains("đã được gửi hoặc đã huỷ"),
        "{}",
        r[0].text()
    );
    let b = app.store.broadcast(id).await.expect("read").expect("draft");
    assert_eq!(
        (b.status.as_str(), b.audience.as_str(), b.total),
        ("draft", "all", 0)
    );

    let admin = TgUser::vi(ADMIN);
    member(&app.store, ADMIN, "80").await;
    let r = app.say(&admin, "/broadcast", 1).await;
    assert!(r[0].text().contains("/broadcast"), "usage: {}", r[0].text());
    let r = app.say(&admin, "/broadcast 80", 1).await;
    assert!(r[0].text().contains("Tỉnh Long An"), "{}", r[0].text());
    app.finish().await;
}

/// A store, a fake Telegram and a worker drained by hand under a manual clock.
struct Bench {
    store: Store,
    fake: FakeTelegram,
    clock: ManualClock,
    db: TestDb,
}

impl Bench {
    async fn new() -> Bench {
        crate::helpers::init_tracing();
        let db = TestDb::new().await.expect("a database");
        let clock = ManualClock::at(1_600_000_000_000);
        let shared: SharedClock = Arc::new(clock.clone());
        let store = Store::connect(&db.url, shared).await.expect("connect");
        store.migrate().await.expect("migrate");
        units_csv::import_text(&store, "long_an.csv", SAMPLE_UNITS)
            .await
            .expect("units");
        let fake = FakeTelegram::start().await.expect("fake");
        Bench {
            store,
            fake,
            clock,
            db,
        }
    }

    fn worker(&self, limits: PlatformLimits, max_attempts: i64) -> Worker {
        let bot = Bot::new(FakeTelegram::TOKEN)
            .set_api_url(url::Url::parse(&self.fake.api_url()).expect("url"));
        Worker::with_config(
            self.store.clone(),
            Arc::new(Telegram::new(bot)),
            Arc::new(Notify::new()),
            WorkerConfig {
                limits,
                concurrency: 8,
                lease_ms: 30_000,
                max_attempts,
                daytime: None,
            },
            Arc::new(self.clock.clone()),
        )
    }

    async fn queue(&self, chat: i64, text: &str) -> i64 {
        let ids = self
            .store
            .enqueue(&[reply_to(chat, Outgoing::text(text))])
            .await
            .expect("queued");
        ids[0]
    }

    async fn status(&self, id: i64) -> (String, Option<String>) {
        let (s, e, _) = self
            .store
            .outbox_status(id)
            .await
            .expect("read")
            .expect("row");
        (s, e)
    }

    async fn finish(self) {
        self.store.close().await;
        self.db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_class_gets_its_treatment() {
    let b = Bench::new().await;
    let worker = b.worker(PlatformLimits::unlimited(), 3);
    let (ok, blocked, gone, limited, flaky, kicked) = (81, 82, 83, 84, 85, -86);
    for id in [ok, blocked, gone, limited, flaky] {
        member(&b.store, id, "27694").await;
    }
    assert_eq!(
        b.store
            .audience_count(&unit_code("794"), Audience::Everyone)
            .await
            .expect("count"),
        5
    );
    b.fake.fail_chat(blocked, Failure::blocked());
    b.fake.fail_chat(gone, Failure::chat_not_found());
    b.fake.fail_chat_times(limited, Failure::retry_after(5), 1);
    b.fake.fail_chat(flaky, Failure::DropConnection);
    b.fake.fail_chat(kicked, Failure::kicked_from_group());
    b.store
        .link_group(
            Platform::Telegram,
            Platform::Telegram,
            &kicked.to_string(),
            &unit_code("27694"),
            "Tổ 2",
            1,
        )
        .await
        .expect("a linked group");
    assert_eq!(
        b.store
            .audience_groups(&unit_code("794"))
            .await
            .expect("groups"),
        1
    );
    let mut rows = Vec::new();
    for chat in [ok, blocked, gone, limited, flaky, kicked] {
        rows.push(b.queue(chat, &format!("hello {chat}")).await);
    }
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(
        (o.claimed, o.sent, o.failed, o.deferred, o.retried),
        (6, 1, 3, 1, 1),
        "{o:?}"
    );
    assert_eq!(b.status(rows[0]).await.0, "sent");
    for i in [1, 2, 5] {
        let (s, e) = b.status(rows[i]).await;
        assert_eq!(s, "failed");
        assert!(e.unwrap_or_default().starts_with("unreachable"), "row {i}");
    }
    // Unreachable people are marked and left out of audiences from now on.
    for id in [blocked, gone] {
        let p = b
            .store
            .person_by_platform_id(Platform::Telegram, &id.to_string())
            .await
            .expect("read")
            .expect("person");
        assert!(p.unreachable);
    }
    assert_eq!(
        b.store
            .audience_count(&unit_code("794"), Audience::Everyone)
            .await
            .expect("count"),
        3
    );
    // So is a linked group the bot was removed from.
    assert_eq!(
        b.store
            .audience_groups(&unit_code("794"))
            .await
            .expect("groups"),
        0
    );
    // The 429 waits exactly retry_after, and does not use up an attempt.
    b.clock.advance_ms(4_900);
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(o.sent, 0, "{o:?}");
    b.clock.advance_ms(200);
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(o.sent, 1, "{o:?}");
    assert_eq!(b.status(rows[3]).await.0, "sent");
    // The network error backs off and gives up after the attempts allowed.
    for _ in 0..5 {
        b.clock.advance_ms(600_000);
        worker.try_execute_batch().await.expect("batch");
    }
    let (s, e) = b.status(rows[4]).await;
    assert_eq!(s, "failed");
    assert!(e.unwrap_or_default().contains("after 3 attempts"));
    let drops = b.fake.calls_matching(|c| c.chat_id == Some(flaky)).len();
    assert_eq!(drops, 3);
    // Never retried: the refused chats were asked exactly once.
    for chat in [blocked, gone, kicked] {
        assert_eq!(b.fake.calls_matching(|c| c.chat_id == Some(chat)).len(), 1);
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_group_never_holds_back_other_chats() {
    let b = Bench::new().await;
    let worker = b.worker(bluezone_bot::platform::telegram::limits(1), 6);
    let group = -500;
    let mut group_rows = Vec::new();
    for i in 0..30 {
        group_rows.push(b.queue(group, &format!("group {i}")).await);
    }
    let mut private_rows = Vec::new();
    for chat in 1..=60 {
        private_rows.push(b.queue(chat, "hello").await);
    }
    let start = b.clock.now_ms();
    // Drain in simulated time, 10 ms at a time.
    let mut sent_at: Vec<(i64, i64)> = Vec::new();
    while b.clock.now_ms() - start < 200_000 {
        let o = worker.try_execute_batch().await.expect("batch");
        if o.sent > 0 {
            sent_at.push((b.clock.now_ms() - start, o.sent as i64));
        }
        if b.store
            .next_due_at(Platform::Telegram)
            .await
            .expect("due")
            .is_none()
        {
            break;
        }
        b.clock.advance_ms(10);
    }
    for id in group_rows.iter().chain(&private_rows) {
        assert_eq!(b.status(*id).await.0, "sent");
    }
    let sent_times = |rows: &[i64]| {
        let store = b.store.clone();
        let rows = rows.to_vec();
        async move {
            let mut t = Vec::new();
            for id in rows {
                t.push(store.outbox_sent_at(id).await.expect("read").expect("sent"));
            }
            t.sort_unstable();
            t
        }
    };
    let g = sent_times(&group_rows).await;
    let p = sent_times(&private_rows).await;
    // At most 20 group messages in any minute, the 21st only after the first minute.
    for w in g.windows(21) {
        assert!(w[20] - w[0] >= 60_000, "{g:?}");
    }
    // The private chats did not wait for the group: 60 of them at 30/s take about 2 s more
    // than the group's first 20 (which went in the first ~0.7 s).
    assert!(
        p[59] - start < 4_000,
        "privates finished at {}",
        p[59] - start
    );
    // The global rate held: no 30 sends closer than a second.
    let mut all: Vec<i64> = g.iter().chain(p.iter()).copied().collect();
    all.sort_unstable();
    for w in all.windows(31) {
        assert!(w[30] - w[0] >= 1_000, "31 sends within a second");
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_overtakes_a_running_broadcast() {
    let app = spawn_app_with(fast(&[("BLUEZONE_TG_GLOBAL_PER_SEC", "60")])).await;
    let leader = TgUser::vi(7201);
    let leader_id = make_leader(&app.store, &leader, "794").await;
    for i in 0..240 {
        member(&app.store, 76_000 + i, "27694").await;
    }
    let id = app
        .store
        .create_broadcast_draft(
            leader_id,
            "telegram:7201",
            &unit_code("794"),
            "Tin khẩn",
            r#"{"type":"text","text":"Tin khẩn"}"#,
        )
        .await
        .expect("draft");
    let to = ChatAddress {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        chat_id: leader.id.to_string(),
        is_group: false,
    };
    let queued = app
        .store
        .queue_broadcast(id, leader_id, &to, Outgoing::text("0/240"))
        .await
        .expect("queued");
    assert_eq!(queued, Queued::Now(240));
    app.fake
        .wait_count(30, WAIT, |c| c.ok() && c.text() == "Tin khẩn")
        .await
        .expect("the broadcast is running");
    let asker = TgUser::vi(7202);
    let mark = app.fake.mark();
    let started = Instant::now();
    app.fake.send_command(&asker, "/help");
    app.fake
        .wait_for_since(mark, 1, WAIT, |c| c.is_message_to(asker.id))
        .await
        .expect("a reply");
    let latency = started.elapsed();
    let sent_by_then = app
        .fake
        .calls_matching(|c| c.ok() && c.text() == "Tin khẩn")
        .len();
    assert!(sent_by_then < 240, "the broadcast was still running");
    assert!(
        latency < Duration::from_secs(1),
        "the reply took {latency:?}"
    );
    app.fake
        .wait_count(240, Duration::from_secs(30), |c| {
            c.ok() && c.text() == "Tin khẩn"
        })
        .await
        .expect("the broadcast finishes");
    app.finish().await;
}

/// Queues a broadcast of `n` members of 27694 straight in the store.
async fn queue_big(store: &Store, leader: &TgUser, n: i64, base: i64, text: &str) -> i64 {
    let leader_id = make_leader(store, leader, "794").await;
    for i in 0..n {
        member(store, base + i, "27694").await;
    }
    let payload = serde_json::to_string(&Outgoing::text(text)).expect("json");
    let id = store
        .create_broadcast_draft(leader_id, "telegram:1", &unit_code("794"), text, &payload)
        .await
        .expect("draft");
    let to = ChatAddress {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        chat_id: leader.id.to_string(),
        is_group: false,
    };
    store
        .queue_broadcast(id, leader_id, &to, Outgoing::text("progress"))
        .await
        .expect("queued");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_in_flight_and_keeps_the_rest_queued() {
    let mut app = spawn_app_with(fast(&[("BLUEZONE_TG_GLOBAL_PER_SEC", "40")])).await;
    let text = "Dừng giữa chừng";
    let id = queue_big(&app.store, &TgUser::vi(7301), 150, 77_000, text).await;
    app.fake
        .wait_count(20, WAIT, |c| c.ok() && c.text() == text)
        .await
        .expect("running");
    app.stop_app().await.expect("a clean stop");
    let url = app.db.as_ref().expect("db").url.clone();
    let store = Store::connect(&url, Arc::new(bluezone_bot::clock::SystemClock))
        .await
        .expect("a second handle");
    let delivered = app
        .fake
        .calls_matching(|c| c.ok() && c.text() == text)
        .len();
    let statuses = store.broadcast_row_statuses(id).await.expect("statuses");
    store.close().await;
    let count = |s: &str| statuses.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    assert_eq!(count("sending"), 0, "nothing left half-done: {statuses:?}");
    assert_eq!(
        count("sent") as usize,
        delivered,
        "every send recorded: {statuses:?}"
    );
    assert_eq!(count("queued") as usize, 150 - delivered, "{statuses:?}");
    app.start_again().await;
    app.fake
        .wait_count(150, Duration::from_secs(30), |c| c.ok() && c.text() == text)
        .await
        .expect("the rest after the restart");
    app.drained().await;
    assert_eq!(app.fake.counters().duplicates, 0);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_broadcast_loses_nothing() {
    crate::helpers::init_tracing();
    let db = TestDb::new().await.expect("db");
    let fake = FakeTelegram::start().await.expect("fake");
    let store = Store::connect(&db.url, Arc::new(bluezone_bot::clock::SystemClock))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    units_csv::import_text(&store, "long_an.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    let text = "Kill -9";
    let n = 300;
    queue_big(&store, &TgUser::vi(7401), n, 78_000, text).await;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bluezone-bot"))
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
            .env("TELOXIDE_API_URL", fake.api_url())
            .env("BLUEZONE_LISTEN", "127.0.0.1:0")
            .env("BLUEZONE_TG_GLOBAL_PER_SEC", "100")
            .env("BLUEZONE_OUTBOX_LEASE_SECS", "2")
            .env("BLUEZONE_REMINDER_MAX", "0")
            .env("BLUEZONE_DIGEST_AT", "off")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts")
    };
    let is_ours = |c: &fake_platforms::Call| c.ok() && c.text() == text;
    let mut child = spawn();
    fake.wait_count(80, Duration::from_secs(30), is_ours)
        .await
        .expect("sending started");
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    let before = fake.calls_matching(is_ours).len();
    assert!(before < n as usize, "killed mid-way");
    let mut child = spawn();
    crate::helpers::wait_every_chat(&fake, n as usize, is_ours, Duration::from_secs(60)).await;
    child.start_kill().expect("kill");
    child.wait().await.expect("stopped");
    let total = fake.calls_matching(is_ours).len();
    let duplicates = total - n as usize;
    // Only what was in flight (16 requests) or sent but not yet recorded can go twice.
    assert!(duplicates <= 32, "{duplicates} duplicates");
    store.close().await;
    db.drop_db().await;
}

/// 2020-06-01 local time (UTC+7) at `h:m`, in ms.
fn local_ms(day: i64, h: i64, m: i64) -> i64 {
    // 2020-06-01T00:00:00+07:00
    let midnight = 1_590_944_400_000;
    midnight + day * 86_400_000 + (h * 60 + m) * 60_000
}

async fn scheduler(b: &Bench, env: &[(&str, &str)]) -> Scheduler {
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut settings =
        Settings::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .expect("settings");
    settings.database_url = b.db.url.clone();
    Scheduler::new(b.store.clone(), Arc::new(settings), Arc::new(Notify::new()))
}

async fn reminders_to(store: &Store, person_chat: &str) -> Vec<Outgoing> {
    store
        .outbox_payloads_to(Platform::Telegram, person_chat)
        .await
        .expect("read")
        .into_iter()
        .filter_map(|p| serde_json::from_str(&p).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_wait_for_daytime_and_stop_after_confirm_or_stop() {
    let b = Bench::new().await;
    // Everyone was last active on day 0 at 21:00 local.
    b.clock.set_ms(local_ms(0, 21, 0));
    let quiet = member(&b.store, 91, "27694").await;
    let english = member(&b.store, 92, "27694").await;
    b.store.set_locale(english, Locale::En).await.expect("en");
    let confirmed = member(&b.store, 93, "27694").await;
    let stopped = member(&b.store, 94, "27694").await;
    let s = scheduler(&b, &[("BLUEZONE_DIGEST_AT", "off")]).await;
    b.store.confirm_install(confirmed).await.expect("confirm");
    b.store.set_opted_out(stopped, true).await.expect("stop");

    // One day later it is night: nothing yet.
    b.clock.set_ms(local_ms(1, 21, 30));
    assert_eq!(s.tick().await.expect("tick").reminders, 0);
    b.clock.set_ms(local_ms(2, 7, 59));
    assert_eq!(s.tick().await.expect("tick").reminders, 0);
    // Morning: the first reminder, once.
    b.clock.set_ms(local_ms(2, 8, 0));
    assert_eq!(s.tick().await.expect("tick").reminders, 2);
    assert_eq!(s.tick().await.expect("tick").reminders, 0);
    let vi = reminders_to(&b.store, "91").await;
    assert_eq!(vi.len(), 1);
    let datas: Vec<String> = vi[0]
        .buttons()
        .iter()
        .flatten()
        .filter_map(|b| match b {
            bluezone_bot::platform::OutButton::Callback { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(datas, vec!["inst", "guide", "later"]);
    assert!(vi[0].body().contains("Bạn đã cài"), "{}", vi[0].body());
    let en = reminders_to(&b.store, "92").await;
    assert!(
        en[0].body().contains("Have you installed"),
        "{}",
        en[0].body()
    );
    assert!(reminders_to(&b.store, "93").await.is_empty(), "confirmed");
    assert!(reminders_to(&b.store, "94").await.is_empty(), "stopped");
    // Day 3 after the activity: the second one; after /stop, nothing more.
    b.store.set_opted_out(english, true).await.expect("stop");
    b.clock.set_ms(local_ms(3, 21, 0) + 1);
    assert_eq!(s.tick().await.expect("tick").reminders, 0, "night");
    b.clock.set_ms(local_ms(4, 9, 0));
    assert_eq!(s.tick().await.expect("tick").reminders, 1);
    assert_eq!(reminders_to(&b.store, "91").await.len(), 2);
    assert_eq!(reminders_to(&b.store, "92").await.len(), 1);
    let worker = b.worker(PlatformLimits::unlimited(), 3);
    while worker.try_execute_batch().await.expect("batch").claimed > 0 {}
    // A reminder queued before a confirmation is not sent after it.
    b.clock.set_ms(local_ms(8, 9, 0));
    assert_eq!(s.tick().await.expect("tick").reminders, 1);
    b.store.confirm_install(quiet).await.expect("confirm");
    while worker.try_execute_batch().await.expect("batch").claimed > 0 {}
    let to_91: Vec<_> = b.fake.calls_matching(|c| c.chat_id == Some(91) && c.ok());
    assert_eq!(
        to_91.len(),
        2,
        "the third was dropped: {:?}",
        to_91
            .iter()
            .map(|c| c.text().to_string())
            .collect::<Vec<_>>()
    );
    // No more than the maximum.
    b.clock.set_ms(local_ms(30, 9, 0));
    assert_eq!(s.tick().await.expect("tick").reminders, 0);
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_get_a_daily_digest_at_local_time() {
    let b = Bench::new().await;
    b.clock.set_ms(local_ms(0, 10, 0));
    let leader = TgUser::vi(95);
    make_leader(&b.store, &leader, "794").await;
    for i in 0..4 {
        let p = member(&b.store, 960 + i, "27694").await;
        if i < 3 {
            b.store.confirm_install(p).await.expect("confirm");
        }
    }
    let s = scheduler(
        &b,
        &[
            ("BLUEZONE_DIGEST_AT", "19:00"),
            ("BLUEZONE_REMINDER_MAX", "0"),
        ],
    )
    .await;
    b.clock.set_ms(local_ms(0, 18, 59));
    assert_eq!(s.tick().await.expect("tick").digests, 0);
    b.clock.set_ms(local_ms(0, 19, 0));
    assert_eq!(s.tick().await.expect("tick").digests, 1);
    assert_eq!(s.tick().await.expect("tick").digests, 0, "once a day");
    let digest = reminders_to(&b.store, "95").await;
    let text = digest[0].body();
    assert!(text.contains("Thành phố Tân An"), "{text}");
    assert!(text.contains("Xác nhận mới trong 24 giờ: 3"), "{text}");
    assert!(text.contains("3/4"), "{text}");
    assert!(text.contains("mục tiêu 60%"), "{text}");
    assert!(text.contains("Xếp hạng: 1/"), "{text}");
    b.clock.set_ms(local_ms(1, 19, 5));
    assert_eq!(s.tick().await.expect("tick").digests, 1, "the next day");
    let digest = reminders_to(&b.store, "95").await;
    assert!(
        digest[1].body().contains("Xác nhận mới trong 24 giờ: 0"),
        "{}",
        digest[1].body()
    );
    b.finish().await;
}

/// The digest's coverage is the one `/coverage` shows: confirmed members plus installs a
/// leader reported in person, over the population (it used to leave the reported ones out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_counts_installs_reported_in_person_like_coverage() {
    let b = Bench::new().await;
    b.clock.set_ms(local_ms(0, 10, 0));
    b.store
        .import_units(&[UnitRow {
            code: "794".into(),
            name: "Thành phố Tân An".into(),
            parent_code: Some("80".into()),
            kind: "district".into(),
            population: Some(1000),
            line: 1,
        }])
        .await
        .expect("population");
    let leader = TgUser::vi(97);
    let leader_id = make_leader(&b.store, &leader, "794").await;
    let p = member(&b.store, 980, "27694").await;
    b.store.confirm_install(p).await.expect("confirm");
    b.store
        .report_installs(&unit_code("794"), leader_id, 10, "in person")
        .await
        .expect("report");
    let figures = Figures::of_unit(
        &b.store
            .unit(&unit_code("794"))
            .await
            .expect("unit")
            .expect("794"),
        0.6,
    );
    let shown = percent(figures.coverage().expect("a population"));
    assert_eq!(shown, "1.10%");
    let s = scheduler(
        &b,
        &[
            ("BLUEZONE_DIGEST_AT", "19:00"),
            ("BLUEZONE_REMINDER_MAX", "0"),
        ],
    )
    .await;
    b.clock.set_ms(local_ms(0, 19, 0));
    assert_eq!(s.tick().await.expect("tick").digests, 1);
    let digest = reminders_to(&b.store, "97").await;
    let text = digest[0].body();
    assert!(text.contains(&format!("Độ phủ: {shown}")), "{text}");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_broadcast_can_be_stopped_from_the_list() {
    let app = spawn_app_with(fast(&[("BLUEZONE_TG_GLOBAL_PER_SEC", "10")])).await;
    let leader = TgUser::vi(7501);
    let text = "Sẽ bị dừng";
    let id = queue_big(&app.store, &leader, 200, 79_000, text).await;
    app.fake
        .wait_count(10, WAIT, |c| c.ok() && c.text() == text)
        .await
        .expect("running");
    // Progress edits go to the leader too: look for the list among them.
    let mark = app.fake.mark();
    app.fake.send_command(&leader, "/broadcasts");
    let list = app
        .fake
        .wait_for_since(mark, 1, WAIT, |c| {
            c.is_message_to(leader.id) && c.text().contains("Các tin nhắn gần đây")
        })
        .await
        .expect("the list")
        .remove(0);
    assert!(list.text().contains("đang gửi"), "{}", list.text());
    // Stopping is asked first; "keep sending" changes nothing.
    let ask = |on: &fake_platforms::Call| {
        let mark = app.fake.mark();
        let data = on.button_data("Dừng").expect("a stop button");
        app.fake
            .press_button(&leader, on.message_id().unwrap_or(1), &data);
        mark
    };
    let question = |mark: usize| {
        app.fake.wait_for_since(mark, 1, WAIT, |c| {
            c.is_message_to(leader.id) && c.text().contains("chưa nhận được")
        })
    };
    let mark = ask(&list);
    let q = question(mark).await.expect("the question").remove(0);
    let mark = app.fake.mark();
    let data = q.button_data("Tiếp tục").expect("keep");
    app.fake
        .press_button(&leader, q.message_id().unwrap_or(1), &data);
    wait_text(&app, &leader, mark, "vẫn tiếp tục").await;
    let b = app.store.broadcast(id).await.expect("read").expect("row");
    assert_eq!(b.status, "running");
    let mark = ask(&list);
    let q = question(mark).await.expect("the question").remove(0);
    let mark = app.fake.mark();
    let data = q.button_data("Dừng ngay").expect("stop now");
    app.fake
        .press_button(&leader, q.message_id().unwrap_or(1), &data);
    wait_text(&app, &leader, mark, "Đã dừng tin nhắn").await;
    // The reply counts every recipient who had not got it, also those a sender held.
    let reply = app
        .fake
        .calls_since(mark)
        .into_iter()
        .find(|c| c.is_message_to(leader.id) && c.text().contains("Đã dừng tin nhắn"))
        .expect("the reply");
    let after = reply
        .text()
        .split_once(&format!("#{id}:"))
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default();
    let figures: Vec<i64> = after
        .split(|ch: char| !ch.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(figures.len() >= 2, "{}", reply.text());
    let (had, left) = (figures[0], figures[1]);
    assert_eq!(had + left, 200, "{}", reply.text());
    assert!(left > 0, "{}", reply.text());
    // Once the rows in flight are settled, the leader gets the final figures.
    wait_text(&app, &leader, mark, "⛔ Tin nhắn #").await;
    app.drained().await;
    let b = app.store.broadcast(id).await.expect("read").expect("row");
    assert_eq!(b.status, "cancelled");
    assert!(b.cancelled > 0, "{b:?}");
    let delivered = app
        .fake
        .calls_matching(|c| c.ok() && c.text() == text)
        .len() as i64;
    assert_eq!(b.sent, delivered);
    assert_eq!(b.sent + b.cancelled, 200, "{b:?}");
    // The last figures tell the truth: delivered and not sent, never "100%".
    let edits = app.fake.calls_matching(|c| {
        c.method == "editMessageText" && c.chat_id == Some(leader.id) && c.ok()
    });
    let last = edits
        .last()
        .expect("the progress message was edited")
        .text();
    assert!(
        last.contains(&format!("{}/200 người đã nhận", b.sent)),
        "{last}"
    );
    assert!(
        last.contains(&format!("{} không gửi: đã dừng", b.cancelled)),
        "{last}"
    );
    for e in &edits {
        assert!(!e.text().contains("100%"), "{}", e.text());
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_broadcasts_a_photo_with_a_caption() {
    let app = spawn_app_with(fast(&[])).await;
    let leader = TgUser::vi(7601);
    make_leader(&app.store, &leader, "794").await;
    let members: Vec<i64> = (0..3).map(|i| 76_100 + i).collect();
    for &id in &members {
        member(&app.store, id, "27694").await;
    }
    // A member on Zalo cannot get a picture Telegram keeps: the preview says so.
    let (zalo, _) = app
        .store
        .touch_person(Platform::Zalo, "z-76", "z-76", "Zalo member", Locale::Vi)
        .await
        .expect("a Zalo person");
    app.store
        .save_state(zalo.id, &State::Idle)
        .await
        .expect("started");
    app.store
        .set_person_unit(zalo.id, Some(&unit_code("27694")))
        .await
        .expect("joined");

    let r = app.say(&leader, "/broadcast", 1).await;
    assert!(r[0].text().contains("gửi một ảnh"), "{}", r[0].text());
    let caption = "Cài Bluezone ngay hôm nay";
    let mark = app.fake.mark();
    let (_, file_id) = app.fake.send_photo(&leader, caption);
    let r = app.replies(&leader, mark, 2).await;
    assert_eq!(r[0].method, "sendPhoto", "the photo is shown back first");
    assert_eq!(
        r[0].params.get("photo").and_then(|v| v.as_str()),
        Some(file_id.as_str()),
        "sent on by file id, not uploaded again"
    );
    assert_eq!(r[0].text(), caption);
    let preview = &r[1];
    assert!(preview.text().contains("ảnh ở trên"), "{}", preview.text());
    assert!(
        preview.text().contains("1 người nhận dùng Zalo"),
        "{}",
        preview.text()
    );
    let r = app.press(&leader, preview, "Huỷ", 1).await;
    assert!(r[0].text().contains("Đã huỷ"), "{}", r[0].text());

    // Without the Zalo member: no warning, and the photo goes to every Telegram member.
    app.store
        .set_opted_out(zalo.id, true)
        .await
        .expect("opted out");
    app.say(&leader, "/broadcast", 1).await;
    let mark = app.fake.mark();
    let (_, file_id) = app.fake.send_photo(&leader, caption);
    let r = app.replies(&leader, mark, 2).await;
    assert!(!r[1].text().contains("Zalo"), "{}", r[1].text());
    let r = app.press(&leader, &r[1], "Tất cả", 1).await;
    let mark = app.fake.mark();
    app.press(&leader, &r[0], "Gửi ngay", 2).await;
    wait_text(&app, &leader, mark, "đã gửi xong").await;
    app.drained().await;
    for &id in &members {
        let got = app.fake.messages_to(id);
        assert_eq!(got.len(), 1, "member {id}: {got:?}");
        assert_eq!(got[0].method, "sendPhoto");
        assert_eq!(got[0].text(), caption);
        assert_eq!(
            got[0].params.get("photo").and_then(|v| v.as_str()),
            Some(file_id.as_str())
        );
    }
    let list = app.store.recent_broadcasts(None, 5).await.expect("list");
    assert_eq!(list.len(), 1, "the discarded draft is not listed");
    let b = &list[0];
    assert_eq!((b.total, b.sent, b.status.as_str()), (3, 3, "done"));
    assert_eq!(b.text, caption, "the audit trail keeps the caption");
    assert!(b.payload.contains(&file_id), "and the photo: {}", b.payload);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_of_a_lapsed_claim_is_not_recorded_over_a_newer_one() {
    use bluezone_bot::store::{Completion, Mark};
    let b = Bench::new().await;
    let id = b.queue(4242, "once").await;
    let first = b
        .store
        .claim_due(Platform::Telegram, 10, 1_000)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    // The lease runs out while the first claimant is still at it; another worker takes it.
    b.clock.advance_ms(2_000);
    let second = b
        .store
        .claim_due(Platform::Telegram, 10, 1_000)
        .await
        .expect("claim again");
    assert_eq!(second.len(), 1);
    assert_ne!(first[0].attempts, second[0].attempts);
    let done = |claim: i64, mark: Mark| Completion {
        id,
        broadcast_id: None,
        queued_at: first[0].created_at,
        claim,
        mark,
    };
    // The first claimant puts it back: that must not free the row under the second one.
    b.store
        .record_outcomes(&[done(first[0].attempts, Mark::Defer { at: 0 })])
        .await
        .expect("record");
    assert_eq!(b.status(id).await.0, "sending");
    b.store
        .record_outcomes(&[done(
            second[0].attempts,
            Mark::Sent {
                message_id: Some("7".into()),
            },
        )])
        .await
        .expect("record");
    assert_eq!(b.status(id).await.0, "sent");
    // Nothing is left to claim.
    b.clock.advance_ms(60_000);
    let left = b
        .store
        .claim_due(Platform::Telegram, 10, 1_000)
        .await
        .expect("claim");
    assert!(left.is_empty());
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_flight_when_a_broadcast_stops_are_not_sent_later() {
    let b = Bench::new().await;
    let leader = TgUser::vi(7701);
    let id = queue_big(&b.store, &leader, 6, 77_100, "Sẽ dừng giữa chừng").await;
    // Another worker held every row when it died (or they were waiting for their slot)…
    let held = b
        .store
        .claim_due(Platform::Telegram, 100, 1_000)
        .await
        .expect("claim");
    assert_eq!(held.len(), 7, "six members and the progress message");
    // …and the leader stops the broadcast meanwhile: nothing was queued to drop, but none of
    // the six held got it, and the stop says so.
    let stopped = b
        .store
        .cancel_broadcast(id)
        .await
        .expect("stop")
        .expect("running");
    assert_eq!((stopped.dropped, stopped.held, stopped.sent), (0, 6, 0));
    assert_eq!(stopped.not_sent(), 6);
    b.clock.advance_ms(2_000);
    let worker = b.worker(PlatformLimits::unlimited(), 6);
    while worker.try_execute_batch().await.expect("batch").claimed > 0 {}
    for chat in 77_100..77_106 {
        assert!(
            b.fake.messages_to(chat).is_empty(),
            "{chat} got a stopped broadcast"
        );
    }
    let bc = b.store.broadcast(id).await.expect("read").expect("row");
    assert_eq!((bc.sent, bc.cancelled), (0, 6), "{bc:?}");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_that_reaches_the_sender_at_night_waits_for_the_morning() {
    use bluezone_bot::outbox::Daytime;
    let b = Bench::new().await;
    let person = member(&b.store, 7801, "27694").await;
    // Queued at 19:59 (inside the window), but the sender only gets to it at 20:30.
    b.clock.set_ms(local_ms(0, 19, 59));
    let ids = b
        .store
        .enqueue(&[NewOutboxItem {
            to: ChatAddress {
                platform: Platform::Telegram,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
                chat_id: "7801".into(),
                is_group: false,
            },
            person_id: Some(person),
            broadcast_id: None,
            priority: Priority::Background,
            message: Outgoing::text("Nhắc cài Bluezone"),
            dedupe_key: Some(format!("rem:{person}:0")),
        }])
        .await
        .expect("queued");
    b.clock.set_ms(local_ms(0, 20, 30));
    let bot =
        Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&b.fake.api_url()).expect("url"));
    let worker = Worker::with_config(
        b.store.clone(),
        Arc::new(Telegram::new(bot)),
        Arc::new(Notify::new()),
        WorkerConfig {
            limits: PlatformLimits::unlimited(),
            concurrency: 4,
            lease_ms: 30_000,
            max_attempts: 6,
            daytime: Some(Daytime {
                tz: chrono_tz::Asia::Ho_Chi_Minh,
                window: (8 * 60, 20 * 60),
            }),
        },
        Arc::new(b.clock.clone()),
    );
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!((o.claimed, o.deferred, o.sent), (1, 1, 0), "{o:?}");
    assert_eq!(b.status(ids[0]).await.0, "queued");
    // Not before 08:00 the next morning…
    b.clock.set_ms(local_ms(1, 7, 59));
    assert_eq!(worker.try_execute_batch().await.expect("batch").claimed, 0);
    // …and then it goes.
    b.clock.set_ms(local_ms(1, 8, 0));
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(o.sent, 1, "{o:?}");
    assert_eq!(b.fake.messages_to(7801).len(), 1);
    b.finish().await;
}

/// A worker timed by the system clock (the fake's limits are in real seconds), with the
/// `Notify` that wakes it.
fn real_time_worker(b: &Bench, limits: PlatformLimits) -> (Worker, Arc<Notify>) {
    let bot =
        Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&b.fake.api_url()).expect("url"));
    let ready = Arc::new(Notify::new());
    let worker = Worker::with_config(
        b.store.clone(),
        Arc::new(Telegram::new(bot)),
        ready.clone(),
        WorkerConfig {
            limits,
            concurrency: 16,
            lease_ms: 30_000,
            max_attempts: 6,
            daytime: None,
        },
        Arc::new(bluezone_bot::clock::SystemClock),
    );
    (worker, ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_go_once_a_second_in_queue_order_even_after_a_429() {
    let b = Bench::new().await;
    b.fake
        .set_limits(Some(fake_platforms::TelegramLimits::telegram()));
    let groups = [-601i64, -602, -603];
    // Three broadcasts confirmed together, each to the three groups, in two parts.
    for k in 1..=6 {
        for g in groups {
            b.queue(g, &format!("broadcast part {k}")).await;
        }
    }
    // The platform defers one group's first message.
    b.fake.fail_chat_times(-602, Failure::retry_after(1), 1);
    let (worker, _) = real_time_worker(&b, bluezone_bot::platform::telegram::limits(1));
    let stop = tokio_util::sync::CancellationToken::new();
    // The store's clock follows real time here (deferred rows come due).
    let clock = b.clock.clone();
    let ticking = stop.clone();
    tokio::spawn(async move {
        while !ticking.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            clock.advance_ms(10);
        }
    });
    let task = tokio::spawn(worker.run(stop.clone()));
    b.fake
        .wait_count(18, Duration::from_secs(30), |c| {
            c.ok() && c.method == "sendMessage"
        })
        .await
        .expect("all sent");
    stop.cancel();
    task.await.expect("worker");
    let c = b.fake.counters();
    assert_eq!(c.out_of_order, 0, "{c:?}");
    // Only the 429 the platform was told to give: none from the limits.
    assert_eq!(c.too_many_requests, 1, "{c:?}");
    assert_eq!(c.duplicates, 0, "{c:?}");
    for g in groups {
        let texts: Vec<String> = b
            .fake
            .messages_to(g)
            .iter()
            .filter(|c| c.ok())
            .map(|c| c.text().to_string())
            .collect();
        let want: Vec<String> = (1..=6).map(|k| format!("broadcast part {k}")).collect();
        assert_eq!(texts, want, "group {g}");
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_message_is_not_overtaken_even_after_a_restart() {
    let b = Bench::new().await;
    let chat = 4242;
    for k in 1..=3 {
        b.queue(chat, &format!("part {k}")).await;
    }
    b.fake.fail_chat_times(chat, Failure::retry_after(5), 1);
    let worker = b.worker(PlatformLimits::unlimited(), 6);
    let o = worker.try_execute_batch().await.expect("batch");
    // Only the chat's first message is claimed; the platform defers it.
    assert_eq!((o.claimed, o.deferred), (1, 1), "{o:?}");
    assert_eq!(worker.try_execute_batch().await.expect("batch").claimed, 0);
    // A restarted worker (no memory of the pause) does not send the later parts first.
    let restarted = b.worker(PlatformLimits::unlimited(), 6);
    assert_eq!(
        restarted.try_execute_batch().await.expect("batch").claimed,
        0
    );
    assert!(b.fake.messages_to(chat).iter().all(|c| !c.ok()));
    b.clock.advance_ms(5_000);
    for _ in 0..3 {
        let o = restarted.try_execute_batch().await.expect("batch");
        assert_eq!(o.sent, 1, "{o:?}");
    }
    let texts: Vec<String> = b
        .fake
        .messages_to(chat)
        .iter()
        .filter(|c| c.ok())
        .map(|c| c.text().to_string())
        .collect();
    assert_eq!(texts, ["part 1", "part 2", "part 3"]);
    assert_eq!(b.fake.counters().out_of_order, 0);
    b.finish().await;
}

async fn queue_answer(store: &Store, chat: i64, callback_id: String) -> i64 {
    let ids = store
        .enqueue(&[NewOutboxItem {
            to: ChatAddress {
                platform: Platform::Telegram,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
                chat_id: chat.to_string(),
                is_group: false,
            },
            person_id: None,
            broadcast_id: None,
            priority: Priority::Reply,
            message: Outgoing::AnswerCallback {
                callback_id,
                text: None,
            },
            dedupe_key: None,
        }])
        .await
        .expect("queued");
    ids[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn button_presses_are_answered_at_once_during_a_big_broadcast() {
    let b = Bench::new().await;
    b.fake
        .set_limits(Some(fake_platforms::TelegramLimits::telegram()));
    let items: Vec<NewOutboxItem> = (0..3_000)
        .map(|i| NewOutboxItem {
            to: ChatAddress {
                platform: Platform::Telegram,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
                chat_id: (2_000_000 + i).to_string(),
                is_group: false,
            },
            person_id: None,
            broadcast_id: None,
            priority: Priority::Broadcast,
            message: Outgoing::text("big broadcast"),
            dedupe_key: None,
        })
        .collect();
    b.store.enqueue(&items).await.expect("queued");
    let (worker, ready) = real_time_worker(&b, bluezone_bot::platform::telegram::limits(1));
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(worker.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // A burst of 150 presses in about a second, by 50 people.
    let mut queued_at = std::collections::HashMap::new();
    for i in 0..150i64 {
        let user = TgUser::vi(7_000 + i % 50);
        let cb = b.fake.press_button(&user, 1, "x");
        queued_at.insert(cb.clone(), Instant::now());
        queue_answer(&b.store, user.id, cb).await;
        ready.notify_one();
        tokio::time::sleep(Duration::from_millis(6)).await;
    }
    b.fake
        .wait_count(150, Duration::from_secs(20), |c| {
            c.method == "answerCallbackQuery"
        })
        .await
        .expect("all answered");
    let answers = b.fake.calls_matching(|c| c.method == "answerCallbackQuery");
    let slowest = answers
        .iter()
        .filter_map(|c| {
            let id = c.params.get("callback_query_id")?.as_str()?;
            Some(c.at.duration_since(*queued_at.get(id)?))
        })
        .max()
        .expect("answers");
    assert!(answers.iter().all(|c| c.ok()));
    assert!(
        slowest < Duration::from_millis(1_500),
        "slowest {slowest:?}"
    );
    // The broadcast was still running, at its own rate, without a 429.
    let sent = b
        .fake
        .calls_matching(|c| c.ok() && c.method == "sendMessage")
        .len();
    assert!(sent < 3_000, "{sent}");
    stop.cancel();
    task.await.expect("worker");
    assert_eq!(b.fake.counters().too_many_requests, 0);
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_its_deadline_is_dropped_not_sent() {
    let b = Bench::new().await;
    let user = TgUser::vi(7_500);
    let cb = b.fake.press_button(&user, 1, "x");
    let id = queue_answer(&b.store, user.id, cb).await;
    b.clock.advance_ms(20_000);
    let worker = b.worker(bluezone_bot::platform::telegram::limits(1), 6);
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(o.failed, 1, "{o:?}");
    assert_eq!(b.status(id).await.0, "skipped");
    assert!(
        b.fake
            .calls_matching(|c| c.method == "answerCallbackQuery")
            .is_empty()
    );
    b.finish().await;
}

/// Log lines written while a test holds the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let b = Bench::new().await;
    for chat in 1..=4 {
        b.queue(chat, "hello").await;
    }
    b.fake
        .fail_method("sendMessage", Failure::DropConnection, Some(8));
    let worker = b.worker(PlatformLimits::unlimited(), 20);
    // Two rounds of failures: one log line.
    for _ in 0..2 {
        let o = worker.try_execute_batch().await.expect("batch");
        assert_eq!(o.retried, 4, "{o:?}");
        b.clock.advance_ms(600_000);
    }
    assert_eq!(worker.outages(), (true, 1));
    let o = worker.try_execute_batch().await.expect("batch");
    assert_eq!(o.sent, 4, "{o:?}");
    assert_eq!(worker.outages(), (false, 1));
    let text = logs.text();
    assert_eq!(text.matches("platform unreachable").count(), 1, "{text}");
    assert_eq!(
        text.matches("platform reachable again").count(),
        1,
        "{text}"
    );
    let down = text
        .lines()
        .find(|l| l.contains("platform unreachable"))
        .unwrap_or_default();
    assert!(down.contains("waiting=4"), "{down}");
    assert!(down.contains("platform=telegram"), "{down}");
    b.finish().await;
}

#[tokio::test]
async fn a_sender_taking_over_an_account_gets_its_dead_senders_claims_at_once() {
    use bluezone_bot::domain::AccountId;
    crate::helpers::init_tracing();
    let db = TestDb::new().await.expect("db");
    let clock = Arc::new(ManualClock::at(1_700_000_000_000));
    let store = Store::connect(&db.url, clock.clone())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let item = |account: &str, chat: &str| NewOutboxItem {
        to: ChatAddress {
            platform: Platform::Telegram,
            account: AccountId::parse(account).expect("an id"),
            chat_id: chat.into(),
            is_group: false,
        },
        person_id: None,
        broadcast_id: None,
        priority: Priority::Broadcast,
        message: Outgoing::text("hello"),
        dedupe_key: None,
    };
    store
        .enqueue(&[item("bot-a", "1"), item("bot-a", "2"), item("bot-b", "3")])
        .await
        .expect("queued");
    // Both accounts' rows claimed for a minute by senders that then die.
    assert_eq!(
        store
            .claim_due("bot-a", 10, 60_000)
            .await
            .expect("claim")
            .len(),
        2
    );
    assert_eq!(
        store
            .claim_due("bot-b", 10, 60_000)
            .await
            .expect("claim")
            .len(),
        1
    );
    assert!(
        store
            .claim_due("bot-a", 10, 60_000)
            .await
            .expect("claim")
            .is_empty()
    );
    // The replica that takes bot-a's sending may claim them again now; bot-b's stay leased.
    assert_eq!(store.expire_claims("bot-a").await.expect("expire"), 2);
    assert_eq!(
        store
            .claim_due("bot-a", 10, 60_000)
            .await
            .expect("claim")
            .len(),
        2
    );
    assert!(
        store
            .claim_due("bot-b", 10, 60_000)
            .await
            .expect("claim")
            .is_empty()
    );
    // Nothing claimed: nothing to take over.
    assert_eq!(store.expire_claims("bot-c").await.expect("expire"), 0);
    store.close().await;
    db.drop_db().await;
}

/// An item for Telegram's single account, to `chat`.
fn reply_to(chat: i64, message: Outgoing) -> NewOutboxItem {
    NewOutboxItem {
        to: ChatAddress {
            platform: Platform::Telegram,
            account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
            chat_id: chat.to_string(),
            is_group: chat < 0,
        },
        person_id: None,
        broadcast_id: None,
        priority: Priority::Reply,
        message,
        dedupe_key: None,
    }
}

/// Queues `item` as an event's reply in a transaction of its own, committed.
async fn queue_committed(
    store: &bluezone_bot::store::Store,
    item: NewOutboxItem,
) -> bluezone_bot::store::Enqueued {
    let mut tx = store.begin().await.expect("begin");
    let queued = store
        .enqueue_replies_in(&mut tx, store.now(), &[item])
        .await
        .expect("queued");
    tx.commit().await.expect("commit");
    queued
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_for_a_sender_here_are_claimed_as_queued_but_never_ahead_of_their_chat() {
    let b = Bench::new().await;
    let account = Platform::Telegram.as_str();
    // Chat 5001 has a message waiting from before.
    let earlier = b.queue(5001, "earlier").await;
    let mut handed = b.store.receive_handed(account, 30_000);
    let items = [
        reply_to(
            5002,
            Outgoing::AnswerCallback {
                callback_id: "cb-1".into(),
                text: None,
            },
        ),
        reply_to(5002, Outgoing::text("first")),
        reply_to(5002, Outgoing::text("second")),
        reply_to(5001, Outgoing::text("after the earlier one")),
        reply_to(5005, Outgoing::text("another chat's first")),
    ];
    let now = b.store.now();
    let mut tx = b.store.begin().await.expect("begin");
    let queued = b
        .store
        .enqueue_replies_in(&mut tx, now, &items)
        .await
        .expect("queued");
    // Nothing is handed before the transaction commits: a sender must not see rows that may
    // still roll back.
    assert!(handed.try_recv().is_none());
    tx.commit().await.expect("commit");
    // The answer and the first message of 5002 are claimed; the second waits behind the first,
    // and 5001's reply behind the earlier message.
    let texts = |rows: &[bluezone_bot::store::OutboxRow]| -> Vec<String> {
        rows.iter()
            .map(|r| r.payload.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(queued.handed.len(), 3, "{:?}", texts(&queued.handed));
    assert!(queued.waiting, "two rows wait for a claim");
    assert!(texts(&queued.handed)[0].contains("cb-1"));
    assert!(texts(&queued.handed)[1].contains("first"));
    assert!(texts(&queued.handed)[2].contains("another chat"));
    // Each chat's rows are in the order queued (the rows of one statement are written
    // answers first, then the chats' heads, then the rest).
    let chat = b
        .store
        .outbox_payloads_to(Platform::Telegram, "5002")
        .await
        .expect("outbox")
        .join(" ");
    let at = |t: &str| chat.find(t).unwrap_or_else(|| panic!("{t} in {chat}"));
    assert!(
        at("cb-1") < at("first") && at("first") < at("second"),
        "{chat}"
    );
    for r in &queued.handed {
        assert_eq!(r.attempts, 1, "claimed once");
        assert_eq!(b.status(r.id).await.0, "sending");
    }
    // A claim takes neither them nor what waits behind them: only 5001's earlier message.
    let claimed = b.store.claim_due(account, 10, 30_000).await.expect("claim");
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [earlier]);
    // Handed over, the sender gets them in the order they were queued.
    let ids: Vec<i64> = queued.handed.iter().map(|r| r.id).collect();
    b.store.hand_over(queued.handed).await;
    let got: Vec<i64> = std::iter::from_fn(|| handed.try_recv())
        .map(|r| r.id)
        .collect();
    assert_eq!(got, ids);

    // A turn whose other rows wait only behind its own message handed over wakes no sender:
    // the sender claims the next one once it has recorded the first, and not before.
    let now = b.store.now();
    let mut tx = b.store.begin().await.expect("begin");
    let turn = [
        reply_to(5006, Outgoing::text("head")),
        reply_to(5006, Outgoing::text("next")),
    ];
    let queued = b
        .store
        .enqueue_replies_in(&mut tx, now, &turn)
        .await
        .expect("queued");
    tx.commit().await.expect("commit");
    assert_eq!(
        texts(&queued.handed).len(),
        1,
        "{:?}",
        texts(&queued.handed)
    );
    assert!(texts(&queued.handed)[0].contains("head"));
    assert!(
        !queued.waiting,
        "the next message waits for its head, not a claim"
    );
    let claimed = b.store.claim_due(account, 10, 30_000).await.expect("claim");
    assert!(claimed.is_empty(), "claimable before its head was recorded");
    // The sender records the head and claims the next in one transaction.
    let sent = bluezone_bot::store::Completion::of(
        &queued.handed[0],
        bluezone_bot::store::Mark::Sent { message_id: None },
    );
    let claimed = b
        .store
        .record_and_claim(&[sent], account, 10, 30_000, false)
        .await
        .expect("recorded and claimed");
    assert_eq!(b.status(queued.handed[0].id).await.0, "sent");
    assert_eq!(texts(&claimed).len(), 1, "{:?}", texts(&claimed));
    assert!(texts(&claimed)[0].contains("next"));
    // A row whose lease ran out (its worker died) is taken only by a claim that looks for
    // such rows (the sender's, once a second).
    let lapsed = b.queue(5007, "lapsed").await;
    let dead = b.store.claim_due(account, 10, 0).await.expect("claim");
    assert_eq!(dead.iter().map(|r| r.id).collect::<Vec<_>>(), [lapsed]);
    let claimed = b
        .store
        .record_and_claim(&[], account, 10, 30_000, false)
        .await
        .expect("claim");
    assert!(
        claimed.is_empty(),
        "took a lapsed lease: {:?}",
        texts(&claimed)
    );
    let claimed = b
        .store
        .record_and_claim(&[], account, 10, 30_000, true)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [lapsed]);
    assert_eq!(claimed[0].attempts, 2, "claimed again");

    // A sender that stopped between the queueing and the hand-over takes nothing: the row
    // goes back to the queue at once, unclaimed, for whoever sends now.
    let queued = queue_committed(&b.store, reply_to(5003, Outgoing::text("late"))).await;
    assert_eq!(queued.handed.len(), 1);
    let late = queued.handed[0].id;
    assert!(handed.close().is_empty());
    b.store.hand_over(queued.handed).await;
    assert_eq!(b.status(late).await.0, "queued");
    let claimed = b.store.claim_due(account, 10, 30_000).await.expect("claim");
    let row = claimed.iter().find(|r| r.id == late).expect("claimable");
    assert_eq!(row.attempts, 1, "the hand-over that failed is not counted");
    // With no sender here, replies are queued as before.
    drop(handed);
    let queued = queue_committed(&b.store, reply_to(5004, Outgoing::text("queued"))).await;
    assert!(queued.handed.is_empty() && queued.waiting);
    b.finish().await;
}
