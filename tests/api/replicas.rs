//! Sending spread over replicas (PostgreSQL): two replicas on one database share four
//! accounts (each leads two, never the same one), and when one dies its accounts move to
//! the other within seconds; every message goes out, and only those in flight when it died
//! may go twice. What an account runs while led (long polling) runs in one replica at a
//! time too. On SQLite (one process) there is nothing to share: the test is skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bluezone_bot::clock::SystemClock;
use bluezone_bot::domain::{AccountId, ChatAddress, Platform};
use bluezone_bot::outbox::{Delivery, Leading, Worker, WorkerConfig};
use bluezone_bot::platform::telegram::{Telegram, limits};
use bluezone_bot::platform::{LeadTask, Outgoing};
use bluezone_bot::store::{NewOutboxItem, Priority, Store};
use fake_platforms::FakeTelegram;
use teloxide::Bot;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, init_tracing};

const ACCOUNTS: [&str; 4] = ["bot-a", "bot-b", "bot-c", "bot-d"];
/// How long a claimed row is held: short, so rows a dead replica held go again soon.
const LEASE_MS: i64 = 2_000;
/// Requests in flight per sender.
const CONCURRENCY: usize = 4;

/// One replica: its own pool, its own senders for every account, its own delivery.
struct Replica {
    store: Store,
    leading: Leading,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// How many replicas run each account's led task now.
type Running = Arc<HashMap<&'static str, AtomicUsize>>;

/// Counts a led task while it runs, also when it is dropped by a dying replica.
struct Counted(&'static str, Running);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1[self.0].fetch_sub(1, Ordering::SeqCst);
    }
}

async fn replica(
    url: &str,
    fakes: &HashMap<&str, Arc<FakeTelegram>>,
    running: &Running,
) -> Replica {
    let store = Store::connect(url, Arc::new(SystemClock))
        .await
        .expect("a replica's pool");
    let ready = Arc::new(Notify::new());
    let mut delivery = Delivery::new();
    for id in ACCOUNTS {
        let bot = Bot::new(FakeTelegram::TOKEN)
            .set_api_url(url::Url::parse(&fakes[id].api_url()).expect("url"));
        let account = AccountId::parse(id).expect("an id");
        let telegram = Telegram::with_limits(bot, limits(3)).for_account(account);
        let worker = Worker::with_config(
            store.clone(),
            Arc::new(telegram),
            ready.clone(),
            WorkerConfig {
                limits: limits(3),
                concurrency: CONCURRENCY,
                lease_ms: LEASE_MS,
                max_attempts: 6,
                daytime: None,
            },
            Arc::new(SystemClock),
        );
        let counts = running.clone();
        let led: LeadTask = Arc::new(move |stop: CancellationToken| {
            counts[id].fetch_add(1, Ordering::SeqCst);
            let counted = Counted(id, counts.clone());
            Box::pin(async move {
                stop.cancelled().await;
                drop(counted);
            })
        });
        delivery.add_account(worker, Some(led));
    }
    let delivery = delivery.check_every(Duration::from_millis(200));
    let leading = delivery.leading();
    let stop = CancellationToken::new();
    let handle = tokio::spawn(delivery.run(store.clone(), stop.clone()));
    Replica {
        store,
        leading,
        stop,
        handle,
    }
}

/// Queues `n` messages to distinct chats of every account; their texts.
async fn queue(store: &Store, round: &str, n: usize) -> Vec<String> {
    let mut items = Vec::new();
    let mut texts = Vec::new();
    for (a, id) in ACCOUNTS.iter().enumerate() {
        for i in 0..n {
            let text = format!("{round} {id} {i}");
            texts.push(text.clone());
            items.push(NewOutboxItem {
                to: ChatAddress {
                    platform: Platform::Telegram,
                    account: AccountId::parse(id).expect("an id"),
                    chat_id: (10_000 * (a + 1) + i).to_string(),
                    is_group: false,
                },
                person_id: None,
                broadcast_id: None,
                priority: Priority::Broadcast,
                message: Outgoing::Text {
                    text,
                    buttons: Vec::new(),
                },
                dedupe_key: None,
            });
        }
    }
    store.enqueue(&items).await.expect("queued");
    texts
}

/// How often each text was sent, over every fake, and whether each went through its own
/// account's API.
fn sent(fakes: &HashMap<&str, Arc<FakeTelegram>>) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for (id, fake) in fakes {
        for c in fake.calls_matching(|c| c.method == "sendMessage") {
            let text = c.text().to_string();
            assert!(text.contains(id), "{text} went out through {id}");
            *count.entry(text).or_insert(0) += 1;
        }
    }
    count
}

/// Waits until every text in `texts` was sent; the counts.
async fn all_sent(
    fakes: &HashMap<&str, Arc<FakeTelegram>>,
    texts: &[String],
    within: Duration,
) -> HashMap<String, usize> {
    let deadline = Instant::now() + within;
    loop {
        let count = sent(fakes);
        if texts.iter().all(|t| count.contains_key(t)) {
            return count;
        }
        let missing = texts.iter().filter(|t| !count.contains_key(*t)).count();
        assert!(
            Instant::now() < deadline,
            "{missing} messages never went out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check` holds of the two replicas' leading.
async fn until(what: &str, within: Duration, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_accounts_and_take_over_a_dead_ones() {
    init_tracing();
    let db = TestDb::new().await.expect("a database");
    if !db.is_postgres() {
        // One SQLite process always leads every account: nothing to share.
        return;
    }
    let setup = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("a pool");
    setup.migrate().await.expect("migrated");
    let mut fakes = HashMap::new();
    for id in ACCOUNTS {
        fakes.insert(
            id,
            Arc::new(FakeTelegram::start_as(id, None).await.expect("a fake")),
        );
    }
    let running: Running = Arc::new(
        ACCOUNTS
            .iter()
            .map(|id| (*id, AtomicUsize::new(0)))
            .collect(),
    );
    let each_once = || running.values().all(|n| n.load(Ordering::SeqCst) == 1);
    let a = replica(&db.url, &fakes, &running).await;
    let b = replica(&db.url, &fakes, &running).await;
    // Each leads its share, two accounts, never one the other leads.
    until("the accounts are shared", Duration::from_secs(10), || {
        a.leading.accounts().len() == 2 && b.leading.accounts().len() == 2
    })
    .await;
    until(
        "each account's led task runs once",
        Duration::from_secs(5),
        each_once,
    )
    .await;
    let (mine, theirs) = (a.leading.accounts(), b.leading.accounts());
    assert!(
        mine.iter().all(|id| !theirs.contains(id)),
        "{mine:?} / {theirs:?}"
    );
    assert!(
        a.leading.scheduler() != b.leading.scheduler() || (!a.leading.scheduler()),
        "the scheduler runs in one replica at most"
    );
    let texts = queue(&setup, "first", 10).await;
    let count = all_sent(&fakes, &texts, Duration::from_secs(20)).await;
    assert!(
        count.values().all(|n| *n == 1),
        "sent twice: {:?}",
        count.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );

    // Replica a dies mid-way (its task is dropped: no graceful stop, its connections close)
    // while its senders have rows in hand.
    let texts = queue(&setup, "second", 40).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.handle.abort();
    let _ = a.handle.await;
    let took = until("b takes every account", Duration::from_secs(10), || {
        b.leading.accounts().len() == ACCOUNTS.len()
    })
    .await;
    tracing::info!(?took, "takeover");
    until("the led tasks moved too", Duration::from_secs(5), each_once).await;
    let count = all_sent(&fakes, &texts, Duration::from_secs(30)).await;
    let twice: usize = texts
        .iter()
        .map(|t| count.get(t).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    tracing::info!(twice, "sent twice after the kill");
    // At most the requests a's two senders had in flight (and sent but not recorded).
    assert!(
        twice <= 2 * CONCURRENCY,
        "{twice} messages went twice, more than were in flight"
    );
    let (left,): (i64,) =
        sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE status <> 'sent'")
            .fetch_one(&sqlx::PgPool::connect(&db.url).await.expect("a pool"))
            .await
            .expect("count");
    assert_eq!(left, 0, "every row is recorded as sent");

    b.stop.cancel();
    b.handle.await.expect("b stops");
    a.store.close().await;
    b.store.close().await;
    setup.close().await;
    db.drop_db().await;
}
