//! Inbound benchmark: people writing to the bot at once, through the real HTTP server in
//! webhook mode. The real binary (`bluezone-bot serve`) runs as a child process against a
//! fresh database and the fake Bot API (its limits off, and the bot's own send limits off, so
//! only the bot limits replies); an in-process load generator posts Telegram updates to its
//! webhook from a fixed number of connections (the concurrency), each posting its next update
//! as soon as the previous one is answered: 50% `/start`, 30% button presses (callback data
//! the bot really sent that person, read from the fake) and 20% `/status`, from 2,000 people
//! taken in turn. Before each measured run every person sends `/start` once and the mix runs
//! for a few seconds unmeasured; on PostgreSQL the database is then analysed (as autovacuum
//! does a minute into a deployment).
//!
//! ```text
//! cargo bench --bench inbound                                   # SQLite, concurrency 32 and 64, 30 s each
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench inbound
//! BENCH_SECS=10 BENCH_CONCURRENCY=32 cargo bench --bench inbound
//! ```
//!
//! - `BENCH_SECS` (default 30): the measured time of each run.
//! - `BENCH_CONCURRENCY` (default `32,64`): one run per value.
//! - `BENCH_PEOPLE` (default 2,000): how many people write.
//! - `BENCH_WARM_SECS` (default 3): the unmeasured mix before each run.
//! - `DATABASE_URL`: a PostgreSQL server; each run gets a database of its own there, dropped
//!   afterwards (without it, a temporary SQLite file).
//! - `BENCH_PG_SET`: settings for the bot's PostgreSQL sessions, `name=value;name=value`
//!   (`log_min_duration_statement=0` logs every statement with its time to the server log).
//! - `BENCH_BOT_LOG`: where the bot's log goes (default: a temporary file, printed on failure).
//! - `BENCH_BOT_BIN`: another build of `bluezone-bot` to measure (an older commit's, to
//!   compare); the one cargo built by default.
//!
//! One summary line per run: updates/s answered; the webhook answer's p50/p95/p99; the time
//! from an update's arrival to its first reply reaching the fake Bot API (p50/p95/p99/max:
//! the answer to a press, or the first message to the chat); how long after the last update
//! every reply was in; the bot's CPU per update (its own process, from /proc, over the run
//! and the drain after it), its peak RSS (VmHWM); and, to judge a shared machine, the CPU of
//! the load generator with the fake (this process), of the PostgreSQL backends serving the
//! bot's database, and of everything else on the machine over the same time.
//!
//! To profile the bot, attach to the pid it prints: `perf record -g -p PID -- sleep 10`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bluezone_bot::clock::SystemClock;
use bluezone_bot::store::Store;
use fake_platforms::{FakeTelegram, TgUser};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::Connection;

mod common;
use common::{Db, env_u64, peak_rss_mb_of};

const BIN: &str = env!("CARGO_BIN_EXE_bluezone-bot");
const SECRET: &str = "inbound-bench-secret";

// ---- the database ----------------------------------------------------------------------

// ---- CPU and memory from /proc ---------------------------------------------------------

/// USER_HZ: the unit of the times in /proc/<pid>/stat (100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU seconds of process `pid` (all its threads).
fn process_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU seconds of the PostgreSQL backends serving database `db` (their process titles name
/// it: `postgres: user db 127.0.0.1(port) idle`).
fn processes_cpu(db: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read_to_string(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if cmdline.starts_with("postgres:") && cmdline.split_whitespace().any(|w| w == db) {
            total += process_cpu(&pid).unwrap_or(0.0);
        }
    }
    total
}

/// Busy CPU seconds of the whole machine (all cores), and the number of cores.
fn machine_cpu() -> (f64, usize) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (f64::NAN, 0);
    };
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let Some(line) = stat.lines().next() else {
        return (f64::NAN, cores);
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / TICKS_PER_SEC, cores)
}

/// CPU seconds at one moment: the bot, this process, PostgreSQL, the machine.
#[derive(Clone, Copy)]
struct Cpu {
    bot: f64,
    me: f64,
    pg: f64,
    machine: f64,
    at: Instant,
}

impl Cpu {
    fn now(bot_pid: &str, pg: Option<&str>) -> Cpu {
        Cpu {
            bot: process_cpu(bot_pid).unwrap_or(f64::NAN),
            me: process_cpu("self").unwrap_or(f64::NAN),
            pg: pg.map_or(0.0, processes_cpu),
            machine: machine_cpu().0,
            at: Instant::now(),
        }
    }
}

// ---- the bot ---------------------------------------------------------------------------

/// The bot running as `bluezone-bot serve` in webhook mode; killed when dropped.
struct Bot {
    child: std::process::Child,
    base: String,
    log: std::path::PathBuf,
    _logdir: Option<tempfile::TempDir>,
}

impl Bot {
    async fn start(db: &Db, fake: &FakeTelegram) -> Result<Bot> {
        // A free port: bound, read and let go (the bot binds it a moment later).
        let addr: SocketAddr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?
        };
        let (log, logdir) = match std::env::var("BENCH_BOT_LOG") {
            Ok(p) if !p.is_empty() => (std::path::PathBuf::from(p), None),
            _ => {
                let d = tempfile::tempdir()?;
                (d.path().join("bot.log"), Some(d))
            }
        };
        let out = std::fs::File::create(&log)?;
        let bin = std::env::var("BENCH_BOT_BIN").unwrap_or_else(|_| BIN.to_string());
        let child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
            .env("TELOXIDE_API_URL", fake.api_url())
            .env("BLUEZONE_LISTEN", addr.to_string())
            .env("BLUEZONE_WEBHOOK_URL", "https://bench.example.org")
            .env("BLUEZONE_WEBHOOK_SECRET", SECRET)
            .env("BLUEZONE_METRICS_LISTEN", "off")
            .env("BLUEZONE_REMINDER_MAX", "0")
            .env("BLUEZONE_DIGEST_AT", "off")
            // The bot's own send limits off: only the bot limits replies.
            .env("BLUEZONE_TG_GLOBAL_PER_SEC", "0")
            .env("BLUEZONE_TG_ANSWERS_PER_SEC", "0")
            .env("BLUEZONE_TG_GROUP_PER_MIN", "0")
            .env("BLUEZONE_TG_PRIVATE_PER_SEC", "1000")
            .env("BLUEZONE_TG_PRIVATE_BURST", "1000")
            .env("BLUEZONE_SEND_CONCURRENCY", "256")
            .env_remove("BLUEZONE_ADMINS")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_BOT_RUST_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .context("starting bluezone-bot serve")?;
        let mut bot = Bot {
            child,
            base: format!("http://{addr}"),
            log,
            _logdir: logdir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", bot.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = bot.child.try_wait()? {
                bail!("the bot exited ({status}): {}", bot.log_tail());
            }
            if Instant::now() > deadline {
                bail!("the bot never answered /healthz: {}", bot.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(bot)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        // The last lines say why it failed.
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, then waits (SIGKILL after 15 s).
    async fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the bot did not stop on SIGTERM: {}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---- what the fake saw -----------------------------------------------------------------

/// The fake's record, read as it grows: when messages reached each chat, when each press
/// was answered, and the buttons each person was sent last.
#[derive(Default)]
struct Seen {
    /// Arrival times of messages (sends and edits) per chat, in order.
    messages: HashMap<i64, Vec<Instant>>,
    /// Arrival of the answer to each callback query.
    answers: HashMap<String, Instant>,
    /// The last message with callback buttons per chat: its id and the buttons' data.
    buttons: HashMap<i64, (i64, Vec<String>)>,
    /// Calls the fake answered with an error.
    errors: usize,
}

impl Seen {
    fn absorb(&mut self, calls: Vec<fake_platforms::Call>) {
        for c in calls {
            if !c.ok() {
                if c.method != "getUpdates" {
                    self.errors += 1;
                }
                continue;
            }
            match c.method.as_str() {
                "answerCallbackQuery" => {
                    if let Some(id) = c.params.get("callback_query_id").and_then(Value::as_str) {
                        self.answers.insert(id.to_string(), c.at);
                    }
                }
                "sendMessage" | "sendPhoto" | "sendDocument" | "editMessageText" => {
                    let Some(chat) = c.chat_id else { continue };
                    self.messages.entry(chat).or_default().push(c.at);
                    let data: Vec<String> = c.buttons().into_iter().filter_map(|b| b.1).collect();
                    if !data.is_empty() {
                        let id = c
                            .message_id()
                            .or_else(|| c.params.get("message_id").and_then(Value::as_i64))
                            .unwrap_or(1);
                        self.buttons.insert(chat, (id, data));
                    }
                }
                _ => {}
            }
        }
    }

    /// When the first reply to an update posted at `posted` reached the fake.
    fn reply_at(&self, s: &Sample) -> Option<Instant> {
        let message = self.messages.get(&s.chat).and_then(|v| {
            let i = v.partition_point(|t| *t < s.posted);
            v.get(i).copied()
        });
        let answer = s
            .callback
            .as_ref()
            .and_then(|cb| self.answers.get(cb))
            .copied();
        match (message, answer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Reads the fake's record every 20 ms into `seen` until `stop`.
fn watch(fake: Arc<FakeTelegram>, seen: Arc<Mutex<Seen>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let calls = fake.take_calls();
            let done = Arc::strong_count(&seen) == 1;
            if let Ok(mut s) = seen.lock() {
                s.absorb(calls);
            }
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

// ---- the load --------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Press,
    Status,
}

/// One posted update.
struct Sample {
    chat: i64,
    /// The callback query id of a press.
    callback: Option<String>,
    posted: Instant,
    answered: Instant,
    status: u16,
}

struct Load {
    fake: Arc<FakeTelegram>,
    seen: Arc<Mutex<Seen>>,
    client: reqwest::Client,
    url: String,
    people: Vec<TgUser>,
    next: AtomicUsize,
}

impl Load {
    /// Posts one update of `kind` from person `k`.
    async fn post(&self, k: usize, kind: Kind) -> Sample {
        let user = &self.people[k % self.people.len()];
        let press = if kind == Kind::Press {
            self.seen
                .lock()
                .ok()
                .and_then(|s| s.buttons.get(&user.id).cloned())
        } else {
            None
        };
        let (update, callback) = match (kind, press) {
            (Kind::Press, Some((message_id, data))) => {
                let pick = &data[rand::random_range(0..data.len())];
                let (u, cb) = self.fake.button_update(user, message_id, pick);
                (u, Some(cb))
            }
            (Kind::Status, _) => (self.fake.text_update(user, "/status"), None),
            _ => (self.fake.text_update(user, "/start"), None),
        };
        let posted = Instant::now();
        let status = match self
            .client
            .post(&self.url)
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .json(&update)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        Sample {
            chat: user.id,
            callback,
            posted,
            answered: Instant::now(),
            status,
        }
    }

    /// One connection's loop: the mix until `end`.
    async fn run(self: Arc<Self>, seed: u64, end: Instant) -> Vec<Sample> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        while Instant::now() < end {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let r: f64 = rng.random();
            let kind = if r < 0.5 {
                Kind::Start
            } else if r < 0.8 {
                Kind::Press
            } else {
                Kind::Status
            };
            out.push(self.post(k, kind).await);
        }
        out
    }

    /// Every person sends `/start` once, `concurrency` at a time.
    async fn greet_all(self: &Arc<Self>, concurrency: usize) -> usize {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (load, next) = (self.clone(), next.clone());
                tokio::spawn(async move {
                    let mut failed = 0;
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= load.people.len() {
                            return failed;
                        }
                        if load.post(k, Kind::Start).await.status != 200 {
                            failed += 1;
                        }
                    }
                })
            })
            .collect();
        let mut failed = 0;
        for t in tasks {
            failed += t.await.unwrap_or(1);
        }
        failed
    }

    /// The mix from `concurrency` connections for `secs`.
    async fn mix(self: &Arc<Self>, concurrency: usize, secs: f64) -> Vec<Sample> {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let tasks: Vec<_> = (0..concurrency)
            .map(|i| tokio::spawn(self.clone().run(i as u64 + 1, end)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        all
    }
}

// ---- one run ---------------------------------------------------------------------------

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(concurrency: usize, secs: f64, people: usize, warm: f64) -> Result<String> {
    let db = Db::fresh("bz_inbound").await?;
    let kind = db.kind();
    {
        let store = Store::connect(&db.url, Arc::new(SystemClock)).await?;
        store.migrate().await?;
        bluezone_bot::units_csv::import_text(
            &store,
            "long_an_2020.csv",
            bluezone_bot::startup::SAMPLE_UNITS,
        )
        .await?;
        store.close().await;
    }
    let fake = Arc::new(FakeTelegram::start().await?);
    let bot = Bot::start(&db, &fake).await?;
    let pid = bot.pid();
    eprintln!("{kind}, concurrency {concurrency}: bot pid {pid}");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = watch(fake.clone(), seen.clone());
    let load = Arc::new(Load {
        fake: fake.clone(),
        seen: seen.clone(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency * 2)
            .build()?,
        url: format!("{}/webhooks/telegram", bot.base),
        people: (0..people)
            .map(|i| {
                let id = 700_000_000 + i as i64;
                if i % 4 == 0 {
                    TgUser::en(id)
                } else {
                    TgUser::vi(id)
                }
            })
            .collect(),
        next: AtomicUsize::new(0),
    });

    // Everyone says /start once; then the mix, unmeasured.
    let failed = load.greet_all(concurrency).await;
    if failed > 0 {
        bail!(
            "{failed} of the first /start updates failed: {}",
            bot.log_tail()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let with_buttons = seen.lock().map(|s| s.buttons.len()).unwrap_or(0);
        if with_buttons >= people {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {with_buttons} of {people} people got buttons after /start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if warm > 0.0 {
        load.mix(concurrency, warm).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The statistics a running deployment has: PostgreSQL's autovacuum analyses a table a
    // minute at the earliest after it grew, and plans made against the empty tables of a new
    // database (a person looked up through the wrong index, reading every person) are not
    // what a deployed bot runs.
    if db.pg.is_some() {
        let mut conn = sqlx::PgConnection::connect(&db.url).await?;
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
        conn.close().await?;
    }

    // The measured run, and the drain after it.
    let is_pg = db.pg.is_some();
    let pg_name = db.pg.as_ref().map(|(_, name)| name.clone());
    let before = Cpu::now(&pid, pg_name.as_deref());
    let samples = load.mix(concurrency, secs).await;
    let load_secs = before.at.elapsed().as_secs_f64();
    let last_posted = samples.iter().map(|s| s.posted).max();
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    let replies: Vec<Option<Instant>> = loop {
        let replies: Vec<Option<Instant>> = {
            let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            samples
                .iter()
                .map(|x| if x.status == 200 { s.reply_at(x) } else { None })
                .collect()
        };
        let missing = samples
            .iter()
            .zip(&replies)
            .filter(|(s, r)| s.status == 200 && r.is_none())
            .count();
        if missing == 0 || Instant::now() > drain_deadline {
            break replies;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if std::env::var("BENCH_DEBUG").is_ok() {
        // The slowest replies, with what their chat saw around them.
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let t0 = before.at;
        let mut worst: Vec<(f64, usize)> = samples
            .iter()
            .zip(&replies)
            .enumerate()
            .filter_map(|(i, (x, r))| r.map(|r| ((r - x.posted).as_secs_f64(), i)))
            .collect();
        worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (lag, i) in worst.iter().take(5) {
            let x = &samples[*i];
            let posts: Vec<String> = samples
                .iter()
                .filter(|y| y.chat == x.chat)
                .map(|y| {
                    format!(
                        "{:.3}{}",
                        (y.posted - t0).as_secs_f64(),
                        if y.callback.is_some() { "p" } else { "" }
                    )
                })
                .collect();
            let arrivals: Vec<String> = s
                .messages
                .get(&x.chat)
                .map(|v| {
                    v.iter()
                        .filter(|t| **t >= t0)
                        .map(|t| format!("{:.3}", (*t - t0).as_secs_f64()))
                        .collect()
                })
                .unwrap_or_default();
            eprintln!(
                "lag {lag:.3}s chat {} posted {:.3}: posts {posts:?} arrivals {arrivals:?}",
                x.chat,
                (x.posted - t0).as_secs_f64()
            );
        }
    }
    let after = Cpu::now(&pid, pg_name.as_deref());
    let rss = peak_rss_mb_of(&pid);
    let cores = machine_cpu().1;
    let fake_errors = seen.lock().map(|s| s.errors).unwrap_or(0);
    bot.stop().await?;
    drop(load);
    drop(seen);
    let _ = watcher.await;
    if std::env::var("BENCH_KEEP_DB").is_ok() {
        eprintln!("kept the database: {}", db.url);
        std::mem::forget(db);
    } else {
        db.drop_db().await;
    }

    let n = samples.len();
    let failed = samples.iter().filter(|s| s.status != 200).count();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut answer: Vec<f64> = samples.iter().map(|s| ms(s.answered - s.posted)).collect();
    answer.sort_by(f64::total_cmp);
    let mut reply: Vec<f64> = samples
        .iter()
        .zip(&replies)
        .filter_map(|(s, r)| r.map(|r| ms(r.saturating_duration_since(s.posted))))
        .collect();
    reply.sort_by(f64::total_cmp);
    let missing = samples
        .iter()
        .zip(&replies)
        .filter(|(s, r)| s.status == 200 && r.is_none())
        .count();
    let behind = match (last_posted, replies.iter().flatten().max()) {
        (Some(p), Some(r)) => ms(r.saturating_duration_since(p)),
        _ => f64::NAN,
    };
    let window = after.at.duration_since(before.at).as_secs_f64();
    let per_update_us = |cpu: f64| cpu / n.max(1) as f64 * 1e6;
    let bot_cpu = after.bot - before.bot;
    let me_cpu = after.me - before.me;
    let pg_cpu = after.pg - before.pg;
    let machine = after.machine - before.machine;
    let others = machine - bot_cpu - me_cpu - pg_cpu;
    let pg_part = if is_pg {
        format!(", PostgreSQL {:.0} µs/update", per_update_us(pg_cpu))
    } else {
        String::new()
    };
    Ok(format!(
        "inbound {kind} concurrency {concurrency}: {:.0} updates/s ({n} in {load_secs:.1} s, {failed} not 200, {missing} unanswered, {fake_errors} Bot API errors) \
         | webhook answer p50/p95/p99 {:.1}/{:.1}/{:.1} ms \
         | reply reached the Bot API p50/p95/p99/max {:.1}/{:.1}/{:.1}/{:.0} ms after the update, all in {behind:.0} ms after the last update \
         | bot CPU {:.0} µs/update ({:.2} cores), peak RSS {rss:.0} MB \
         | load generator + fake {:.0} µs/update{pg_part}, other processes {:.2} of {cores} cores",
        n as f64 / load_secs,
        pct(&answer, 0.50),
        pct(&answer, 0.95),
        pct(&answer, 0.99),
        pct(&reply, 0.50),
        pct(&reply, 0.95),
        pct(&reply, 0.99),
        reply.last().copied().unwrap_or(f64::NAN),
        per_update_us(bot_cpu),
        bot_cpu / window,
        per_update_us(me_cpu),
        others / window,
    ))
}

#[tokio::main]
async fn main() -> Result<()> {
    let secs = env_u64("BENCH_SECS", 30).max(1) as f64;
    let people = env_u64("BENCH_PEOPLE", 2_000).max(1) as usize;
    let warm = env_u64("BENCH_WARM_SECS", 3) as f64;
    let levels = std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "32,64".into());
    for c in levels.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let c: usize = c
            .parse()
            .context("BENCH_CONCURRENCY: numbers, comma-separated")?;
        let line = run(c.max(1), secs, people, warm).await?;
        println!("{line}");
    }
    Ok(())
}
