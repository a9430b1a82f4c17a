//! A broadcast from a leader on Messenger reaches the unit's members on Telegram, Zalo and
//! Messenger, within each platform's rules: a Messenger member outside the 24-hour window is
//! skipped with the reason. The leader reads the outcomes in localized classes (delivered,
//! skipped, unreachable, failed after retries), never a platform's own error text; on Telegram
//! one message carries the broadcast from preview to summary, elsewhere each step is its own
//! message, in order.

use crate::helpers::unit_code;
use bluezone_bot::domain::State;
use std::time::Duration;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::{Locale, Platform};
use bluezone_bot::store::Store;
use fake_platforms::{Failure, TgUser};

use crate::helpers::{Options, WAIT};
use crate::platform_fakes::{Platforms, spawn_platforms};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_all_three_platforms_within_their_rules() {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        env: vec![("BLUEZONE_ADMINS".into(), "messenger:ADMIN".into())],
        ..Options::default()
    })
    .await;
    let stale = "PSID-B0";
    p.m_say(stale, "/start u_794", 3).await;
    clock.advance_ms(25 * 3600 * 1000);
    p.m_say("PSID-B1", "/start u_794", 3).await;
    p.z_say("ZU-B1", "/start u_794", 3).await;
    let tg = TgUser::vi(5001);
    p.app.say(&tg, "/start u_794", 3).await;

    p.m_say("ADMIN", "/broadcast 794", 1).await;
    let r = p.m_say("ADMIN", "Họp tổ dân phố lúc 19h", 1).await;
    let everyone = r[0]
        .buttons()
        .into_iter()
        .map(|(_, payload)| payload)
        .find(|payload| payload.starts_with("bca:") && payload.ends_with(":a"))
        .unwrap_or_else(|| panic!("no audience button: {:?}", r[0].buttons()));
    let r = p.m_press("ADMIN", &everyone, 1).await;
    let confirm = r[0]
        .buttons()
        .into_iter()
        .map(|(_, payload)| payload)
        .find(|payload| payload.starts_with("bcok:"))
        .unwrap_or_else(|| panic!("no confirm button: {:?}", r[0].buttons()));
    let id: i64 = confirm.trim_start_matches("bcok:").parse().expect("an id");
    let body = p.messenger_body(
        "ADMIN",
        serde_json::json!({"postback": {"title": "ok", "payload": confirm, "mid": "pb.confirm"}}),
    );
    assert_eq!(p.post_messenger_signed(&body).await, 200);

    p.messenger.wait_text("PSID-B1", "Họp tổ dân phố").await;
    p.zalo.wait_text("ZU-B1", "Họp tổ dân phố").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !p
        .app
        .fake
        .messages_to(tg.id)
        .iter()
        .any(|c| c.text().contains("Họp tổ dân phố"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Telegram never got it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The member outside Messenger's window: skipped, with the reason, never sent.
    loop {
        let failures = p.app.store.broadcast_failures(id).await.expect("failures");
        if failures == vec![("outside messaging window".to_string(), 1)] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not skipped: {failures:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !p.messenger
            .sent()
            .iter()
            .any(|s| s.to == stale && s.text().contains("Họp tổ dân phố"))
    );
    p.app.finish().await;
}

/// A Telegram member of `unit` created straight in the store.
async fn tg_member(store: &Store, id: i64, unit: &str) -> i64 {
    let (p, _) = store
        .touch_person(
            Platform::Telegram,
            &id.to_string(),
            &id.to_string(),
            "Member",
            Locale::Vi,
        )
        .await
        .expect("a person");
    store.save_state(p.id, &State::Idle).await.expect("started");
    store
        .set_person_unit(p.id, Some(&unit_code(unit)))
        .await
        .expect("joined");
    p.id
}

/// Makes the Telegram user `user` a leader of `unit`.
async fn tg_leader(store: &Store, user: &TgUser, unit: &str) {
    let (p, _) = store
        .touch_person(
            Platform::Telegram,
            &user.id.to_string(),
            &user.id.to_string(),
            "Leader",
            Locale::Vi,
        )
        .await
        .expect("a person");
    let token = store
        .create_invitation(&unit_code(unit), "test", 7)
        .await
        .expect("invitation");
    store
        .redeem_invitation(&token, p.id)
        .await
        .expect("redeemed")
        .expect("valid");
}

/// Every outcome class in one audience of unit 794, on all three platforms: a Messenger member
/// outside the 24-hour window (skipped), a Telegram member who blocked the bot (unreachable),
/// a Telegram member whose every send fails (failed after retries), and `ok` Telegram members
/// plus one Zalo member who get it. With `messenger_gone`, a Messenger member whom Messenger
/// reports unavailable (551, unreachable) as well.
async fn every_outcome(p: &Platforms, clock: &ManualClock, ok: &[i64], messenger_gone: bool) {
    p.m_say("PSID-STALE", "/start u_794", 3).await;
    clock.advance_ms(25 * 3600 * 1000);
    if messenger_gone {
        p.m_say("PSID-GONE", "/start u_794", 3).await;
    }
    p.z_say("ZU-OK", "/start u_794", 3).await;
    for &id in ok {
        tg_member(&p.app.store, id, "27694").await;
    }
    tg_member(&p.app.store, 88_001, "27694").await;
    p.app.fake.fail_chat(88_001, Failure::blocked());
    tg_member(&p.app.store, 88_002, "27694").await;
    p.app.fake.fail_chat(88_002, Failure::DropConnection);
}

/// Raw platform errors that must never reach a leader.
const RAW: [&str; 6] = [
    "messenger error",
    "551",
    "Forbidden",
    "outside messaging window",
    "gave up",
    "transient",
];

fn options(clock: &ManualClock, admins: &str) -> Options {
    Options {
        clock: Some(clock.clone()),
        env: vec![
            ("BLUEZONE_ADMINS".into(), admins.into()),
            ("BLUEZONE_PROGRESS_EVERY_SECS".into(), "0".into()),
            ("BLUEZONE_SEND_MAX_ATTEMPTS".into(), "1".into()),
        ],
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_leader_follows_a_broadcast_in_one_message_told_in_classes() {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let p = spawn_platforms(options(&clock, "telegram:1")).await;
    every_outcome(&p, &clock, &[88_010, 88_011], true).await;
    let leader = TgUser::vi(8800);
    tg_leader(&p.app.store, &leader, "794").await;

    let start = p.app.fake.mark();
    p.app.say(&leader, "/broadcast 794", 1).await;
    let text = "Họp tổ dân phố lúc 19h";
    let r = p.app.say(&leader, text, 1).await;
    let preview = r[0].clone();
    let preview_id = preview.message_id().expect("a message id");
    // The audience press and the confirmation replace the preview: no new message.
    let r = p.app.press(&leader, &preview, "Tất cả", 1).await;
    assert_eq!(r[0].method, "editMessageText", "{r:?}");
    assert!(r[0].text().contains(text), "the message stays in view");
    assert!(r[0].text().contains("7 người"), "{}", r[0].text());
    let confirm = r[0].clone();
    // Messenger reports the one member it is asked about unavailable.
    p.messenger.fail_next(
        400,
        serde_json::json!({"error": {"message": "This person isn't available right now.",
            "type": "OAuthException", "code": 551, "error_subcode": 1545041}}),
    );
    let mark = p.app.fake.mark();
    let data = confirm.button_data("Gửi ngay").expect("confirm");
    p.app.fake.press_button(&leader, preview_id, &data);
    p.app
        .fake
        .wait_for_since(mark, 1, WAIT, |c| {
            c.is_message_to(leader.id) && c.text().contains("đã gửi xong")
        })
        .await
        .expect("the summary");
    p.app.drained().await;

    let to_leader: Vec<_> = p
        .app
        .fake
        .calls_since(start)
        .into_iter()
        .filter(|c| c.is_message_to(leader.id))
        .collect();
    let sends: Vec<_> = to_leader
        .iter()
        .filter(|c| c.method != "editMessageText")
        .map(|c| c.text().to_string())
        .collect();
    assert_eq!(
        sends.len(),
        2,
        "the question and the preview only: {sends:#?}"
    );
    let edits: Vec<_> = to_leader
        .iter()
        .filter(|c| c.method == "editMessageText")
        .collect();
    assert!(
        edits
            .iter()
            .all(|c| c.params.get("message_id").and_then(|v| v.as_i64()) == Some(preview_id)),
        "every edit is of the preview"
    );
    // In order: the question, queued, (progress), the summary last.
    let position = |needle: &str| {
        edits
            .iter()
            .position(|c| c.text().contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {edits:#?}"))
    };
    let queued = position("Đã xếp hàng gửi cho 7");
    assert!(position("Gửi tin nhắn này cho 7") < queued);
    assert_eq!(position("đã gửi xong"), edits.len() - 1);
    if let Some(progress) = edits.iter().position(|c| c.text().contains("📤")) {
        assert!(queued < progress, "the queued note comes before progress");
    }
    let summary = edits[edits.len() - 1].text().to_string();
    assert!(summary.contains(text), "{summary}");
    assert!(summary.contains("3/7 người đã nhận"), "{summary}");
    assert!(summary.contains("1 bị bỏ qua"), "{summary}");
    assert!(summary.contains("2 không liên lạc được"), "{summary}");
    assert!(summary.contains("1 gửi lỗi sau nhiều lần thử"), "{summary}");
    for raw in RAW {
        assert!(!summary.contains(raw), "{raw:?} in {summary}");
    }

    // The list tells the same classes.
    let r = p.app.say(&leader, "/broadcasts", 1).await;
    let list = r[0].text();
    assert!(list.contains("3/7 người đã nhận"), "{list}");
    assert!(list.contains("1 bị bỏ qua"), "{list}");
    assert!(list.contains("2 không liên lạc được"), "{list}");
    for raw in RAW {
        assert!(!list.contains(raw), "{raw:?} in {list}");
    }
    // The raw reasons stay in the database.
    let b = &p.app.store.recent_broadcasts(None, 1).await.expect("list")[0];
    assert_eq!(
        (b.sent, b.skipped, b.unreachable, b.failed),
        (3, 1, 2, 1),
        "{b:?}"
    );
    let reasons: Vec<String> = p
        .app
        .store
        .broadcast_failures(b.id)
        .await
        .expect("reasons")
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("messenger error 551/1545041")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "outside messaging window"),
        "{reasons:?}"
    );
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messenger_leader_gets_each_step_as_its_own_message_in_order_in_english() {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let p = spawn_platforms(options(&clock, "messenger:ADMIN-EN")).await;
    every_outcome(&p, &clock, &[88_020], false).await;
    p.m_say("ADMIN-EN", "/help", 1).await;
    let admin = p
        .person(Platform::Messenger, "ADMIN-EN")
        .await
        .expect("the admin");
    p.app
        .store
        .set_locale(admin.id, Locale::En)
        .await
        .expect("English");

    let since = p.messenger.count_to("ADMIN-EN");
    p.m_say("ADMIN-EN", "/broadcast 794", 1).await;
    let r = p.m_say("ADMIN-EN", "Meeting at 7 pm", 1).await;
    let everyone = r[0].button("Everyone");
    let r = p.m_press("ADMIN-EN", &everyone, 1).await;
    assert!(r[0].text().contains("5 people"), "{}", r[0].text());
    let confirm = r[0].button("Send now");
    // Posted without waiting for exactly one answer: the summary may follow the "queued"
    // message within moments.
    let body = p.messenger_body(
        "ADMIN-EN",
        serde_json::json!({"postback": {"title": "x", "payload": confirm, "mid": "pb.confirm-en"}}),
    );
    assert_eq!(p.post_messenger_signed(&body).await, 200);
    let summary = p.messenger.wait_text("ADMIN-EN", "finished").await;
    p.app.drained().await;

    let got: Vec<String> = p
        .messenger
        .sent()
        .into_iter()
        .filter(|s| s.to == "ADMIN-EN")
        .skip(since)
        .map(|s| s.text())
        .collect();
    // Ask, preview, confirmation, queued, summary: no progress line it could not edit.
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(got[3].contains("queued for 5 recipients"), "{got:#?}");
    assert!(got[4].contains("finished"), "{got:#?}");
    let summary = summary.text();
    assert!(summary.contains("2/5 delivered"), "{summary}");
    assert!(summary.contains("1 skipped"), "{summary}");
    assert!(summary.contains("1 unreachable"), "{summary}");
    assert!(summary.contains("1 failed after retries"), "{summary}");
    assert!(
        !summary.contains("2 failed"),
        "skipped is not an error: {summary}"
    );
    for raw in RAW {
        assert!(!summary.contains(raw), "{raw:?} in {summary}");
    }
    p.app.finish().await;
}
