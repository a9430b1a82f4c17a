//! Zalo OA end to end against the fake OpenAPI and OAuth server: forged webhooks refused
//! (both mac forms accepted), the citizen journey with `oa.query.show` taps, replays handled
//! once, long texts split, the interaction window, error codes, and refresh-token rotation
//! across a restart.

use std::time::Duration;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::Platform;
use bluezone_bot::platform::PhotoRef;
use bluezone_bot::store::Priority;
use fake_platforms::{ZALO_APP_ID, ZALO_OA_ID, ZALO_OA_SECRET, zalo_signature};
use serde_json::json;

use crate::helpers::{Options, WAIT};
use crate::messenger::{number_of, outcome, queue};
use crate::platform_fakes::{find, spawn_platforms};

const HOUR: i64 = 3600 * 1000;

fn clock() -> ManualClock {
    ManualClock::at(chrono::Utc::now().timestamp_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_forged_webhooks_are_refused_and_both_mac_forms_accepted() {
    let p = spawn_platforms(Options::default()).await;
    let (body, ts) = p.zalo_body("user_send_text", "Z1", Some("/start"));
    assert_eq!(p.post_zalo(&body, None).await, 403, "unsigned");
    let wrong = zalo_signature(ZALO_APP_ID, &body, &ts, "guess");
    assert_eq!(p.post_zalo(&body, Some(wrong)).await, 403, "wrong secret");
    let stale = zalo_signature(ZALO_APP_ID, &body, "1", ZALO_OA_SECRET);
    assert_eq!(
        p.post_zalo(&body, Some(stale)).await,
        403,
        "other timestamp"
    );
    let good = zalo_signature(ZALO_APP_ID, &body, &ts, ZALO_OA_SECRET);
    let mut tampered = body.clone();
    tampered.insert(1, b' ');
    assert_eq!(p.post_zalo(&tampered, Some(good)).await, 403, "tampered");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        p.person(Platform::Zalo, "Z1").await.is_none(),
        "nothing processed"
    );

    // The OA-id-first form is accepted too.
    let by_oa = zalo_signature(ZALO_OA_ID, &body, &ts, ZALO_OA_SECRET);
    assert_eq!(p.post_zalo(&body, Some(by_oa)).await, 200);
    let r = p.zalo.wait_to("Z1", 0, 2).await;
    find(&r, "Xin chào");
    // Zalo retries: the same msg_id again is answered 200 and not handled again.
    let by_app = zalo_signature(ZALO_APP_ID, &body, &ts, ZALO_OA_SECRET);
    assert_eq!(p.post_zalo(&body, Some(by_app)).await, 200);
    p.zalo.wait_to("Z1", 0, 2).await;
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_citizen_journey_with_taps_and_numbers() {
    let p = spawn_platforms(Options::default()).await;
    let user = "ZU-1001";
    let r = p.z_say(user, "/start u_794", 3).await;
    find(&r, "Thành phố Tân An");
    let phone = find(&r, "loại điện thoại");
    // A tap on an oa.query.show button comes back as its payload text.
    let tap = phone.button("Android");
    let r = p.z_say(user, &tap, 1).await;
    let guide = &r[0];
    assert!(guide.text().contains("play.google.com"), "{}", guide.text());
    // A tap on an older message still on screen works too.
    let r = p.z_say(user, &phone.button("iPhone"), 1).await;
    assert!(r[0].text().contains("apps.apple.com"), "{}", r[0].text());
    let installed = guide.button("Tôi đã cài");
    let r = p.z_say(user, &installed, 1).await;
    assert!(r[0].text().contains("Cảm ơn"), "{}", r[0].text());
    assert!(
        r[0].text()
            .contains(&format!("https://zalo.me/{ZALO_OA_ID} /start r_")),
        "Zalo share link with a code to type: {}",
        r[0].text()
    );
    // The share button opens the OA, never Telegram's share dialog.
    let share: Vec<String> = r[0].buttons().into_iter().map(|(_, u)| u).collect();
    assert!(
        share
            .iter()
            .any(|u| u.contains(&format!("https://zalo.me/{ZALO_OA_ID}"))),
        "{share:?}"
    );
    assert!(!share.iter().any(|u| u.contains("t.me/")), "{share:?}");
    let unit = p.app.unit("794").await;
    assert_eq!((unit.members, unit.confirmed), (1, 1));
    // The name was asked from Zalo once, for leaders' lists.
    let person = p.person(Platform::Zalo, user).await.expect("person");
    assert_eq!(person.display_name, format!("Zalo {user}"));

    // A search with many results degrades to numbered choices; typing the number picks one.
    let other = "ZU-1002";
    p.z_say(other, "/start", 2).await;
    let r = p.z_say(other, "tan", 1).await;
    let n = number_of(&r[0], "Tân An");
    let r = p.z_say(other, &n, 2).await;
    find(&r, "loại điện thoại");
    assert!(
        p.person(Platform::Zalo, other)
            .await
            .and_then(|x| x.unit_code)
            .is_some()
    );

    // Unfollow marks the person unreachable; follow makes them reachable again.
    let (body, ts) = p.zalo_body("unfollow", user, None);
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.person(Platform::Zalo, user).await.map(|x| x.unreachable) != Some(true) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "unfollow not recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (body, ts) = p.zalo_body("follow", user, None);
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    while p.person(Platform::Zalo, user).await.map(|x| x.unreachable) != Some(false) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "follow not recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A new follower is welcomed.
    let newcomer = "ZU-1003";
    let (body, ts) = p.zalo_body("follow", newcomer, None);
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    let r = p.zalo.wait_to(newcomer, 0, 2).await;
    find(&r, "Xin chào");
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_long_texts_window_and_errors() {
    let clock = clock();
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let user = "ZU-2001";
    p.z_say(user, "/start", 2).await;

    // 4500 characters in lines of 90: three messages, each within 2000, cut at line ends.
    let line = format!("{}\n", "x".repeat(89));
    let long = line.repeat(50);
    let since = p.zalo.count_to(user);
    let id = queue(&p, Platform::Zalo, user, &long, Priority::Broadcast).await;
    assert_eq!(outcome(&p, id).await.0, "sent");
    let parts = p.zalo.wait_to(user, since, 3).await;
    for part in &parts {
        assert!(part.text().chars().count() <= 2000);
        assert!(part.text().ends_with('x'), "cut at a line end");
    }
    let joined: String = parts
        .iter()
        .map(|s| s.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(joined, long.trim_end());

    // A picture is uploaded, sent as a media template, then its caption.
    let since = p.zalo.count_to(user);
    let person = p.person(Platform::Zalo, user).await.map(|x| x.id);
    p.app
        .store
        .enqueue(&[bluezone_bot::store::NewOutboxItem {
            to: bluezone_bot::domain::ChatAddress {
                platform: Platform::Zalo,
                account: bluezone_bot::domain::AccountId::of_platform(Platform::Zalo),
                chat_id: user.into(),
                is_group: false,
            },
            person_id: person,
            broadcast_id: None,
            priority: Priority::Reply,
            message: bluezone_bot::platform::Outgoing::Photo {
                png: vec![7; 10],
                caption: "Biểu đồ".into(),
                buttons: Vec::new(),
            },
            dedupe_key: None,
        }])
        .await
        .expect("queued");
    let got = p.zalo.wait_to(user, since, 2).await;
    assert_eq!(
        got[0].message["attachment"]["payload"]["elements"][0]["attachment_id"],
        "img-10"
    );
    assert_eq!(got[1].text(), "Biểu đồ");

    // A picture a leader sent on Zalo goes on by its address; one kept by Telegram cannot,
    // so only its caption goes.
    let shared = |photo: PhotoRef| bluezone_bot::store::NewOutboxItem {
        to: bluezone_bot::domain::ChatAddress {
            platform: Platform::Zalo,
            account: bluezone_bot::domain::AccountId::of_platform(Platform::Zalo),
            chat_id: user.into(),
            is_group: false,
        },
        person_id: person,
        broadcast_id: None,
        priority: Priority::Reply,
        message: bluezone_bot::platform::Outgoing::SharedPhoto {
            photo,
            caption: "Cài Bluezone".into(),
            buttons: Vec::new(),
        },
        dedupe_key: None,
    };
    let since = p.zalo.count_to(user);
    p.app
        .store
        .enqueue(&[shared(PhotoRef::Url {
            url: "https://z.example/p.jpg".into(),
        })])
        .await
        .expect("queued");
    let got = p.zalo.wait_to(user, since, 2).await;
    assert_eq!(
        got[0].message["attachment"]["payload"]["elements"][0]["url"],
        "https://z.example/p.jpg"
    );
    assert_eq!(got[1].text(), "Cài Bluezone");
    p.app
        .store
        .enqueue(&[shared(PhotoRef::TelegramFile {
            file_id: "AgACAgIAAx".into(),
            bot: None,
        })])
        .await
        .expect("queued");
    let got = p.zalo.wait_to(user, since + 2, 1).await;
    assert_eq!(got[0].text(), "Cài Bluezone");
    assert!(
        got[0].message.get("attachment").is_none(),
        "{:?}",
        got[0].message
    );

    // Errors come with HTTP 200 and a negative code.
    p.zalo.fail_next(
        200,
        json!({"error": -230, "message": "User has not interacted with the OA in the past 7 days"}),
    );
    let id = queue(&p, Platform::Zalo, user, "a", Priority::Broadcast).await;
    assert_eq!(
        outcome(&p, id).await,
        ("skipped".into(), Some("outside interaction window".into()))
    );
    // A refused access token: refreshed once and the message still goes.
    p.zalo.state.lock().expect("fake").access = "revoked".into();
    let spent_before = p.zalo.spent().len();
    let id = queue(&p, Platform::Zalo, user, "c", Priority::Broadcast).await;
    assert_eq!(outcome(&p, id).await.0, "sent");
    assert_eq!(p.zalo.spent().len(), spent_before + 1);
    // Banned or not following: unreachable.
    p.zalo.fail_next(
        200,
        json!({"error": -213, "message": "User has not followed the OA"}),
    );
    let id = queue(&p, Platform::Zalo, user, "d", Priority::Broadcast).await;
    assert_eq!(outcome(&p, id).await.0, "failed");
    assert_eq!(
        p.person(Platform::Zalo, user).await.map(|x| x.unreachable),
        Some(true)
    );

    // Eight days later nothing is sent: skipped before calling Zalo.
    p.z_say(user, "/status", 1).await;
    clock.advance_ms(8 * 24 * HOUR);
    let before = p.zalo.attempts();
    let id = queue(&p, Platform::Zalo, user, "e", Priority::Broadcast).await;
    assert_eq!(
        outcome(&p, id).await,
        ("skipped".into(), Some("outside interaction window".into()))
    );
    assert_eq!(p.zalo.attempts(), before);

    // Rate limited (-32): the platform pauses and the row is kept for a later attempt.
    p.z_say(user, "/status", 1).await;
    let sent = p.zalo.count_to(user);
    p.zalo
        .fail_next(200, json!({"error": -32, "message": "Rate limit"}));
    let id = queue(&p, Platform::Zalo, user, "b", Priority::Broadcast).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.zalo.attempts() == before + 1 {
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
    assert_eq!(p.zalo.count_to(user), sent, "not sent yet");
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_refresh_tokens_rotate_across_a_restart() {
    let clock = clock();
    let mut p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let user = "ZU-3001";
    p.z_say(user, "/start", 2).await;
    assert_eq!(
        p.zalo.spent(),
        vec!["RT0".to_string()],
        "the seed token, spent once"
    );

    // A day later the access token is close to expiry: refreshed with the rotated token.
    clock.advance_ms(24 * HOUR);
    p.z_say(user, "/status", 1).await;
    assert_eq!(p.zalo.spent(), vec!["RT0".to_string(), "RT1".to_string()]);

    // Restart with the same environment (ZALO_REFRESH_TOKEN is still the spent RT0): the
    // stored pair wins, nothing is refreshed and nothing is refused.
    p.app.restart().await;
    p.base = p.app.http_base().await;
    p.z_say(user, "/status", 1).await;
    assert_eq!(p.zalo.spent().len(), 2);
    assert_eq!(p.zalo.state.lock().expect("fake").refused_refreshes, 0);
    clock.advance_ms(24 * HOUR);
    p.z_say(user, "/status", 1).await;
    assert_eq!(
        p.zalo.spent(),
        vec!["RT0".to_string(), "RT1".to_string(), "RT2".to_string()]
    );
    assert_eq!(p.zalo.state.lock().expect("fake").refused_refreshes, 0);
    let stored = p.app.store.token("zalo").await.expect("db").expect("row");
    assert_eq!(stored.refresh_token, "RT3");
    assert_eq!(stored.previous_refresh_token.as_deref(), Some("RT2"));

    // The operator re-authorises the OA and sets a new ZALO_REFRESH_TOKEN: it is adopted.
    p.zalo.state.lock().expect("fake").refresh = "RT-operator".into();
    p.zalo.state.lock().expect("fake").access = "none".into();
    for (k, v) in p.app.options.env.iter_mut() {
        if k == "ZALO_REFRESH_TOKEN" {
            *v = "RT-operator".into();
        }
    }
    p.app.restart().await;
    p.base = p.app.http_base().await;
    p.z_say(user, "/status", 1).await;
    assert_eq!(
        p.zalo.spent().last().map(String::as_str),
        Some("RT-operator")
    );
    assert_eq!(p.zalo.state.lock().expect("fake").refused_refreshes, 0);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_spend_the_same_refresh_token() {
    use std::sync::Arc;

    use bluezone_bot::platform::zalo::Tokens;
    use bluezone_bot::store::Store;

    let db = crate::helpers::TestDb::new().await.expect("a database");
    let fake = fake_platforms::fake_zalo().await;
    let vars: std::collections::HashMap<String, String> =
        crate::platform_fakes::env(None, Some(&fake))
            .into_iter()
            .collect();
    let cfg = bluezone_bot::platform::zalo::ZaloConfig::from_lookup(&|k| vars.get(k).cloned())
        .expect("settings")
        .expect("zalo configured");
    let cfg = Arc::new(cfg);
    let clock: bluezone_bot::clock::SharedClock = Arc::new(clock());
    let a = Store::connect(&db.url, clock.clone())
        .await
        .expect("store a");
    a.migrate().await.expect("migrated");
    let b = Store::connect(&db.url, clock).await.expect("store b");
    let ta = Tokens::load(cfg.clone(), a.clone())
        .await
        .expect("tokens a");
    let tb = Tokens::load(cfg, b.clone()).await.expect("tokens b");
    let (x, y) = tokio::join!(ta.access_token(), tb.access_token());
    let (x, y) = (x.expect("a token"), y.expect("a token"));
    assert_eq!(x, y, "both replicas use the one new token");
    assert_eq!(fake.spent(), vec!["RT0".to_string()], "spent once");
    assert_eq!(fake.state.lock().expect("fake").refused_refreshes, 0);
    // Zalo refuses the token again and again: each time exactly one replica refreshes.
    let mut current = x;
    for round in 2..8 {
        ta.refused(&current).await;
        let (x, y) = tokio::join!(tb.access_token(), ta.access_token());
        let (x, y) = (x.expect("a token"), y.expect("a token"));
        assert_eq!(x, y);
        assert_ne!(x, current);
        assert_eq!(fake.spent().len(), round, "one refresh per round");
        current = x;
    }
    assert_eq!(fake.state.lock().expect("fake").refused_refreshes, 0);
    a.close().await;
    b.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_greetings_after_a_follow_are_not_searches_and_start_is_no_return() {
    let p = spawn_platforms(Options::default()).await;
    let user = "ZU-2001";
    let (body, ts) = p.zalo_body("follow", user, None);
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    let r = p.zalo.wait_to(user, 0, 2).await;
    find(&r, "đơn vị nào");
    for (text, answer) in [
        ("xin chào", "Xin chào bạn"),
        ("hi", "Xin chào bạn"),
        ("alo", "Xin chào bạn"),
        ("cảm ơn", "Không có gì"),
    ] {
        let r = p.z_say(user, text, 2).await;
        find(&r, answer);
        find(&r, "đơn vị nào");
        assert!(
            r.iter().all(|m| !m.text().contains("Không tìm thấy")),
            "{text}"
        );
    }
    // The poster's link seconds after the follow: a first visit, not a return.
    let r = p.z_say(user, "/start u_803", 3).await;
    assert!(r.iter().all(|m| !m.text().contains("quay lại")));
    find(&r, "Huyện Bến Lức");
    // The same for someone new: follow, then the link at once.
    let other = "ZU-2002";
    let (body, ts) = p.zalo_body("follow", other, None);
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    p.zalo.wait_to(other, 0, 2).await;
    let r = p.z_say(other, "/start u_803", 3).await;
    assert!(r.iter().all(|m| !m.text().contains("quay lại")));
    // Someone who cannot find their unit skips it with a tap and gets the guide.
    let third = "ZU-2003";
    p.z_say(third, "/start", 2).await;
    let r = p.z_say(third, "không tìm thấy", 1).await;
    let skip = r[0].button("Để sau");
    let r = p.z_say(third, &skip, 2).await;
    find(&r, "loại điện thoại");
    p.app.finish().await;
}

/// Numbered choices are remembered before a message goes out, as on Messenger (a person who
/// answers the moment it arrives answers its choices): even a message Zalo refused leaves
/// its buttons as the chat's choices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_remembers_choices_before_sending() {
    let p = spawn_platforms(Options::default()).await;
    let user = "ZU-2001";
    let r = p.z_say(user, "/start u_794", 3).await;
    let phone = find(&r, "loại điện thoại");
    // The guide (store link, "installed", other phone) is refused for good.
    p.zalo
        .fail_next(200, json!({"error": -201, "message": "Invalid parameters"}));
    let tried = p.zalo.attempts();
    let (body, ts) = p.zalo_body("user_send_text", user, Some(&phone.button("Android")));
    assert_eq!(p.post_zalo_signed(&body, &ts).await, 200);
    let deadline = tokio::time::Instant::now() + WAIT;
    while p.zalo.attempts() == tried {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guide was not tried"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // "2" is the guide's second button ("installed"), not the phone question's ("iPhone").
    let r = p.z_say(user, "2", 1).await;
    assert!(r[0].text().contains("Cảm ơn"), "{}", r[0].text());
    p.app.finish().await;
}
