//! The real binary: `serve` against a Bot API endpoint (the fake), stopped by SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use fake_platforms::{Failure, FakeTelegram, TgUser};

use crate::helpers::{TestDb, WAIT, init_tracing};

const BIN: &str = env!("CARGO_BIN_EXE_bluezone-bot");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_on_any_bot_api_endpoint_and_stops_on_sigterm() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    let fake = FakeTelegram::start().await.expect("fake");
    // One failed poll and one failed send: their errors are logged, never with the token.
    fake.fail_method("getUpdates", Failure::DropConnection, Some(1));
    fake.fail_chat_times(5001, Failure::DropConnection, 1);
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
        .env("TELOXIDE_API_URL", fake.api_url())
        .env("BLUEZONE_LISTEN", "127.0.0.1:0")
        .env_remove("BLUEZONE_WEBHOOK_URL")
        .env_remove("BLUEZONE_ADMINS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let user = TgUser::vi(5001);
    fake.send_command(&user, "/start");
    let r = fake
        .wait_for(2, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the bot answers");
    // (A retried message may arrive after the next one: ordering is the outbox's business.)
    assert!(r.iter().any(|c| c.text().contains("Xin chào")));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + WAIT;
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let out = child.wait_with_output().expect("output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(exit.success(), "{exit:?}: {logs}");
    assert!(logs.contains("getUpdates failed"), "{logs}");
    assert!(
        !logs.contains(FakeTelegram::TOKEN) && !logs.contains("TEST-TOKEN"),
        "the token is never logged: {logs}"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_long_poll_does_not_fail_and_the_next_message_is_answered_at_once() {
    init_tracing();
    let db = TestDb::new().await.expect("db");
    let fake = FakeTelegram::start().await.expect("fake");
    // Like Telegram: an idle getUpdates is held for the whole timeout asked.
    fake.hold_polls_fully();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
        .env("TELOXIDE_API_URL", fake.api_url())
        .env("BLUEZONE_LISTEN", "127.0.0.1:0")
        .env("BLUEZONE_TG_POLL_TIMEOUT_SECS", "2")
        .env_remove("BLUEZONE_WEBHOOK_URL")
        .env_remove("BLUEZONE_ADMINS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    // Idle for more than two polls (each held its whole 2 s): wait until two have been
    // answered, however long the bot takes to start on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut idle_polls = 0;
    while std::time::Instant::now() < deadline {
        idle_polls = fake
            .calls_matching(|c| c.method == "getUpdates" && c.ok())
            .len();
        if idle_polls >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user = TgUser::vi(5002);
    let mark = fake.mark();
    let started = std::time::Instant::now();
    fake.send_command(&user, "/start");
    fake.next_message_to(user.id, mark, WAIT)
        .await
        .expect("the bot answers");
    let waited = started.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = child.wait_with_output().expect("output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(idle_polls >= 2, "idle polls answered: {idle_polls}");
    assert!(waited < Duration::from_secs(1), "answered after {waited:?}");
    assert!(!logs.contains("getUpdates failed"), "{logs}");
    db.drop_db().await;
}
