//! National scale benchmark: many Telegram bots in one deployment, their sending spread over
//! replicas. Eight bots (an accounts file, `BLUEZONE_ACCOUNTS_FILE`), each with its own fake
//! Bot API enforcing Telegram's limits (30 messages/s, 1/s per chat); two replicas of the
//! real binary (`bluezone-bot serve`, child processes) on one PostgreSQL database; one
//! broadcast of 3,000 members queued per bot. Two runs:
//!
//! 1. both replicas all along: aggregate throughput as a fraction of 8 × 30 messages/s,
//!    429s, lost and duplicate messages, and how the accounts were shared;
//! 2. the same with one replica killed (SIGKILL) half-way: the takeover time (the longest
//!    pause of any bot's sending around the kill), lost and duplicate messages.
//!
//! ```text
//! cargo bench --bench replicas                         # 8 bots × 3,000, two runs (about 4 minutes)
//! BENCH_BOTS=4 BENCH_MEMBERS=600 cargo bench --bench replicas
//! ```
//!
//! - `BENCH_BOTS` (default 8), `BENCH_MEMBERS` (default 3,000 per bot), `BENCH_REPLICAS`
//!   (default 2).
//! - `DATABASE_URL`: the PostgreSQL server (default `postgres://postgres@127.0.0.1:5432/postgres`);
//!   each run gets a database of its own there, dropped afterwards.
//! - `BENCH_KILL` (default `both`): `no` runs only the first run, `only` only the second.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bluezone_bot::clock::SystemClock;
use bluezone_bot::domain::{AccountId, ChatAddress, Locale, Platform, UnitCode};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::store::{NewOutboxItem, Priority, Store};
use fake_platforms::{Call, FakeTelegram, TelegramLimits};
use tokio::process::{Child, Command};

mod common;
use common::{Db, env_u64, peak_rss_mb_of};

const BIN: &str = env!("CARGO_BIN_EXE_bluezone-bot");
/// Telegram's overall limit per bot.
const PER_SEC: f64 = 30.0;

/// One bot of the deployment: its account id and its fake Bot API.
struct Bot {
    id: String,
    fake: FakeTelegram,
}

/// The accounts file for `bots`: tokens in environment variables, each bot's own API.
fn accounts_file(bots: &[Bot]) -> String {
    let mut toml = String::new();
    for (i, b) in bots.iter().enumerate() {
        toml.push_str(&format!(
            "[[account]]\nid = \"{}\"\nplatform = \"telegram\"\ntoken_env = \"BENCH_BOT_{i}_TOKEN\"\napi_url = \"{}\"\nusername = \"BenchBot{i}\"\n\n",
            b.id,
            b.fake.api_url()
        ));
    }
    toml
}

/// Queues one broadcast of `members` private chats per bot (chat ids apart per bot).
async fn queue(store: &Store, bots: &[Bot], members: u64) -> Result<()> {
    let unit = UnitCode::parse("80").map_err(anyhow::Error::msg)?;
    for (b, bot) in bots.iter().enumerate() {
        let account = AccountId::parse(&bot.id).map_err(anyhow::Error::msg)?;
        let leader = (9_000_000 + b).to_string();
        let (leader, _) = store
            .touch_person_of(
                Platform::Telegram,
                &account,
                &leader,
                &leader,
                "Leader",
                Locale::Vi,
            )
            .await?;
        let text = format!("Cài Bluezone ({})", bot.id);
        let payload = serde_json::to_string(&Outgoing::text(text.clone()))?;
        let id = store
            .create_broadcast_draft(leader.id, &bot.id, &unit, &text, &payload)
            .await?;
        let items: Vec<NewOutboxItem> = (0..members as i64)
            .map(|i| NewOutboxItem {
                to: ChatAddress {
                    platform: Platform::Telegram,
                    account: account.clone(),
                    chat_id: (1_000_000 * (b as i64 + 1) + i).to_string(),
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
    }
    Ok(())
}

/// Starts one replica of the real binary.
fn replica(db: &Db, file: &std::path::Path, bots: usize, log: &std::path::Path) -> Result<Child> {
    let log = std::fs::File::create(log)?;
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BLUEZONE_ACCOUNTS_FILE", file)
        .env("BLUEZONE_LISTEN", "127.0.0.1:0")
        .env("BLUEZONE_METRICS_LISTEN", "off")
        .env("BLUEZONE_REMINDER_MAX", "0")
        .env("BLUEZONE_DIGEST_AT", "off")
        .env("RUST_LOG", "warn,bluezone_bot::outbox::lead=info")
        .env("NO_COLOR", "1")
        .env_remove("TELOXIDE_TOKEN")
        .kill_on_drop(true)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    for i in 0..bots {
        cmd.env(format!("BENCH_BOT_{i}_TOKEN"), FakeTelegram::TOKEN);
    }
    Ok(cmd.spawn()?)
}

/// The broadcast messages each bot's fake accepted (`sendMessage` answered ok).
fn delivered(bots: &[Bot]) -> Vec<Vec<Call>> {
    bots.iter()
        .map(|b| {
            b.fake
                .calls_matching(|c| c.ok() && c.method == "sendMessage" && c.text().contains("Cài"))
        })
        .collect()
}

struct Outcome {
    secs: f64,
    fraction: f64,
    too_many: usize,
    lost: u64,
    duplicates: usize,
    /// Per replica: the bots it took the sending of (in order, a bot twice when it came back).
    shares: Vec<Vec<String>>,
    /// With a kill: the longest pause of a bot's sending around the kill, and how many bots
    /// moved.
    takeover: Option<(f64, usize)>,
    rss: Vec<f64>,
}

async fn run(
    server: &str,
    n_bots: usize,
    members: u64,
    n_replicas: usize,
    kill: bool,
) -> Result<Outcome> {
    let db = Db::on_server(server, "bz_bench_replicas").await?;
    let store = Store::connect(&db.url, Arc::new(SystemClock)).await?;
    store.migrate().await?;
    bluezone_bot::units_csv::import_text(
        &store,
        "long_an.csv",
        bluezone_bot::startup::SAMPLE_UNITS,
    )
    .await?;
    let mut bots = Vec::new();
    for i in 0..n_bots {
        let fake = FakeTelegram::start_with(Some(TelegramLimits::telegram())).await?;
        bots.push(Bot {
            id: format!("bot-{i}"),
            fake,
        });
    }
    queue(&store, &bots, members).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, accounts_file(&bots))?;
    let started = Instant::now();
    let mut replicas = Vec::new();
    for r in 0..n_replicas {
        let log = dir.path().join(format!("replica-{r}.log"));
        replicas.push(Some(replica(&db, &file, n_bots, &log)?));
    }
    let total = members * n_bots as u64;
    let timeout = Duration::from_secs_f64(members as f64 / PER_SEC * 3.0 + 120.0);
    let mut killed_at: Option<Instant> = None;
    let mut rss = vec![f64::NAN; n_replicas];
    loop {
        let got: u64 = delivered(&bots)
            .iter()
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| c.chat_id)
                    .collect::<HashSet<_>>()
                    .len() as u64
            })
            .sum();
        for (r, child) in replicas.iter().enumerate() {
            if let Some(pid) = child.as_ref().and_then(Child::id) {
                let m = peak_rss_mb_of(&pid.to_string());
                if !m.is_nan() {
                    rss[r] = m;
                }
            }
        }
        if kill && killed_at.is_none() && got >= total / 2 {
            if let Some(mut child) = replicas[0].take() {
                child.start_kill()?;
                child.wait().await?;
            }
            killed_at = Some(Instant::now());
            eprintln!("  replica 0 killed at {got} of {total}");
        }
        if got >= total {
            break;
        }
        if started.elapsed() > timeout {
            for (r, _) in replicas.iter().enumerate() {
                let log = std::fs::read_to_string(dir.path().join(format!("replica-{r}.log")))
                    .unwrap_or_default();
                eprintln!("replica {r} log:\n{log}");
            }
            bail!("only {got} of {total} delivered after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let what may still be in flight land before counting duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for mut child in replicas.into_iter().flatten() {
        child.start_kill()?;
        child.wait().await?;
    }
    let calls = delivered(&bots);
    let first = calls
        .iter()
        .flatten()
        .map(|c| c.at)
        .min()
        .context("nothing sent")?;
    let last = calls
        .iter()
        .flatten()
        .map(|c| c.at)
        .max()
        .context("nothing sent")?;
    let secs = (last - first).as_secs_f64();
    // Ideal: every bot at 30/s from the first message on.
    let ideal = members as f64 / PER_SEC;
    let mut unique = 0u64;
    let mut duplicates = 0usize;
    let mut too_many = 0usize;
    for (b, bot) in bots.iter().enumerate() {
        let chats: HashSet<i64> = calls[b].iter().filter_map(|c| c.chat_id).collect();
        unique += chats.len() as u64;
        duplicates += calls[b].len() - chats.len();
        too_many += bot.fake.counters().too_many_requests;
    }
    let takeover = killed_at.map(|k| {
        let mut longest = 0.0f64;
        let mut moved = 0;
        for c in &calls {
            let mut times: Vec<Instant> = c.iter().map(|c| c.at).collect();
            times.sort();
            // The pause of this bot that spans the kill.
            let gap = times
                .windows(2)
                .find(|w| w[0] <= k && w[1] > k)
                .map_or(0.0, |w| (w[1] - w[0]).as_secs_f64());
            if gap > 1.0 {
                moved += 1;
            }
            longest = longest.max(gap);
        }
        (longest, moved)
    });
    let shares = (0..n_replicas)
        .map(|r| {
            let log = std::fs::read_to_string(dir.path().join(format!("replica-{r}.log")))
                .unwrap_or_default();
            taken(&log)
        })
        .collect();
    store.close().await;
    db.drop_db().await;
    Ok(Outcome {
        secs,
        fraction: ideal / secs.max(f64::EPSILON),
        too_many,
        lost: total.saturating_sub(unique),
        duplicates,
        shares,
        takeover,
        rss,
    })
}

/// The accounts a replica's log says it took ("sending for this account from this replica").
fn taken(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("sending for this account from this replica"))
        .filter_map(|l| {
            let rest = &l[l.find("account=")? + "account=".len()..];
            let id: String = rest
                .trim_start_matches('"')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            Some(id)
        })
        .collect()
}

fn print(label: &str, n_bots: usize, members: u64, o: &Outcome) {
    let shares: Vec<String> = o
        .shares
        .iter()
        .enumerate()
        .map(|(r, s)| format!("replica {r}: {}", s.join(" ")))
        .collect();
    let rss: Vec<String> = o.rss.iter().map(|m| format!("{m:.1}")).collect();
    let takeover = o.takeover.map_or("–".to_string(), |(t, moved)| {
        format!("{t:.1} s ({moved} bots moved)")
    });
    println!(
        "| {label} | {n_bots} × {members} | {:.1} s | {:.0}/s | {:.3} | {} | {} | {} | {takeover} | {} MB |",
        o.secs,
        (members * n_bots as u64) as f64 / o.secs.max(f64::EPSILON),
        o.fraction,
        o.too_many,
        o.lost,
        o.duplicates,
        rss.join(" / "),
    );
    println!("  accounts taken: {}", shares.join("; "));
}

#[tokio::main]
async fn main() -> Result<()> {
    let n_bots = env_u64("BENCH_BOTS", 8) as usize;
    let members = env_u64("BENCH_MEMBERS", 3_000);
    let n_replicas = env_u64("BENCH_REPLICAS", 2).max(1) as usize;
    let server = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let which = std::env::var("BENCH_KILL").unwrap_or_else(|_| "both".into());
    println!(
        "| run | bots × members | time (first to last message) | messages/s | fraction of {n_bots} × 30/s | 429s | lost | duplicates | takeover | peak RSS per replica |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    if which != "only" {
        eprintln!("running {n_replicas} replicas, {n_bots} bots × {members} …");
        let o = run(&server, n_bots, members, n_replicas, false).await?;
        print(&format!("{n_replicas} replicas"), n_bots, members, &o);
    }
    if which != "no" && n_replicas > 1 {
        eprintln!("running {n_replicas} replicas, one killed half-way …");
        let o = run(&server, n_bots, members, n_replicas, true).await?;
        print("one replica killed half-way", n_bots, members, &o);
    }
    Ok(())
}
