//! Paid broadcast benchmark: a Telegram broadcast whose leader chose paid speed
//! (`allow_paid_broadcast`, up to 1,000 messages/s, 0.1 Star per message above the free 30/s)
//! against the fake Bot API enforcing Telegram's limits (1,000/s for paid messages over all
//! messages, 30/s for others, 1/s in every chat), and the same broadcast at the free rate for
//! comparison (scaled down, then extrapolated). It reports the fraction of the ideal time,
//! 429s, lost and duplicate messages, the Stars the fake counted against the figure the
//! preview shows ([`bluezone_bot::reach::paid_cost`]) and the ledger's reservation, and peak
//! RSS.
//!
//! ```text
//! cargo bench --bench paid                       # 100,000 paid, 3,000 free (about 4 minutes)
//! BENCH_PAID=20000 BENCH_FREE=600 cargo bench --bench paid
//! ```
//!
//! - `BENCH_PAID` (default 100,000): recipients of the paid broadcast.
//! - `BENCH_FREE` (default 3,000): recipients of the free broadcast (0 skips it).
//! - `DATABASE_URL`: a PostgreSQL server database to use instead of a temporary SQLite file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bluezone_bot::clock::SystemClock;
use bluezone_bot::domain::{ChatAddress, Locale, Platform, State, UnitCode};
use bluezone_bot::outbox::{Worker, WorkerConfig};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::platform::telegram::{Telegram, limits};
use bluezone_bot::reach::{
    PaidSpeed, ReachRules, Spend, broadcast_period, paid_cost, paid_reserve, send_time_ms,
};
use bluezone_bot::store::{NewOutboxItem, Priority, Store};
use fake_platforms::{FakeTelegram, TelegramLimits};
use teloxide::Bot;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

mod common;
use common::{env_u64, peak_rss_mb};

/// Telegram's paid speed (the settings' defaults: 1,000/s, 0.1 Star, 10,000 Stars).
const PAID: PaidSpeed = PaidSpeed {
    per_sec: 1000,
    free_per_sec: 30,
    star_tenths_per_msg: 1,
    star_tenths_budget: 100_000,
};

struct Run {
    recipients: u64,
    secs: f64,
    ideal: f64,
    too_many: usize,
    lost: u64,
    duplicates: usize,
    paid_sent: u64,
    stars_counted: u64,
    reserved: i64,
    rss: f64,
}

async fn fresh_store() -> Result<(Store, Option<tempfile::TempDir>)> {
    let (url, dir) = match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => (u, None),
        _ => {
            let dir = tempfile::tempdir()?;
            (
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                Some(dir),
            )
        }
    };
    let store = Store::connect(&url, Arc::new(SystemClock)).await?;
    store.migrate().await?;
    Ok((store, dir))
}

/// Queues a broadcast spending as `spend` to `n` private chats and sends it with a worker
/// whose account has paid speed, against a fake enforcing Telegram's limits.
async fn run(spend: Spend, n: u64) -> Result<Run> {
    let (store, _dir) = fresh_store().await?;
    bluezone_bot::units_csv::import_text(
        &store,
        "long_an.csv",
        bluezone_bot::startup::SAMPLE_UNITS,
    )
    .await?;
    let unit = UnitCode::parse("80").map_err(anyhow::Error::msg)?;
    let (leader, _) = store
        .touch_person(Platform::Telegram, "42", "42", "Leader", Locale::Vi)
        .await?;
    store.save_state(leader.id, &State::Idle).await?;
    let text = "Cài Bluezone";
    let payload = serde_json::to_string(&Outgoing::text(text))?;
    let id = store
        .create_broadcast_draft(leader.id, "telegram:42", &unit, text, &payload)
        .await?;
    store.set_broadcast_spend(id, spend).await?;
    let items: Vec<NewOutboxItem> = (0..n as i64)
        .map(|i| NewOutboxItem {
            to: ChatAddress {
                platform: Platform::Telegram,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
                chat_id: (1_000_000 + i).to_string(),
                is_group: false,
            },
            person_id: None,
            broadcast_id: Some(id),
            priority: Priority::Broadcast,
            message: Outgoing::text(format!("{text} {i}")),
            dedupe_key: None,
        })
        .collect();
    for chunk in items.chunks(2_000) {
        store.enqueue(chunk).await?;
    }
    drop(items);
    let fake = FakeTelegram::start_with(Some(TelegramLimits::telegram())).await?;
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&fake.api_url())?);
    let telegram = Telegram::with_limits(bot, limits(1)).with_paid_speed(Some(PAID));
    let worker = Worker::with_config(
        store.clone(),
        Arc::new(telegram),
        Arc::new(Notify::new()),
        WorkerConfig {
            limits: limits(1),
            concurrency: 32,
            lease_ms: 120_000,
            max_attempts: 6,
            daytime: None,
        },
        Arc::new(SystemClock),
    );
    let paid = (spend == Spend::PaidSpeed).then_some(&PAID);
    let ideal = send_time_ms(n, 30, paid) as f64 / 1000.0;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(worker.run(stop.clone()));
    let timeout = Duration::from_secs_f64(ideal * 3.0 + 120.0);
    let reached = fake
        .wait_count(n as usize, timeout, |c| c.ok() && c.method == "sendMessage")
        .await;
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    task.await.context("worker")?;
    if let Err(e) = reached {
        eprintln!("{spend:?}: {e}");
    }
    let c = fake.counters();
    let delivered_unique = (c.messages_by_chat.values().sum::<usize>() - c.duplicates) as u64;
    let (paid_sent, stars_counted) = fake.paid();
    let reserved = store.spent("telegram", &broadcast_period(id)).await?;
    store.close().await;
    Ok(Run {
        recipients: n,
        secs,
        ideal,
        too_many: c.too_many_requests,
        lost: n.saturating_sub(delivered_unique),
        duplicates: c.duplicates,
        paid_sent,
        stars_counted,
        reserved,
        rss: peak_rss_mb(),
    })
}

fn stars(tenths: i64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[tokio::main]
async fn main() -> Result<()> {
    let paid_n = env_u64("BENCH_PAID", 100_000);
    let free_n = env_u64("BENCH_FREE", 3_000);
    let rules = ReachRules {
        paid_speed: Some(PAID),
        ..ReachRules::ALWAYS_FREE
    };
    let mut rows = Vec::new();
    if paid_n > 0 {
        eprintln!("running a paid broadcast to {paid_n} …");
        rows.push(("paid speed (1,000/s)", run(Spend::PaidSpeed, paid_n).await?));
    }
    if free_n > 0 {
        eprintln!("running a free broadcast to {free_n} …");
        rows.push(("free (30/s)", run(Spend::FreeOnly, free_n).await?));
    }
    println!();
    println!(
        "| mode | recipients | time | ideal | fraction of ideal | 429s | lost | duplicates | paid messages | Stars counted by the fake | Stars the preview shows | Stars reserved (ledger) | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (mode, r) in &rows {
        let preview = if r.paid_sent > 0 {
            paid_cost(r.recipients, &rules)
        } else {
            0
        };
        println!(
            "| {mode} | {} | {:.1} s | {:.1} s | {:.3} | {} | {} | {} | {} | {} | {} | {} | {:.1} MB |",
            r.recipients,
            r.secs,
            r.ideal,
            r.ideal / r.secs,
            r.too_many,
            r.lost,
            r.duplicates,
            r.paid_sent,
            stars(r.stars_counted as i64),
            stars(preview),
            stars(r.reserved),
            r.rss,
        );
        if r.paid_sent > 0 {
            let max = paid_reserve(r.recipients, &rules);
            println!(
                "\nStars: counted {} = preview {}: {}; reserved {} of at most {}.",
                stars(r.stars_counted as i64),
                stars(preview),
                r.stars_counted as i64 == preview,
                stars(r.reserved),
                stars(max),
            );
        } else if paid_n > 0 {
            println!(
                "\nFree mode extrapolated to {paid_n} recipients: {:.0} s ({:.1} min) at the measured rate; the ideal is {:.0} s.",
                r.secs * paid_n as f64 / r.recipients as f64,
                r.secs * paid_n as f64 / r.recipients as f64 / 60.0,
                send_time_ms(paid_n, 30, None) as f64 / 1000.0,
            );
        }
    }
    Ok(())
}
