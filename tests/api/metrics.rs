//! `/metrics` lives on its own listener (`BLUEZONE_METRICS_LISTEN`), never next to the public
//! webhooks, optionally behind a bearer token, and a scrape carries every metric the README
//! documents.

use std::net::SocketAddr;
use std::sync::Arc;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::startup::{App, SAMPLE_UNITS};
use bluezone_bot::store::Store;
use fake_platforms::{FakeTelegram, TgUser};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Options, TestDb, WAIT, init_tracing, settings};

/// An app whose public server and metrics server each listen on a port of their own.
struct Running {
    public: String,
    metrics: String,
    fake: FakeTelegram,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
    db: TestDb,
}

async fn start(env: &[(&str, &str)]) -> Running {
    init_tracing();
    let db = TestDb::new().await.expect("a database");
    let fake = FakeTelegram::start().await.expect("the fake Telegram");
    let public = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let (public_addr, metrics_addr): (SocketAddr, SocketAddr) = (
        public.local_addr().expect("address"),
        metrics.local_addr().expect("address"),
    );
    let options = Options {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    };
    let settings = settings(&db.url, &fake, &options, public_addr);
    let app = App::build(settings).await.expect("built");
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("store");
    bluezone_bot::units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    store.close().await;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_with_metrics(public, Some(metrics), shutdown.clone()));
    let running = Running {
        public: format!("http://{public_addr}"),
        metrics: format!("http://{metrics_addr}"),
        fake,
        shutdown,
        handle,
        db,
    };
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while client
        .get(format!("{}/healthz", running.public))
        .send()
        .await
        .is_err()
    {
        assert!(tokio::time::Instant::now() < deadline, "no server");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("joined").expect("stopped cleanly");
        self.db.drop_db().await;
    }
}

/// The metric names the README documents (`bluezone_…` in its metrics paragraph).
fn documented_metrics() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let at = readme
        .find("Metrics at `/metrics`")
        .or_else(|| readme.find("`/metrics`"))
        .expect("the README documents the metrics");
    let paragraph = &readme[at..at + readme[at..].find("\n\n").unwrap_or(readme.len() - at)];
    let mut names: Vec<String> = paragraph
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("bluezone_"))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = start(&[]).await;
    // Something to count: a citizen starts, the bot answers.
    let user = TgUser::vi(8101);
    app.fake.send_command(&user, "/start");
    app.fake
        .wait_for(1, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the bot answers");
    let client = reqwest::Client::new();

    let public = client
        .get(format!("{}/metrics", app.public))
        .send()
        .await
        .expect("get");
    assert_eq!(public.status(), 404, "no metrics next to the webhooks");

    let names = documented_metrics();
    assert!(names.len() >= 5, "{names:?}");
    // The send is counted as soon as the platform answered: scrape until it shows.
    let deadline = tokio::time::Instant::now() + WAIT;
    let text = loop {
        let scrape = client
            .get(format!("{}/metrics", app.metrics))
            .send()
            .await
            .expect("get");
        assert_eq!(scrape.status(), 200);
        assert!(
            scrape
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain")),
            "{:?}",
            scrape.headers()
        );
        let text = scrape.text().await.expect("text");
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !text.contains(&format!("# TYPE {n} ")))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing:?} missing from the scrape:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        text.contains("bluezone_messages_in_total{platform=\"telegram\",kind=\"command\"}"),
        "{text}"
    );
    assert!(
        text.contains("bluezone_messages_out_total{platform=\"telegram\",status=\"sent\"}"),
        "{text}"
    );
    assert!(
        text.contains("bluezone_send_latency_seconds_bucket{platform=\"telegram\",le=\"+Inf\"}"),
        "{text}"
    );
    assert!(
        text.contains("bluezone_outbox_depth{platform=\"telegram\",status=\"queued\"}"),
        "{text}"
    );
    // The webhooks' neighbour stays what it was.
    let health = client
        .get(format!("{}/healthz", app.public))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_is_asked_for_when_set() {
    let app = start(&[("BLUEZONE_METRICS_TOKEN", "scrape-secret")]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", app.metrics);
    let none = client.get(&url).send().await.expect("get");
    assert_eq!(none.status(), 401);
    let wrong = client
        .get(&url)
        .bearer_auth("scrape-secreT")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .expect("get");
    assert_eq!(right.status(), 200);
    assert!(
        right
            .text()
            .await
            .expect("text")
            .contains("# TYPE bluezone_outbox_depth gauge")
    );
    app.stop().await;
}
