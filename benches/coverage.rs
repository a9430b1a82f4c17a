//! Coverage benchmark: the national unit tree (11,384 units) and 10,000,000 people spread
//! over the communes, on SQLite; then `/coverage` for the whole country and for a province,
//! through the real engine (load, authorise, read counters and yesterday's snapshot, render,
//! write the reply to the outbox).
//!
//! ```text
//! cargo bench --bench coverage                      # 10,000,000 people
//! BENCH_PEOPLE=1000000 cargo bench --bench coverage # fewer people
//! ```
//!
//! People are generated in SQL (a recursive sequence, one `INSERT … SELECT` in one
//! transaction), then the counters are rebuilt with the repair tool (`recount_units`), as
//! after a bulk load. `/coverage` reads only unit rows and snapshot rows, so its latency does
//! not depend on the number of people; they are inserted anyway, for honesty.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bluezone_bot::clock::SystemClock;
use bluezone_bot::config::Settings;
use bluezone_bot::conversation::Engine;
use bluezone_bot::coverage::snapshot;
use bluezone_bot::domain::Platform;
use bluezone_bot::platform::{Chat, ChatKind, Event, Inbound, Sender};
use bluezone_bot::store::Store;
use bluezone_bot::units_csv;
use sqlx::Connection;
use tokio::sync::Notify;

const NATIONAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vn_units_2020.csv");
const ADMIN: &str = "1";
const RUNS: usize = 51;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn command(text: &str) -> Inbound {
    let (name, args) = text
        .trim_start_matches('/')
        .split_once(' ')
        .unwrap_or((text.trim_start_matches('/'), ""));
    Inbound {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        sender: Sender {
            user_id: ADMIN.into(),
            private_chat_id: ADMIN.into(),
            display_name: "Admin".into(),
            language_code: Some("vi".into()),
        },
        chat: Chat {
            id: ADMIN.into(),
            kind: ChatKind::Private,
        },
        event: Event::Command {
            name: name.into(),
            args: args.into(),
        },
    }
}

async fn time_command(engine: &Engine, text: &str) -> Result<(Duration, Duration)> {
    let inbound = command(text);
    engine.handle(&inbound).await?; // warm-up
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        engine.handle(&inbound).await?;
        times.push(t.elapsed());
    }
    let worst = times.iter().max().copied().unwrap_or_default();
    Ok((median(times), worst))
}

#[tokio::main]
async fn main() -> Result<()> {
    let people: i64 = std::env::var("BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url, Arc::new(SystemClock)).await?;
    store.migrate().await?;

    let t = Instant::now();
    let summary = units_csv::import_file(&store, std::path::Path::new(NATIONAL)).await?;
    let import = t.elapsed();
    anyhow::ensure!(summary.inserted == 11_384, "expected 11,384 units");

    // People: one INSERT … SELECT over a recursive sequence, in one transaction.
    let t = Instant::now();
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::raw_sql(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; PRAGMA temp_store = MEMORY;
         CREATE TEMP TABLE communes (rn INTEGER PRIMARY KEY, code TEXT NOT NULL);
         INSERT INTO communes (rn, code) SELECT ROW_NUMBER() OVER (ORDER BY code) - 1, code FROM units WHERE kind = 'commune';",
    )
    .execute(&mut conn)
    .await?;
    let (communes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM communes")
        .fetch_one(&mut conn)
        .await?;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1)
         INSERT INTO people (platform, platform_user_id, chat_id, locale, unit_code, ref_code, started,
                             confirmed_at, verified_at, created_at, last_activity_at, last_inbound_at)
         SELECT 'telegram', 'b' || i, 'b' || i, 'vi',
                (SELECT code FROM communes WHERE rn = i % $2), 'r' || i, 1,
                CASE WHEN i % 3 = 0 THEN 1 ELSE NULL END,
                CASE WHEN i % 15 = 0 THEN 1 ELSE NULL END, 0, 0, 0
         FROM seq",
    )
    .bind(people)
    .bind(communes)
    .execute(&mut *tx)
    .await
    .context("inserting people")?;
    tx.commit().await?;
    conn.close().await?;
    let insert = t.elapsed();
    let t = Instant::now();
    store.recount_units().await?;
    let recount = t.elapsed();
    let top = store.children(None).await?;
    let total: i64 = top.iter().map(|u| u.sub_members).sum();
    anyhow::ensure!(
        total == people,
        "counted {total} members, inserted {people}"
    );

    // Yesterday's and today's snapshots, so the ▲/▼ marks are computed.
    let t = Instant::now();
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let today = snapshot::today(&store, tz);
    store
        .write_snapshot(&snapshot::day_key(snapshot::day_before(today)))
        .await?;
    snapshot::write_today(&store, tz).await?;
    let snap = t.elapsed();

    let mut settings = Settings::for_database(&url);
    settings
        .admins
        .push((Platform::Telegram, ADMIN.to_string()));
    let engine = Engine::new(store.clone(), Arc::new(settings), Arc::new(Notify::new()));
    let (country, country_max) = time_command(&engine, "/coverage").await?;
    let (province, province_max) = time_command(&engine, "/coverage 80").await?;
    let (district, district_max) = time_command(&engine, "/coverage 794").await?;
    let (members_p, members_p_max) = time_command(&engine, "/members 80").await?;
    let (members_c, members_c_max) = time_command(&engine, "/members 27694").await?;
    let (report, report_max) = time_command(&engine, "/report 27694 1 bench").await?;

    println!();
    println!(
        "coverage benchmark (SQLite, {people} people, {} units)",
        summary.inserted
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "step", "median ms", "max ms", "target"
    );
    println!(
        "{:<44} {:>12.1} {:>12} {:>8}",
        "import 11,384-unit national file",
        ms(import),
        "",
        "< 2000"
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>8}",
        format!("insert {people} people (one INSERT…SELECT)"),
        ms(insert),
        "",
        ""
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>8}",
        "recount counters from people",
        ms(recount),
        "",
        ""
    );
    println!(
        "{:<44} {:>12.1} {:>12} {:>8}",
        "write two daily snapshots",
        ms(snap),
        "",
        ""
    );
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>8}",
        "/coverage (country: 63 provinces)",
        ms(country),
        ms(country_max),
        "< 50"
    );
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>8}",
        "/coverage 80 (Long An: 15 districts)",
        ms(province),
        ms(province_max),
        "< 50"
    );
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>8}",
        "/coverage 794 (Tân An: 14 communes)",
        ms(district),
        ms(district_max),
        "< 50"
    );
    for (label, med, max) in [
        (
            "/members 80 (province, first page)",
            members_p,
            members_p_max,
        ),
        (
            "/members 27694 (commune, first page)",
            members_c,
            members_c_max,
        ),
        ("/report 27694 1 (write + audit row)", report, report_max),
    ] {
        println!(
            "{:<44} {:>12.2} {:>12.2} {:>8}",
            label,
            ms(med),
            ms(max),
            ""
        );
    }
    store.close().await;
    Ok(())
}
