//! Telegram paid broadcasts: a broadcast whose leader chose paid speed goes with
//! `allow_paid_broadcast` faster than 30 messages a second without a 429, reserves each
//! message's Stars in the ledger and never beyond the broadcast's budget (the rest go at the
//! free rate), and a broadcast without paid speed is sent as before. Every test runs on
//! SQLite or PostgreSQL, as the harness picks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_bot::clock::{SharedClock, SystemClock};
use bluezone_bot::domain::{ChatAddress, Locale, Platform, State};
use bluezone_bot::outbox::{Worker, WorkerConfig};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::platform::telegram::{Telegram, limits};
use bluezone_bot::reach::{
    PaidSpeed, ReachRules, Spend, broadcast_period, paid_cost, paid_reserve,
};
use bluezone_bot::store::{NewOutboxItem, Priority, Store};
use fake_platforms::{Call, Failure, FakeTelegram, TelegramLimits};
use teloxide::Bot;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, unit_code};

/// Telegram's paid speed with a budget of `budget_tenths` tenths of a Star.
fn paid(budget_tenths: i64) -> PaidSpeed {
    PaidSpeed {
        per_sec: 1000,
        free_per_sec: 30,
        star_tenths_per_msg: 1,
        star_tenths_budget: budget_tenths,
    }
}

struct Setup {
    store: Store,
    fake: FakeTelegram,
    db: TestDb,
}

impl Setup {
    /// A store and a fake enforcing Telegram's limits, paid broadcasts included.
    async fn new() -> Setup {
        crate::helpers::init_tracing();
        let db = TestDb::new().await.expect("a database");
        // Real time: a message the fake refused with a 429 (network jitter can push one
        // ordinary message into the fake's last second) is retried when its wait is over.
        let clock: SharedClock = Arc::new(SystemClock);
        let store = Store::connect(&db.url, clock).await.expect("connect");
        store.migrate().await.expect("migrate");
        bluezone_bot::units_csv::import_text(
            &store,
            "long_an.csv",
            bluezone_bot::startup::SAMPLE_UNITS,
        )
        .await
        .expect("units");
        let fake = FakeTelegram::start_with(Some(TelegramLimits::telegram()))
            .await
            .expect("fake");
        Setup { store, fake, db }
    }

    /// A broadcast (spending as `spend`) queued to `n` chats `base`..`base + n`.
    async fn broadcast(&self, spend: Spend, n: i64, base: i64) -> i64 {
        let (leader, _) = self
            .store
            .touch_person(Platform::Telegram, "42", "42", "Leader", Locale::Vi)
            .await
            .expect("a person");
        self.store
            .save_state(leader.id, &State::Idle)
            .await
            .expect("started");
        let text = "Cài Bluezone";
        let payload = serde_json::to_string(&Outgoing::text(text)).expect("json");
        let id = self
            .store
            .create_broadcast_draft(leader.id, "telegram:42", &unit_code("794"), text, &payload)
            .await
            .expect("draft");
        self.store
            .set_broadcast_spend(id, spend)
            .await
            .expect("spend");
        let items: Vec<NewOutboxItem> = (0..n)
            .map(|i| NewOutboxItem {
                to: ChatAddress {
                    platform: Platform::Telegram,
                    account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
                    chat_id: (base + i).to_string(),
                    is_group: false,
                },
                person_id: None,
                broadcast_id: Some(id),
                priority: Priority::Broadcast,
                message: Outgoing::text(format!("{text} {i}")),
                dedupe_key: None,
            })
            .collect();
        self.store.enqueue(&items).await.expect("queued");
        id
    }

    /// Runs a worker (with `paid_speed`, if any) until `n` messages went, and returns how
    /// long that took.
    async fn drain(&self, paid_speed: Option<PaidSpeed>, n: usize) -> Duration {
        // A new worker knows nothing of what the last one sent: let the fake's windows pass.
        if !self.fake.calls().is_empty() {
            tokio::time::sleep(Duration::from_millis(1_100)).await;
        }
        let bot = Bot::new(FakeTelegram::TOKEN)
            .set_api_url(url::Url::parse(&self.fake.api_url()).expect("url"));
        let telegram = Telegram::with_limits(bot, limits(1)).with_paid_speed(paid_speed);
        let worker = Worker::with_config(
            self.store.clone(),
            Arc::new(telegram),
            Arc::new(Notify::new()),
            WorkerConfig {
                limits: limits(1),
                concurrency: 16,
                lease_ms: 30_000,
                max_attempts: 6,
                daytime: None,
            },
            Arc::new(SystemClock),
        );
        let stop = CancellationToken::new();
        let started = Instant::now();
        let task = tokio::spawn(worker.run(stop.clone()));
        self.fake
            .wait_count(n, Duration::from_secs(60), |c: &Call| {
                c.ok() && c.method == "sendMessage"
            })
            .await
            .unwrap_or_else(|e| {
                let refused: Vec<String> = self
                    .fake
                    .calls_matching(|c| !c.ok())
                    .iter()
                    .map(|c| format!("{:?} {:?}", c.chat_id, c.outcome))
                    .collect();
                panic!("not every message went: {e}; refused: {refused:?}")
            });
        let took = started.elapsed();
        stop.cancel();
        task.await.expect("worker");
        took
    }

    fn flagged(&self) -> usize {
        self.fake
            .calls_matching(|c| {
                c.params.get("allow_paid_broadcast") == Some(&serde_json::json!(true))
            })
            .len()
    }

    async fn finish(self) {
        self.store.close().await;
        self.db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_rows_carry_the_flag_and_go_faster_than_30_a_second_without_429() {
    let s = Setup::new().await;
    let n = 600;
    let id = s.broadcast(Spend::PaidSpeed, n, 1_000_000).await;
    // One recipient blocked the bot: refused, so not billed and its Stars given back.
    s.fake.fail_chat(1_000_007, Failure::blocked());
    let took = s.drain(Some(paid(10_000)), n as usize - 1).await;
    let c = s.fake.counters();
    assert_eq!(c.too_many_requests, 0);
    assert_eq!(c.duplicates, 0);
    // At 30/s, 600 messages take 20 s.
    let rate = (n - 1) as f64 / took.as_secs_f64();
    assert!(rate > 60.0, "{rate:.0} messages/s in {took:?}");
    assert_eq!(s.flagged(), n as usize, "every message went as paid");
    let (sent, tenths) = s.fake.paid();
    assert_eq!(sent, n as u64 - 1);
    // The ledger holds the price of every message that went, and Telegram bills at most that:
    // all but the first 30 (fewer when sending paused for a second, as on a loaded machine).
    let rules = ReachRules {
        paid_speed: Some(paid(10_000)),
        ..ReachRules::ALWAYS_FREE
    };
    let spent = s
        .store
        .spent("telegram", &broadcast_period(id))
        .await
        .expect("spent");
    assert_eq!(spent, paid_reserve(sent, &rules));
    assert!(tenths as i64 <= paid_cost(sent, &rules), "{tenths}");
    assert!(tenths as i64 >= paid_cost(sent, &rules) - 90, "{tenths}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stars_never_exceed_the_budget_and_the_rest_go_free() {
    let s = Setup::new().await;
    let n = 90;
    let id = s.broadcast(Spend::PaidSpeed, n, 2_000_000).await;
    // Two Stars: 20 paid messages; the other 70 at the free rate, unbilled.
    s.drain(Some(paid(20)), n as usize).await;
    let spent = s
        .store
        .spent("telegram", &broadcast_period(id))
        .await
        .expect("spent");
    assert_eq!(spent, 20);
    let (sent, tenths) = s.fake.paid();
    assert_eq!(sent, 20);
    assert!(tenths <= 20, "{tenths}");
    let c = s.fake.counters();
    assert_eq!(c.duplicates, 0);
    assert_eq!(c.messages_by_chat.len(), n as usize);
    // A second paid broadcast has a budget of its own.
    let other = s.broadcast(Spend::PaidSpeed, 5, 3_000_000).await;
    s.drain(Some(paid(20)), n as usize + 5).await;
    assert_eq!(
        s.store
            .spent("telegram", &broadcast_period(other))
            .await
            .expect("spent"),
        5
    );
    assert_eq!(
        s.store.spent("telegram", &broadcast_period(id)).await.ok(),
        Some(20)
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_without_paid_speed_is_unchanged() {
    let s = Setup::new().await;
    // Free only, on an account with paid broadcasts: the ordinary rate, no flag, no Stars.
    let n = 60;
    let id = s.broadcast(Spend::FreeOnly, n, 4_000_000).await;
    let took = s.drain(Some(paid(10_000)), n as usize).await;
    assert!(
        took >= Duration::from_millis(1_000),
        "{took:?} for 60 at 30/s"
    );
    // Paid speed chosen, on an account without paid broadcasts: the same.
    let other = s.broadcast(Spend::PaidSpeed, n, 5_000_000).await;
    s.drain(None, 2 * n as usize).await;
    assert_eq!(s.flagged(), 0);
    assert_eq!(s.fake.paid(), (0, 0));
    for b in [id, other] {
        assert_eq!(
            s.store
                .spent("telegram", &broadcast_period(b))
                .await
                .expect("spent"),
            0
        );
    }
    let c = s.fake.counters();
    assert_eq!(c.duplicates, 0);
    assert_eq!(c.messages_by_chat.len(), 2 * n as usize);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_budget_holds_across_a_kill_9_half_way() {
    let s = Setup::new().await;
    let n = 300;
    // A budget of 15 Stars: 150 paid messages at 0.1 Star; the rest go at the free rate.
    let id = s.broadcast(Spend::PaidSpeed, n, 2_000_000).await;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bluezone-bot"))
            .arg("serve")
            .env("DATABASE_URL", &s.db.url)
            .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
            .env("TELOXIDE_API_URL", s.fake.api_url())
            .env("BLUEZONE_LISTEN", "127.0.0.1:0")
            .env("BLUEZONE_METRICS_LISTEN", "off")
            .env("BLUEZONE_TG_PAID_PER_SEC", "200")
            .env("BLUEZONE_TG_PAID_STAR_BUDGET", "15")
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
    let is_ours = |c: &Call| c.ok() && c.method == "sendMessage";
    let mut child = spawn();
    s.fake
        .wait_count(60, Duration::from_secs(30), is_ours)
        .await
        .expect("sending started");
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    assert!(s.flagged() < 150, "killed before the budget was spent");
    let mut child = spawn();
    crate::helpers::wait_every_chat(&s.fake, n as usize, is_ours, Duration::from_secs(60)).await;
    child.start_kill().expect("kill");
    child.wait().await.expect("stopped");
    // Nobody lost; only what was in flight at the kill went twice.
    let duplicates = s.fake.calls_matching(is_ours).len() - n as usize;
    assert!(duplicates <= 32, "{duplicates} duplicates");
    // Never more than 15 Stars reserved, and Telegram billed no more than was reserved. A
    // block reserved by the killed process stays reserved (unused): within the budget.
    let spent = s
        .store
        .spent("telegram", &broadcast_period(id))
        .await
        .expect("spent");
    assert!(spent <= 150, "{spent} tenths reserved");
    let (paid_sent, tenths) = s.fake.paid();
    assert!(
        paid_sent as i64 <= spent,
        "{paid_sent} paid, {spent} reserved"
    );
    assert!(tenths as i64 <= spent, "{tenths} billed, {spent} reserved");
    // The budget was used, then the rest went at the free rate.
    assert!(paid_sent >= 100, "{paid_sent} paid");
    assert!(s.flagged() < n as usize, "the rest went unflagged");
    assert_eq!(s.fake.counters().too_many_requests, 0);
    s.finish().await;
}
