//! Reach at the moment of sending on Zalo and Messenger, against fakes that keep the
//! platforms' windows on a clock of their own: Zalo free for 48 hours, billed to 7 days
//! (only for broadcasts whose leader chose it, within the monthly budget, never over it,
//! also across a restart, a crashed sender's reservation and a kill -9), refused after; Messenger
//! free for 24 hours, refused after. The bot never makes a fake refuse.

use std::time::Duration;

use bluezone_bot::clock::{Clock, ManualClock};
use bluezone_bot::domain::{ChatAddress, Platform};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::platform::plain::budget_period;
use bluezone_bot::reach::{SKIPPED_BILLED_NOT_CHOSEN, SKIPPED_OVER_BUDGET, Spend};
use bluezone_bot::store::{NewOutboxItem, Priority};
use serde_json::{Value, json};

use crate::helpers::{Options, WAIT, unit_code};
use crate::messenger::outcome;
use crate::platform_fakes::{Platforms, spawn_platforms};

const HOUR: i64 = 3600 * 1000;

/// The app on a manual clock with both fakes keeping windows on the same time.
async fn spawn(env: &[(&str, &str)]) -> (Platforms, ManualClock) {
    // Early in a month (budgets are monthly), and early in the day.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-02T01:00:00+07:00")
        .expect("a time")
        .timestamp_millis();
    let clock = ManualClock::at(start);
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    })
    .await;
    p.zalo.set_now(clock.now_ms());
    p.messenger.set_now(clock.now_ms());
    (p, clock)
}

/// Moves the bot's clock and the fakes' clocks together.
fn advance(p: &Platforms, clock: &ManualClock, ms: i64) {
    clock.advance_ms(ms);
    p.zalo.set_now(clock.now_ms());
    p.messenger.set_now(clock.now_ms());
}

/// A broadcast (a draft is enough: rows carry their own message) whose leader chose `spend`.
async fn broadcast(p: &Platforms, author: &str, spend: Spend) -> i64 {
    let author = p
        .person(Platform::Zalo, author)
        .await
        .or(p.person(Platform::Messenger, author).await)
        .expect("the author");
    let id = p
        .app
        .store
        .create_broadcast_draft(author.id, "Leader", &unit_code("794"), "x", "{}")
        .await
        .expect("draft");
    p.app
        .store
        .set_broadcast_spend(id, spend)
        .await
        .expect("spend");
    id
}

/// Queues broadcast `b`'s message `text` for each of `chats`; the row ids.
async fn queue_rows(
    p: &Platforms,
    platform: Platform,
    b: Option<i64>,
    chats: &[&str],
    text: &str,
) -> Vec<i64> {
    let mut items = Vec::new();
    for chat in chats {
        items.push(NewOutboxItem {
            to: ChatAddress {
                platform,
                account: bluezone_bot::domain::AccountId::of_platform(platform),
                chat_id: chat.to_string(),
                is_group: false,
            },
            person_id: p.person(platform, chat).await.map(|x| x.id),
            broadcast_id: b,
            priority: Priority::Broadcast,
            message: Outgoing::text(text),
            dedupe_key: None,
        });
    }
    p.app.store.enqueue(&items).await.expect("queued")
}

/// How many messages containing `text` went to `to`.
fn got(fake: &fake_platforms::FakePlatform, to: &str, text: &str) -> usize {
    fake.sent()
        .iter()
        .filter(|s| s.to == to && s.text().contains(text))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_is_free_for_48_hours_billed_to_7_days_and_refused_after() {
    let (p, clock) = spawn(&[
        ("ZALO_PRICE_PER_MESSAGE", "100"),
        ("ZALO_MONTHLY_BUDGET", "1000"),
    ])
    .await;
    // C last wrote 169 hours ago, B 49 hours ago, A 47 hours ago.
    p.z_say("ZC", "/start", 2).await;
    advance(&p, &clock, 120 * HOUR);
    p.z_say("ZB", "/start", 2).await;
    advance(&p, &clock, 2 * HOUR);
    p.z_say("ZA", "/start", 2).await;
    advance(&p, &clock, 47 * HOUR);

    // Free and billed chosen: A free, B billed (reserved and recorded), C outside the window.
    let b = broadcast(&p, "ZA", Spend::FreeAndBilled).await;
    let rows = queue_rows(&p, Platform::Zalo, Some(b), &["ZA", "ZB", "ZC"], "Tin 1").await;
    assert_eq!(outcome(&p, rows[0]).await.0, "sent");
    assert_eq!(outcome(&p, rows[1]).await.0, "sent");
    assert_eq!(
        outcome(&p, rows[2]).await,
        ("skipped".into(), Some("outside interaction window".into()))
    );
    assert_eq!(
        (got(&p.zalo, "ZA", "Tin 1"), got(&p.zalo, "ZB", "Tin 1")),
        (1, 1)
    );
    assert_eq!(got(&p.zalo, "ZC", "Tin 1"), 0);
    assert_eq!(p.zalo.billed(), 1, "B's message was billed by Zalo");
    let store = &p.app.store;
    assert_eq!(store.broadcast_billed(b).await.expect("billed"), (1, 100));
    let period = budget_period(chrono_tz::Asia::Ho_Chi_Minh, clock.now_ms());
    assert_eq!(store.spent("zalo", &period).await.expect("spent"), 100);

    // Free only: B, reachable only at a cost, is skipped with a reason the summary counts.
    let free = broadcast(&p, "ZA", Spend::FreeOnly).await;
    let rows = queue_rows(&p, Platform::Zalo, Some(free), &["ZA", "ZB"], "Tin 2").await;
    assert_eq!(outcome(&p, rows[0]).await.0, "sent");
    assert_eq!(
        outcome(&p, rows[1]).await,
        ("skipped".into(), Some(SKIPPED_BILLED_NOT_CHOSEN.into()))
    );
    // A message outside a broadcast (a reminder, a digest) is never billed.
    let rows = queue_rows(&p, Platform::Zalo, None, &["ZB"], "Tin 3").await;
    assert_eq!(
        outcome(&p, rows[0]).await,
        ("skipped".into(), Some(SKIPPED_BILLED_NOT_CHOSEN.into()))
    );
    assert_eq!(p.zalo.billed(), 1);

    // A reply to B's message is inside the free window again, and costs nothing.
    let r = p.z_say("ZB", "/status", 1).await;
    assert!(!r[0].text().is_empty());
    assert_eq!(p.zalo.billed(), 1);

    // The fake refuses what Zalo refuses: a message to C, 169 hours after C wrote.
    let access = p.zalo.state.lock().expect("fake").access.clone();
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v3.0/oa/message/cs", p.zalo.url))
        .header("access_token", access)
        .json(&json!({"recipient": {"user_id": "ZC"}, "message": {"text": "hi"}}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["error"], -230, "{answer}");
    assert_eq!(p.zalo.refused_outside_window(), 1);

    // A billed message Zalo refuses for another reason gives its reservation back.
    advance(&p, &clock, 3 * HOUR); // B: 50 hours
    let b2 = broadcast(&p, "ZA", Spend::FreeAndBilled).await;
    p.zalo.fail_next(
        200,
        json!({"error": -213, "message": "User has not followed the OA"}),
    );
    let rows = queue_rows(&p, Platform::Zalo, Some(b2), &["ZB"], "Tin 4").await;
    assert_eq!(outcome(&p, rows[0]).await.0, "failed");
    assert_eq!(store.row_cost(rows[0]).await.expect("cost"), None);
    assert_eq!(store.spent("zalo", &period).await.expect("spent"), 100);
    assert_eq!(store.broadcast_billed(b2).await.expect("billed"), (0, 0));
    // The only refusal the fake gave was the test's own call.
    assert_eq!(p.zalo.refused_outside_window(), 1);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_billing_is_off_without_a_budget() {
    let (p, clock) = spawn(&[]).await;
    p.z_say("ZD", "/start", 2).await;
    advance(&p, &clock, 49 * HOUR);
    let b = broadcast(&p, "ZD", Spend::FreeAndBilled).await;
    let rows = queue_rows(&p, Platform::Zalo, Some(b), &["ZD"], "Tin").await;
    assert_eq!(
        outcome(&p, rows[0]).await,
        ("skipped".into(), Some("outside interaction window".into()))
    );
    assert_eq!((p.zalo.billed(), p.zalo.refused_outside_window()), (0, 0));
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_billed_sends_never_exceed_the_budget_across_a_restart() {
    // 100 VND a message, 550 a month: five billed messages at most. Slow sending, so the
    // restart comes half-way.
    let (mut p, clock) = spawn(&[
        ("ZALO_PRICE_PER_MESSAGE", "100"),
        ("ZALO_MONTHLY_BUDGET", "550"),
        ("ZALO_SENDS_PER_SECOND", "3"),
    ])
    .await;
    let users: Vec<String> = (0..12).map(|i| format!("ZR{i}")).collect();
    for u in &users {
        p.z_say(u, "/start", 2).await;
    }
    advance(&p, &clock, 60 * HOUR);
    let chats: Vec<&str> = users.iter().map(String::as_str).collect();
    let b = broadcast(&p, "ZR0", Spend::FreeAndBilled).await;
    let period = budget_period(chrono_tz::Asia::Ho_Chi_Minh, clock.now_ms());
    let rows = queue_rows(&p, Platform::Zalo, Some(b), &chats, "Tin").await;
    // Another sender reserved the last row's price and died before sending it.
    let last = *rows.last().expect("rows");
    assert!(
        p.app
            .store
            .reserve_row_spend(last, "zalo", &period, 100, 550)
            .await
            .expect("reserve")
    );
    // Half-way: restarted.
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.zalo.billed() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "nothing billed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.app.restart().await;
    p.base = p.app.http_base().await;
    let mut sent = 0;
    let mut over = 0;
    for id in &rows {
        match outcome(&p, *id).await {
            (s, _) if s == "sent" => sent += 1,
            (s, Some(r)) if s == "skipped" && r == SKIPPED_OVER_BUDGET => over += 1,
            other => panic!("row {id}: {other:?}"),
        }
    }
    // The dead sender's 100 may have been billed: 450 were left, four messages.
    assert_eq!((sent, over), (4, 8));
    assert_eq!(p.zalo.billed(), 4, "Zalo billed four messages");
    let spent = p.app.store.spent("zalo", &period).await.expect("spent");
    assert_eq!(spent, 500);
    assert_eq!(
        p.app.store.broadcast_billed(b).await.expect("billed"),
        (4, 400)
    );
    assert_eq!(p.zalo.refused_outside_window(), 0);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_is_free_for_24_hours_and_refused_after() {
    let (p, clock) = spawn(&[]).await;
    p.m_say("M1", "/start", 2).await;
    advance(&p, &clock, 2 * HOUR);
    p.m_say("M2", "/start", 2).await;
    advance(&p, &clock, 23 * HOUR); // M1: 25 hours, M2: 23 hours.
    let b = broadcast(&p, "M1", Spend::FreeAndBilled).await;
    let rows = queue_rows(&p, Platform::Messenger, Some(b), &["M1", "M2"], "Tin").await;
    assert_eq!(
        outcome(&p, rows[0]).await,
        ("skipped".into(), Some("outside messaging window".into()))
    );
    assert_eq!(outcome(&p, rows[1]).await.0, "sent");
    assert_eq!(
        (
            got(&p.messenger, "M1", "Tin"),
            got(&p.messenger, "M2", "Tin")
        ),
        (0, 1)
    );
    assert_eq!(
        p.messenger.refused_outside_window(),
        0,
        "the bot never asks"
    );
    // The fake refuses as Messenger does: error 10, subcode 2018278.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v25.0/me/messages?access_token=T",
            p.messenger.url
        ))
        .json(
            &json!({"recipient": {"id": "M1"}, "messaging_type": "UPDATE",
            "message": {"text": "hi"}}),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(
        (&answer["error"]["code"], &answer["error"]["error_subcode"]),
        (&json!(10), &json!(2018278))
    );
    // M1 writes again: the reply goes, and so does the next broadcast.
    p.m_say("M1", "/status", 1).await;
    let rows = queue_rows(&p, Platform::Messenger, Some(b), &["M1"], "Lại").await;
    assert_eq!(outcome(&p, rows[0]).await.0, "sent");
    assert_eq!(p.messenger.refused_outside_window(), 1);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_budget_holds_across_a_kill_9_half_way() {
    use bluezone_bot::clock::SystemClock;
    use bluezone_bot::domain::Locale;
    use bluezone_bot::store::Store;
    use std::sync::Arc;

    crate::helpers::init_tracing();
    let db = crate::helpers::TestDb::new().await.expect("db");
    let zalo = fake_platforms::fake_zalo().await;
    let now = chrono::Utc::now().timestamp_millis();
    // Forty Zalo users who last wrote 60 hours ago: billed, 100 VND each, 2,500 a month.
    let then: Arc<dyn Clock> = Arc::new(ManualClock::at(now - 60 * HOUR));
    let old = Store::connect(&db.url, then).await.expect("connect");
    old.migrate().await.expect("migrate");
    bluezone_bot::units_csv::import_text(&old, "long_an.csv", bluezone_bot::startup::SAMPLE_UNITS)
        .await
        .expect("units");
    zalo.set_now(now);
    let mut people = Vec::new();
    for i in 0..40 {
        let user = format!("ZK{i}");
        let (person, _) = old
            .touch_person(Platform::Zalo, &user, &user, "Lan", Locale::Vi)
            .await
            .expect("person");
        zalo.state
            .lock()
            .expect("fake")
            .interactions
            .insert(user.clone(), now - 60 * HOUR);
        people.push((user, person.id));
    }
    old.close().await;
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("connect");
    let b = store
        .create_broadcast_draft(people[0].1, "Leader", &unit_code("794"), "x", "{}")
        .await
        .expect("draft");
    store
        .set_broadcast_spend(b, Spend::FreeAndBilled)
        .await
        .expect("spend");
    let items: Vec<NewOutboxItem> = people
        .iter()
        .map(|(user, id)| NewOutboxItem {
            to: ChatAddress {
                platform: Platform::Zalo,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Zalo),
                chat_id: user.clone(),
                is_group: false,
            },
            person_id: Some(*id),
            broadcast_id: Some(b),
            priority: Priority::Broadcast,
            message: Outgoing::text("Kill -9"),
            dedupe_key: None,
        })
        .collect();
    let rows = store.enqueue(&items).await.expect("queued");
    let mut env: Vec<(String, String)> = crate::platform_fakes::env(None, Some(&zalo));
    env.extend(
        [
            ("ZALO_PRICE_PER_MESSAGE", "100"),
            ("ZALO_MONTHLY_BUDGET", "2500"),
            ("ZALO_SENDS_PER_SECOND", "10"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bluezone-bot"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("DATABASE_URL", &db.url)
            .env("BLUEZONE_LISTEN", "127.0.0.1:0")
            .env("BLUEZONE_METRICS_LISTEN", "off")
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
    let mut child = spawn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while zalo.billed() < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sending never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");
    assert!(zalo.billed() < 25, "killed half-way");
    let mut child = spawn();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut sent = std::collections::HashSet::new();
    let mut over = 0;
    for (id, (user, _)) in rows.iter().zip(&people) {
        loop {
            let (status, error, _) = store.outbox_status(*id).await.expect("db").expect("row");
            match status.as_str() {
                "sent" => {
                    sent.insert(user.clone());
                }
                "skipped" if error.as_deref() == Some(SKIPPED_OVER_BUDGET) => over += 1,
                "queued" | "sending" => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "row {id} stayed {status}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                other => panic!("row {id}: {other} {error:?}"),
            }
            break;
        }
    }
    child.start_kill().expect("kill");
    child.wait().await.expect("stopped");
    // Nobody lost; at most 25 messages billed by Zalo, and never more than the ledger holds.
    assert_eq!(sent.len() + over, 40);
    let billed = zalo.billed();
    assert!(billed <= 25, "{billed} billed");
    assert!(sent.len() >= 20, "the budget was used: {} sent", sent.len());
    let mut periods = vec![
        budget_period(chrono_tz::Asia::Ho_Chi_Minh, now),
        budget_period(chrono_tz::Asia::Ho_Chi_Minh, store.now()),
    ];
    periods.dedup();
    let mut spent = 0;
    for period in &periods {
        spent += store.spent("zalo", period).await.expect("spent");
    }
    assert!(spent <= 2500, "{spent}");
    assert!(
        billed as i64 * 100 <= spent,
        "{billed} billed, {spent} reserved"
    );
    assert_eq!(zalo.refused_outside_window(), 0);
    store.close().await;
    db.drop_db().await;
}
