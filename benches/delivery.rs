//! Delivery benchmark: the sender worker against the fake Bot API enforcing Telegram's limits
//! (30/s overall, 1/s in every chat, groups included, and 20/min per group; it answers 429
//! with `retry_after` when they are exceeded and counts messages that arrive out of order in
//! their chat), and a 1,000,000-recipient broadcast for peak memory, and how fast a person's
//! reply overtakes a 20,000-recipient broadcast. The orders run side by side, each with its
//! own database and fake, so the default run takes about two minutes.
//!
//! ```text
//! cargo bench --bench delivery                        # real rates: 1,500 members + 10 groups × 30, four orders
//! BENCH_SCALE=5 cargo bench --bench delivery          # 7,500 members + 50 groups × 30
//! BENCH_SCALE=0.2 BENCH_LIMITS_X=10 cargo bench --bench delivery   # smaller and ×10 limits on both sides
//! BENCH_ORDERS=members,groups,interleaved,mix BENCH_MILLION=1 cargo bench --bench delivery
//! ```
//!
//! - `BENCH_SCALE` (default 1): multiplies the number of private chats (1,500) and groups (10).
//! - `BENCH_LIMITS_X` (default 1): multiplies every Telegram limit, in the fake and in the bot.
//! - `BENCH_ORDERS`: which queue orders to run (default all four). `mix` is 30 broadcasts
//!   confirmed within a second, each to every group and a thirtieth of the members.
//! - `BENCH_REPLY` (default 0.2): queue N×100,000 broadcast messages, and while they drain at
//!   the limits, ten replies two seconds apart; report how long each took to reach the Bot API
//!   (`BENCH_REPLY=0` skips it).
//! - `BENCH_MILLION` (default 0): also queue and drain a broadcast to N×1,000,000 recipients
//!   (`BENCH_MILLION=1` is the million), with an in-process deliverer, and report peak RSS.
//! - `DATABASE_URL`: a PostgreSQL server database to use instead of a temporary SQLite file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bluezone_bot::clock::SystemClock;
use bluezone_bot::domain::{ChatAddress, Platform, UnitCode};
use bluezone_bot::outbox::{PlatformLimits, Worker, WorkerConfig};
use bluezone_bot::platform::telegram::Telegram;
use bluezone_bot::platform::{Deliver, Delivered, DeliveryError, Outgoing};
use bluezone_bot::store::{NewOutboxItem, Priority, Store};
use fake_platforms::{FakeTelegram, TelegramLimits};
use teloxide::Bot;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

mod common;
use common::{env_f64, peak_rss_mb};

async fn fresh_store() -> Result<(Store, Option<tempfile::TempDir>)> {
    let (store, _, dir) = fresh_store_at().await?;
    Ok((store, dir))
}

/// A migrated store, and its URL for [`seed_members`].
async fn fresh_store_at() -> Result<(Store, String, Option<tempfile::TempDir>)> {
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
    Ok((store, url, dir))
}

/// Adds `n` started members to `unit_code` with ids `base`..`base + n` as their Telegram
/// ids, in one statement on a connection of its own (a million rows without a million round
/// trips; the store has no such query, the service never needs one). Unit counters are not
/// touched.
async fn seed_members(url: &str, unit_code: &str, base: i64, n: i64, now: i64) -> Result<u64> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url)
        .await
        .context("connecting to seed")?;
    let r = sqlx::query(
        "WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x + 1 < $1) \
         INSERT INTO people (platform, platform_user_id, chat_id, display_name, locale, unit_code, state, \
           started, ref_code, created_at, last_activity_at, last_inbound_at) \
         SELECT 'telegram', CAST($2 + x AS TEXT), CAST($2 + x AS TEXT), 'Member', 'vi', $3, '{\"step\":\"idle\"}', \
           1, 'seed' || CAST($2 + x AS TEXT), $4, $4, $4 FROM seq",
    )
    .bind(n)
    .bind(base)
    .bind(unit_code)
    .bind(now)
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(r.rows_affected())
}

#[derive(Clone, Copy, Debug)]
enum Order {
    MembersFirst,
    GroupsFirst,
    Interleaved,
    /// 30 broadcasts confirmed within a second, each to every group and to a thirtieth of
    /// the members, queued one broadcast after the other.
    Mix,
}

/// The shortest time in which one group can receive `n` messages when it may get `per_sec`
/// a second and `per_min` a minute (sliding windows): the time of its last message, plus
/// nothing (the first goes at 0).
fn group_ideal_secs(n: usize, per_sec: u32, per_min: u32) -> f64 {
    let step = 1.0 / f64::from(per_sec.max(1));
    let per_min = per_min.max(1) as usize;
    let mut t: Vec<f64> = Vec::with_capacity(n);
    for k in 0..n {
        let mut at = if k == 0 { 0.0 } else { t[k - 1] + step };
        if k >= per_min {
            at = at.max(t[k - per_min] + 60.0);
        }
        t.push(at);
    }
    t.last().copied().unwrap_or(0.0)
}

struct Row {
    order: &'static str,
    total: usize,
    secs: f64,
    ideal: f64,
    too_many: usize,
    lost: usize,
    duplicates: usize,
    out_of_order: usize,
    rss: f64,
}

fn item(chat: i64, text: String) -> NewOutboxItem {
    NewOutboxItem {
        to: ChatAddress {
            platform: Platform::Telegram,
            account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
            chat_id: chat.to_string(),
            is_group: chat < 0,
        },
        person_id: None,
        broadcast_id: None,
        priority: Priority::Broadcast,
        message: Outgoing::text(text),
        dedupe_key: None,
    }
}

async fn limited_run(order: Order, scale: f64, x: u32) -> Result<Row> {
    let members = ((1_500.0 * scale).round() as i64).max(1);
    let groups = ((10.0 * scale).round() as i64).max(1);
    let per_group = 30;
    let (store, _dir) = fresh_store().await?;
    let mut items = Vec::new();
    let member_items: Vec<NewOutboxItem> = (0..members)
        .map(|i| item(1_000_000 + i, format!("broadcast to {i}")))
        .collect();
    // A group's 30 messages are queued together, as a leader's repeated posts would be.
    // Numbered, so the fake can tell a message that overtook an earlier one in its chat.
    let group_items: Vec<NewOutboxItem> = (0..groups)
        .flat_map(|g| (0..per_group).map(move |k| item(-1_000 - g, format!("group post {k}"))))
        .collect();
    match order {
        Order::Mix => {
            let per_broadcast = (members as usize).div_ceil(per_group as usize);
            let mut m = member_items.into_iter();
            for k in 0..per_group {
                for g in 0..groups {
                    items.push(item(-1_000 - g, format!("broadcast {k} part {k}")));
                }
                items.extend(m.by_ref().take(per_broadcast));
            }
        }
        Order::MembersFirst => {
            items.extend(member_items);
            items.extend(group_items);
        }
        Order::GroupsFirst => {
            items.extend(group_items);
            items.extend(member_items);
        }
        Order::Interleaved => {
            let mut m = member_items.into_iter();
            let mut g = group_items.into_iter();
            let every = (members as usize / (groups * per_group) as usize).max(1);
            loop {
                let mut any = false;
                for _ in 0..every {
                    if let Some(i) = m.next() {
                        items.push(i);
                        any = true;
                    }
                }
                if let Some(i) = g.next() {
                    items.push(i);
                    any = true;
                }
                if !any {
                    break;
                }
            }
        }
    }
    let total = items.len();
    for chunk in items.chunks(2_000) {
        store.enqueue(chunk).await?;
    }
    drop(items);
    let fake = FakeTelegram::start_with(Some(TelegramLimits {
        global_per_sec: Some(30 * x),
        private_per_sec: Some(x),
        group_per_min: Some(20 * x),
        paid_per_sec: None,
    }))
    .await?;
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&fake.api_url())?);
    let worker = Worker::with_config(
        store.clone(),
        Arc::new(Telegram::new(bot)),
        Arc::new(Notify::new()),
        WorkerConfig {
            limits: bluezone_bot::platform::telegram::limits(1).scaled(x),
            concurrency: 16,
            lease_ms: 120_000,
            max_attempts: 6,
            daytime: None,
        },
        Arc::new(SystemClock),
    );
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(worker.run(stop.clone()));
    let timeout = Duration::from_secs_f64(total as f64 / (30.0 * f64::from(x)) * 3.0 + 180.0);
    let is_send = |c: &fake_platforms::Call| c.ok() && c.method == "sendMessage";
    let reached = fake.wait_count(total, timeout, is_send).await;
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    task.await.context("worker")?;
    if let Err(e) = reached {
        eprintln!("{order:?}: {e}");
    }
    let c = fake.counters();
    let delivered_unique: usize = c.messages_by_chat.values().sum::<usize>() - c.duplicates;
    let rate = 30.0 * f64::from(x);
    let ideal = (total as f64 / rate).max(group_ideal_secs(per_group as usize, x, 20 * x));
    store.close().await;
    Ok(Row {
        order: match order {
            Order::MembersFirst => "members first",
            Order::GroupsFirst => "groups first",
            Order::Interleaved => "interleaved",
            Order::Mix => "30 broadcasts to the same groups",
        },
        total,
        secs,
        ideal,
        too_many: c.too_many_requests,
        lost: total.saturating_sub(delivered_unique),
        duplicates: c.duplicates,
        out_of_order: c.out_of_order,
        rss: peak_rss_mb(),
    })
}

/// A person's reply queued while a 100,000-recipient broadcast drains at Telegram's real
/// limits: how long from queueing until the fake Bot API has it. Ten probes, two seconds apart.
async fn reply_latency(backlog: i64, x: u32) -> Result<Vec<Duration>> {
    let (store, _dir) = fresh_store().await?;
    let items: Vec<NewOutboxItem> = (0..backlog)
        .map(|i| item(1_000_000 + i, format!("broadcast to {i}")))
        .collect();
    for chunk in items.chunks(2_000) {
        store.enqueue(chunk).await?;
    }
    drop(items);
    let fake = FakeTelegram::start_with(Some(TelegramLimits {
        global_per_sec: Some(30 * x),
        private_per_sec: Some(x),
        group_per_min: Some(20 * x),
        paid_per_sec: None,
    }))
    .await?;
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&fake.api_url())?);
    let ready = Arc::new(Notify::new());
    let worker = Worker::with_config(
        store.clone(),
        Arc::new(Telegram::new(bot)),
        ready.clone(),
        WorkerConfig {
            limits: bluezone_bot::platform::telegram::limits(1).scaled(x),
            concurrency: 16,
            lease_ms: 120_000,
            max_attempts: 6,
            daytime: None,
        },
        Arc::new(SystemClock),
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker.run(stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut latencies = Vec::new();
    for k in 0..10i64 {
        let chat = 9_000_000 + k;
        let mut reply = item(chat, format!("reply {k}"));
        reply.priority = Priority::Reply;
        let mark = fake.mark();
        let t = Instant::now();
        store.enqueue(&[reply]).await?;
        ready.notify_one();
        fake.wait_for_since(mark, 1, Duration::from_secs(30), |c| {
            c.ok() && c.chat_id == Some(chat)
        })
        .await
        .map_err(|e| anyhow::anyhow!("reply {k}: {e}"))?;
        latencies.push(t.elapsed());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let sent = fake
        .calls_matching(|c| c.ok() && c.method == "sendMessage")
        .len();
    stop.cancel();
    task.await.context("worker")?;
    store.close().await;
    anyhow::ensure!(
        (sent as i64) < backlog,
        "the broadcast was no longer running"
    );
    Ok(latencies)
}

/// Delivers instantly and counts: the queue's own cost, without a network.
struct Counting {
    sent: AtomicU64,
}

#[async_trait::async_trait]
impl Deliver for Counting {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn deliver(&self, _: &ChatAddress, _: &Outgoing) -> Result<Delivered, DeliveryError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(Delivered::default())
    }
}

async fn million(n: i64) -> Result<()> {
    let (store, url, _dir) = fresh_store_at().await?;
    bluezone_bot::units_csv::import_text(
        &store,
        "long_an.csv",
        bluezone_bot::startup::SAMPLE_UNITS,
    )
    .await?;
    let t = Instant::now();
    seed_members(&url, "27694", 10_000_000, n, store.now()).await?;
    let seeded = t.elapsed().as_secs_f64();
    let rss_seed = peak_rss_mb();
    let (leader, _) = store
        .touch_person(
            Platform::Telegram,
            "42",
            "42",
            "Leader",
            bluezone_bot::domain::Locale::Vi,
        )
        .await?;
    let payload = serde_json::to_string(&Outgoing::text("Một triệu người nhận"))?;
    let id = store
        .create_broadcast_draft(
            leader.id,
            "telegram:42",
            &UnitCode::parse("794").map_err(anyhow::Error::msg)?,
            "Một triệu",
            &payload,
        )
        .await?;
    let to = ChatAddress {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        chat_id: "42".into(),
        is_group: false,
    };
    let t = Instant::now();
    let queued = store
        .queue_broadcast(id, leader.id, &to, Outgoing::text("progress"))
        .await?;
    let queue_secs = t.elapsed().as_secs_f64();
    let rss_queued = peak_rss_mb();
    let deliver = Arc::new(Counting {
        sent: AtomicU64::new(0),
    });
    let worker = Worker::with_config(
        store.clone(),
        deliver.clone(),
        Arc::new(Notify::new()),
        WorkerConfig {
            limits: PlatformLimits::unlimited(),
            concurrency: 64,
            lease_ms: 120_000,
            max_attempts: 6,
            daytime: None,
        },
        Arc::new(SystemClock),
    );
    let stop = CancellationToken::new();
    let t = Instant::now();
    let task = tokio::spawn(worker.run(stop.clone()));
    let want = n as u64 + 1;
    let mut last = Instant::now();
    while deliver.sent.load(Ordering::Relaxed) < want {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last.elapsed() > Duration::from_secs(15) {
            last = Instant::now();
            eprintln!(
                "  … {} sent, peak RSS {:.1} MB",
                deliver.sent.load(Ordering::Relaxed),
                peak_rss_mb()
            );
        }
    }
    let drain_secs = t.elapsed().as_secs_f64();
    stop.cancel();
    task.await?;
    let statuses = store.broadcast_row_statuses(id).await?;
    println!();
    println!("| broadcast to {n} recipients | value |");
    println!("|---|---|");
    println!("| seed people (INSERT … SELECT) | {seeded:.1} s, peak RSS {rss_seed:.1} MB |");
    println!("| queue ({queued:?}) | {queue_secs:.1} s, peak RSS {rss_queued:.1} MB |");
    println!(
        "| drain (in-process deliverer) | {drain_secs:.1} s = {:.0} msg/s |",
        n as f64 / drain_secs
    );
    println!("| rows by status | {statuses:?} |");
    println!("| **peak RSS (VmHWM)** | **{:.1} MB** |", peak_rss_mb());
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let scale = env_f64("BENCH_SCALE", 1.0);
    let x = env_f64("BENCH_LIMITS_X", 1.0).max(1.0) as u32;
    let orders =
        std::env::var("BENCH_ORDERS").unwrap_or_else(|_| "members,groups,interleaved,mix".into());
    let mut runs = Vec::new();
    for o in orders.split(',').map(str::trim) {
        let order = match o {
            "members" => Order::MembersFirst,
            "groups" => Order::GroupsFirst,
            "interleaved" => Order::Interleaved,
            "mix" => Order::Mix,
            "" | "none" => continue,
            other => anyhow::bail!("unknown order {other}"),
        };
        eprintln!("running {order:?} (scale {scale}, limits ×{x}) …");
        runs.push(tokio::spawn(limited_run(order, scale, x)));
    }
    let mut rows = Vec::new();
    for run in runs {
        rows.push(run.await.context("a run")??);
    }
    if !rows.is_empty() {
        println!();
        println!(
            "Telegram limits ×{x} (global {}/s, any chat {}/s, group {}/min), scale {scale}",
            30 * x,
            x,
            20 * x
        );
        println!(
            "| order | messages | time | ideal | fraction of ideal | 429s | out of order | lost | duplicates | peak RSS |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {:.1} s | {:.1} s | {:.3} | {} | {} | {} | {} | {:.1} MB |",
                r.order,
                r.total,
                r.secs,
                r.ideal,
                r.ideal / r.secs,
                r.too_many,
                r.out_of_order,
                r.lost,
                r.duplicates,
                r.rss
            );
        }
    }
    let backlog = (env_f64("BENCH_REPLY", 0.2) * 100_000.0) as i64;
    if backlog > 0 {
        eprintln!("running replies during a {backlog}-recipient broadcast (limits ×{x}) …");
        let mut l = reply_latency(backlog, x).await?;
        l.sort();
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        println!();
        println!("| reply queued during a {backlog}-recipient broadcast | value |");
        println!("|---|---|");
        println!("| probes | {} |", l.len());
        println!(
            "| median time to the Bot API | {:.0} ms |",
            ms(&l[l.len() / 2])
        );
        println!("| slowest | {:.0} ms |", l.last().map_or(f64::NAN, ms));
    }
    let m = env_f64("BENCH_MILLION", 0.0);
    if m > 0.0 {
        million((m * 1_000_000.0) as i64).await?;
    }
    Ok(())
}
