//! Messenger end to end against the fake Graph API: the handshake, forged webhooks refused,
//! the citizen journey with templates and typed numbers, replays handled once, the 24-hour
//! window and the Send API errors.

use std::time::Duration;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::{ChatAddress, Platform, State};
use bluezone_bot::platform::{Outgoing, PhotoRef};
use bluezone_bot::store::{NewOutboxItem, Priority};
use fake_platforms::{MESSENGER_VERIFY, Sent, messenger_signature};
use serde_json::json;

use crate::helpers::{Options, WAIT};
use crate::platform_fakes::{Platforms, find, spawn_platforms};

const PLAY: &str = "https://play.google.com/store/apps/details?id=com.mic.bluezone";
const HOUR: i64 = 3600 * 1000;

/// The number in front of the line `[N] <label…>` of a numbered-choice message.
pub fn number_of(sent: &Sent, label: &str) -> String {
    sent.text()
        .lines()
        .find_map(|l| {
            let (n, rest) = l.strip_prefix('[')?.split_once("] ")?;
            (rest.contains(label) && n.chars().all(|c| c.is_ascii_digit())).then(|| n.to_string())
        })
        .unwrap_or_else(|| panic!("no numbered choice {label:?} in {:?}", sent.text()))
}

/// Queues a message for a person as a broadcast would, returning the outbox row id.
pub async fn queue(
    p: &Platforms,
    platform: Platform,
    chat: &str,
    text: &str,
    priority: Priority,
) -> i64 {
    let person = p.person(platform, chat).await.map(|x| x.id);
    let ids = p
        .app
        .store
        .enqueue(&[NewOutboxItem {
            to: ChatAddress {
                platform,
                account: bluezone_bot::domain::AccountId::of_platform(platform),
                chat_id: chat.to_string(),
                is_group: false,
            },
            person_id: person,
            broadcast_id: None,
            priority,
            message: Outgoing::text(text),
            dedupe_key: None,
        }])
        .await
        .expect("queued");
    ids[0]
}

/// Waits until outbox row `id` is final; its (status, last error).
pub async fn outcome(p: &Platforms, id: i64) -> (String, Option<String>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, error, _) = p
            .app
            .store
            .outbox_status(id)
            .await
            .expect("outbox")
            .expect("the row");
        if status != "queued" && status != "sending" {
            return (status, error);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "row {id} stayed {status}: {error:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn clock() -> ManualClock {
    ManualClock::at(chrono::Utc::now().timestamp_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_handshake_and_forged_webhooks_are_refused() {
    let p = spawn_platforms(Options::default()).await;
    let profile = p.messenger.state.lock().expect("fake").profile.clone();
    assert_eq!(
        profile,
        Some(json!({"get_started": {"payload": "/start"}})),
        "the Get started button sends /start"
    );
    let url = format!("{}/webhooks/messenger", p.base);
    let ok = p
        .client
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", MESSENGER_VERIFY),
            ("hub.challenge", "1158201444"),
        ])
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("body"), "1158201444");
    let bad = p
        .client
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "guess"),
            ("hub.challenge", "1"),
        ])
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status(), 403);

    let body = p.messenger_body("F1", json!({"message": {"mid": "f.1", "text": "/start"}}));
    assert_eq!(p.post_messenger(&body, None).await, 403, "unsigned");
    let wrong = messenger_signature(&body, "not-the-secret");
    assert_eq!(
        p.post_messenger(&body, Some(wrong)).await,
        403,
        "wrong secret"
    );
    assert_eq!(
        p.post_messenger(&body, Some("sha256=00ff".into())).await,
        403
    );
    let good = messenger_signature(&body, fake_platforms::MESSENGER_SECRET);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        p.post_messenger(&tampered, Some(good.clone())).await,
        403,
        "tampered"
    );
    let sha1 = good.replace("sha256=", "sha1=");
    assert_eq!(p.post_messenger(&body, Some(sha1)).await, 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        p.person(Platform::Messenger, "F1").await.is_none(),
        "nothing processed"
    );
    assert_eq!(p.messenger.attempts(), 0, "nothing sent");

    // The counters of this process (the metrics listener is off in these tests).
    let metrics = bluezone_bot::metrics::render(&[]);
    assert!(
        metrics.contains("bluezone_webhooks_refused_total{platform=\"messenger\"}"),
        "{metrics}"
    );
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_citizen_journey_counts_once() {
    let p = spawn_platforms(Options::default()).await;
    let psid = "PSID-1001";
    let r = p.m_say(psid, "/start u_794", 3).await;
    find(&r, "Xin chào");
    find(&r, "Thành phố Tân An");
    let phone = find(&r, "loại điện thoại");
    assert!(
        phone
            .message
            .pointer("/attachment/payload/template_type")
            .is_some(),
        "a button template"
    );
    let r = p.m_press(psid, &phone.button("Android"), 1).await;
    let guide = &r[0];
    assert!(guide.text().contains(PLAY), "{}", guide.text());
    // Three buttons, one a link: a button template with a web_url button.
    assert_eq!(guide.buttons().len(), 3, "{:?}", guide.message);
    assert!(guide.buttons().iter().any(|(_, url)| url == PLAY));
    let r = p.m_press(psid, &guide.button("Tôi đã cài"), 1).await;
    assert!(r[0].text().contains("Cảm ơn"), "{}", r[0].text());
    assert!(
        r[0].text().contains("https://m.me/BluezonePage?ref=r_"),
        "Messenger share link: {}",
        r[0].text()
    );
    // The share button passes the m.me link on, never Telegram's share dialog.
    let share: Vec<String> = r[0].buttons().into_iter().map(|(_, u)| u).collect();
    assert!(
        share
            .iter()
            .any(|u| u.starts_with("https://m.me/BluezonePage?ref=r_")),
        "{share:?}"
    );
    assert!(!share.iter().any(|u| u.contains("t.me/")), "{share:?}");
    let tan_an = p.app.unit("794").await;
    assert_eq!((tan_an.members, tan_an.confirmed), (1, 1));
    // The name was asked from the User Profile API, for leaders' lists.
    let person = p.person(Platform::Messenger, psid).await.expect("person");
    assert_eq!(person.display_name, format!("Lan {psid}"));

    // A replayed delivery (same mid) is answered 200 and handled once.
    let body = p.messenger_body(
        psid,
        json!({"message": {"mid": "mid.replay", "text": "/status"}}),
    );
    let since = p.messenger.count_to(psid);
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    p.messenger.wait_to(psid, since, 1).await;
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    p.messenger.wait_to(psid, since, 1).await;

    // An m.me referral reaches the engine as /start <ref>.
    let other = "PSID-1002";
    let since = p.messenger.count_to(other);
    let body = p.messenger_body(
        other,
        json!({"referral": {"ref": "u_794", "source": "SHORTLINK", "type": "OPEN_THREAD"}}),
    );
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    let r = p.messenger.wait_to(other, since, 3).await;
    find(&r, "Thành phố Tân An");
    assert_eq!(p.app.unit("794").await.members, 2);
    // Quick replies come back as their payload.
    let r = p.m_say(other, "/language", 1).await;
    let en = r[0].button("English");
    let since = p.messenger.count_to(other);
    let body = p.messenger_body(
        other,
        json!({"message": {"mid": "mid.qr", "text": "English", "quick_reply": {"payload": en}}}),
    );
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    let r = p.messenger.wait_to(other, since, 1).await;
    assert!(r[0].text().contains("English"), "{}", r[0].text());
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_window_and_send_errors() {
    let clock = clock();
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let psid = "PSID-2001";
    p.m_say(psid, "/start", 2).await;

    // Inside the window a broadcast goes out.
    let id = queue(
        &p,
        Platform::Messenger,
        psid,
        "Broadcast one",
        Priority::Broadcast,
    )
    .await;
    assert_eq!(outcome(&p, id).await.0, "sent");
    // 25 hours later it is not sent at all.
    clock.advance_ms(25 * HOUR);
    let before = p.messenger.attempts();
    let id = queue(
        &p,
        Platform::Messenger,
        psid,
        "Broadcast two",
        Priority::Broadcast,
    )
    .await;
    assert_eq!(
        outcome(&p, id).await,
        ("skipped".into(), Some("outside messaging window".into()))
    );
    assert_eq!(p.messenger.attempts(), before, "no call outside the window");

    // The person writes again: the window reopens.
    p.m_say(psid, "/status", 1).await;
    // Meta says the window is closed anyway (10/2018278): skipped.
    p.messenger.fail_next(400, json!({"error": {"message": "outside window", "type": "OAuthException", "code": 10, "error_subcode": 2018278}}));
    let id = queue(&p, Platform::Messenger, psid, "Three", Priority::Broadcast).await;
    assert_eq!(outcome(&p, id).await.0, "skipped");
    // Temporary error (2): retried.
    p.messenger
        .fail_next(500, json!({"error": {"message": "temporary", "code": 2}}));
    let attempts = p.messenger.attempts();
    let id = queue(&p, Platform::Messenger, psid, "Five", Priority::Broadcast).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.messenger.attempts() == attempts {
        assert!(tokio::time::Instant::now() < deadline, "never tried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    clock.advance_ms(10 * 60 * 1000);
    assert_eq!(outcome(&p, id).await.0, "sent");
    // The person is gone (551/1545041): unreachable, never retried.
    p.messenger.fail_next(400, json!({"error": {"message": "This person isn't available right now.", "code": 551, "error_subcode": 1545041}}));
    let id = queue(&p, Platform::Messenger, psid, "Six", Priority::Broadcast).await;
    assert_eq!(outcome(&p, id).await.0, "failed");
    let person = p.person(Platform::Messenger, psid).await.expect("person");
    assert!(person.unreachable);
    // Writing again makes the person reachable.
    p.m_say(psid, "/status", 1).await;
    // Event claims (replay protection) are forgotten after three days; other facts stay.
    let body = p.messenger_body(
        psid,
        json!({"message": {"mid": "mid.purge", "text": "/help"}}),
    );
    let since = p.messenger.count_to(psid);
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    p.messenger.wait_to(psid, since, 1).await;
    let store = &p.app.store;
    store
        .kv_set("other.fact", "not a number")
        .await
        .expect("kv");
    assert!(
        store
            .kv_get("messenger.event.mid.purge")
            .await
            .expect("kv")
            .is_some()
    );
    bluezone_bot::platform::inbox::purge_claims(store, &["messenger.event"]).await;
    assert!(
        store
            .kv_get("messenger.event.mid.purge")
            .await
            .expect("kv")
            .is_some()
    );
    clock.advance_ms(4 * 24 * HOUR);
    bluezone_bot::platform::inbox::purge_claims(store, &["messenger.event"]).await;
    assert!(
        store
            .kv_get("messenger.event.mid.purge")
            .await
            .expect("kv")
            .is_none()
    );
    assert!(store.kv_get("other.fact").await.expect("kv").is_some());
    p.m_say(psid, "/status", 1).await;
    let sent_before_limit = p.messenger.count_to(psid);

    // Rate limited (613): the platform pauses and the row is kept for a later attempt.
    p.messenger.fail_next(400, json!({"error": {"message": "Calls to this api have exceeded the rate limit.", "code": 613}}));
    let attempts = p.messenger.attempts();
    let id = queue(&p, Platform::Messenger, psid, "Seven", Priority::Broadcast).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.messenger.attempts() == attempts {
        assert!(tokio::time::Instant::now() < deadline, "never tried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = p
        .app
        .store
        .outbox_status(id)
        .await
        .expect("row")
        .expect("row");
    assert!(
        status == "queued" || status == "sending",
        "kept for a retry: {status}"
    );
    assert_eq!(
        p.messenger.count_to(psid),
        sent_before_limit,
        "not sent yet"
    );
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_alone_is_enough_to_serve() {
    use std::collections::HashMap;
    use std::sync::Arc;

    use bluezone_bot::config::Settings;
    use bluezone_bot::startup::{App, SAMPLE_UNITS};
    use bluezone_bot::store::Store;
    use tokio_util::sync::CancellationToken;

    crate::helpers::init_tracing();
    let db = crate::helpers::TestDb::new().await.expect("a database");
    let fake = fake_platforms::fake_messenger().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("address");
    let mut vars: HashMap<String, String> = crate::platform_fakes::env(Some(&fake), None)
        .into_iter()
        .collect();
    vars.insert("DATABASE_URL".into(), db.url.clone());
    vars.insert("BLUEZONE_LISTEN".into(), addr.to_string());
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    assert!(
        settings
            .accounts
            .iter()
            .all(|a| a.platform() == Platform::Messenger)
    );
    let printed = format!("{settings:?}");
    assert!(!printed.contains("PAGE-TOKEN") && !printed.contains(fake_platforms::MESSENGER_SECRET));
    let app = App::build(settings).await.expect("built");
    let store = Store::connect(&db.url, Arc::new(bluezone_bot::clock::SystemClock))
        .await
        .expect("store");
    bluezone_bot::units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    let shutdown = CancellationToken::new();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let metrics_base = format!("http://{}", metrics_listener.local_addr().expect("address"));
    let handle =
        tokio::spawn(app.run_with_metrics(listener, Some(metrics_listener), shutdown.clone()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "no server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // No Telegram route without Telegram; Messenger works.
    let tg = client
        .post(format!("{base}/webhooks/telegram"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(tg.status(), 404);
    let body = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": "P", "time": 1, "messaging": [
        {"sender": {"id": "ALONE"}, "recipient": {"id": "P"}, "timestamp": 1, "message": {"mid": "a.1", "text": "/start u_794"}}]}]}))
    .expect("json");
    let r = client
        .post(format!("{base}/webhooks/messenger"))
        .header(
            "X-Hub-Signature-256",
            messenger_signature(&body, fake_platforms::MESSENGER_SECRET),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let got = fake.wait_to("ALONE", 0, 3).await;
    find(&got, "Thành phố Tân An");
    let metrics = client
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("bluezone_messages_in_total{platform=\"messenger\",kind=\"command\"}"),
        "{metrics}"
    );
    shutdown.cancel();
    handle.await.expect("joined").expect("stopped cleanly");
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_pictures_and_files_are_uploaded() {
    use bluezone_bot::platform::OutButton;

    let p = spawn_platforms(Options::default()).await;
    let psid = "PSID-4001";
    p.m_say(psid, "/start", 2).await;
    let since = p.messenger.count_to(psid);
    let person = p.person(Platform::Messenger, psid).await.map(|x| x.id);
    let to = ChatAddress {
        platform: Platform::Messenger,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Messenger),
        chat_id: psid.into(),
        is_group: false,
    };
    let item = |message: Outgoing| NewOutboxItem {
        to: to.clone(),
        person_id: person,
        broadcast_id: None,
        priority: Priority::Reply,
        message,
        dedupe_key: None,
    };
    p.app
        .store
        .enqueue(&[item(Outgoing::Photo {
            png: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
            caption: "Coverage chart".into(),
            buttons: vec![vec![OutButton::Callback {
                label: "Status".into(),
                data: "status".into(),
            }]],
        })])
        .await
        .expect("queued");
    let got = p.messenger.wait_to(psid, since, 2).await;
    assert_eq!(got[0].message["attachment"]["type"], "image");
    assert_eq!(got[0].message["filedata_len"], 7);
    assert_eq!(got[1].text(), "Coverage chart");
    assert_eq!(got[1].button("Status"), "status");
    p.app
        .store
        .enqueue(&[item(Outgoing::Document {
            filename: "units.csv".into(),
            bytes: b"code,name\n".to_vec(),
            caption: "Export".into(),
        })])
        .await
        .expect("queued");
    let got = p.messenger.wait_to(psid, since + 2, 2).await;
    assert_eq!(got[0].message["attachment"]["type"], "file");
    assert_eq!(got[0].message["filename"], "units.csv");
    assert_eq!(got[1].text(), "Export");
    // A picture a leader sent on Messenger goes on by its address; one kept by Telegram
    // cannot, so only its caption goes (and nothing at all without one).
    let shared = |photo: PhotoRef, caption: &str| {
        item(Outgoing::SharedPhoto {
            photo,
            caption: caption.into(),
            buttons: Vec::new(),
        })
    };
    let url = PhotoRef::Url {
        url: "https://fb.example/p.jpg".into(),
    };
    let tg = || PhotoRef::TelegramFile {
        file_id: "AgACAgIAAx".into(),
        bot: None,
    };
    p.app
        .store
        .enqueue(&[shared(url, "Cài Bluezone")])
        .await
        .expect("queued");
    let got = p.messenger.wait_to(psid, since + 4, 2).await;
    assert_eq!(got[0].message["attachment"]["type"], "image");
    assert_eq!(
        got[0].message["attachment"]["payload"]["url"],
        "https://fb.example/p.jpg"
    );
    assert_eq!(got[1].text(), "Cài Bluezone");
    let ids = p
        .app
        .store
        .enqueue(&[shared(tg(), ""), shared(tg(), "Chỉ chú thích")])
        .await
        .expect("queued");
    assert_eq!(outcome(&p, ids[0]).await.0, "skipped");
    let got = p.messenger.wait_to(psid, since + 6, 1).await;
    assert_eq!(got[0].text(), "Chỉ chú thích");
    assert!(got[0].message.get("attachment").is_none());
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_first_hello_starts_the_journey() {
    let p = spawn_platforms(Options::default()).await;
    let psid = "PSID-3001";
    let r = p.m_say(psid, "hello", 2).await;
    find(&r, "Xin chào! Mình là trợ lý");
    find(&r, "đơn vị nào");
    let person = p.person(Platform::Messenger, psid).await.expect("person");
    assert!(person.started, "counted as started: broadcasts reach them");
    assert_eq!(person.state, State::AwaitingUnitSearch);
    // The next words are read as the unit's name.
    let r = p.m_say(psid, "Kiến Tường", 1).await;
    assert!(r[0].text().contains("Tìm thấy 1 đơn vị"), "{}", r[0].text());
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_long_labels_are_numbered_and_every_typed_form_presses() {
    let p = spawn_platforms(Options::default()).await;
    let psid = "PSID-LONG";
    p.m_say(psid, "/start", 2).await;
    let r = p.m_say(psid, "Tân Hòa", 1).await;
    let text = r[0].text();
    // Both units in full in the message, numbered; their buttons show the numbers.
    assert!(
        text.contains("[1] Xã Tân Hòa (Huyện Tân Thạnh)\n[2] Xã Tân Hòa (Huyện Bến Lức)"),
        "{text}"
    );
    let titles: Vec<String> = r[0].buttons().into_iter().map(|(t, _)| t).collect();
    assert_eq!(titles[..2], ["1", "2"], "{titles:?}");
    // A short label stays on its button.
    assert_eq!(titles[2], "📋 Chọn từ danh sách");
    assert!(
        titles
            .iter()
            .all(|t| t.chars().count() <= 20 && !t.contains('…')),
        "{titles:?}"
    );
    // The number, the full label, and the label as shown cut all press the right unit.
    let r = p.m_say(psid, "2", 2).await;
    assert!(r[0].text().contains("Xã Tân Hòa"), "{}", r[0].text());
    assert_eq!(unit_of(&p, psid).await.as_deref(), Some("28006"));
    let r = p.m_say(psid, "Xã Tân Hòa (Huyện Tân Thạnh)", 2).await;
    assert!(r[0].text().contains("Xã Tân Hòa"), "{}", r[0].text());
    assert_eq!(unit_of(&p, psid).await.as_deref(), Some("27862"));
    let r = p.m_say(psid, "Xã Tân Hòa (Huyện B…", 2).await;
    assert!(r[0].text().contains("Xã Tân Hòa"), "{}", r[0].text());
    assert_eq!(unit_of(&p, psid).await.as_deref(), Some("28006"));
    // Cut where both units still look alike: no guess.
    let r = p.m_say(psid, "Xã Tân Hòa (Huyện…", 1).await;
    assert_eq!(unit_of(&p, psid).await.as_deref(), Some("28006"));
    // The menu's "✅ Tôi đã cài Bluezone" (21 characters) is numbered, and the label as a
    // cutting platform would show it presses it.
    assert!(
        r[0].text().contains("] ✅ Tôi đã cài Bluezone"),
        "{}",
        r[0].text()
    );
    let r = p.m_say(psid, "✅ Tôi đã cài Bluezo…", 1).await;
    assert!(r[0].text().contains("Cảm ơn"), "{}", r[0].text());
    assert!(
        p.person(Platform::Messenger, psid)
            .await
            .is_some_and(|x| x.confirmed_at.is_some())
    );
    p.app.finish().await;
}

async fn unit_of(p: &crate::platform_fakes::Platforms, psid: &str) -> Option<String> {
    p.person(Platform::Messenger, psid)
        .await
        .and_then(|x| x.unit_code)
        .map(String::from)
}
