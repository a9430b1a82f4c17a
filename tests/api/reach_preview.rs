//! The reach preview before a broadcast: per platform, who is reachable now for free and who
//! is not (Messenger's 24-hour window closed), and the broadcast then does exactly what the
//! preview said (delivered through the fakes, skipped with the reason). A person linked with
//! `/link` is reached once, on the account that reaches them now. Free only is the default;
//! the paid speed is refused to a leader who is not an administrator.

use std::time::Duration;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::Platform;
use bluezone_bot::reach::Spend;
use fake_platforms::TgUser;

use crate::helpers::{Options, WAIT};
use crate::platform_fakes::{Platforms, spawn_platforms};

const H: i64 = 3600 * 1000;

/// The payload of the first button of `sent` whose payload starts with `prefix`.
fn button(sent: &fake_platforms::Sent, prefix: &str) -> String {
    sent.buttons()
        .into_iter()
        .map(|(_, payload)| payload)
        .find(|payload| payload.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} button: {:?}", sent.buttons()))
}

/// `/broadcast 794` with `text` from the Messenger user `who`, everyone chosen: the id and
/// the confirmation message with the reach preview.
async fn preview(p: &Platforms, who: &str, text: &str) -> (i64, fake_platforms::Sent) {
    p.m_say(who, "/broadcast 794", 1).await;
    let r = p.m_say(who, text, 1).await;
    let everyone = button(&r[0], "bca:");
    let everyone = if everyone.ends_with(":a") {
        everyone
    } else {
        everyone.replace(":u", ":a")
    };
    let r = p.m_press(who, &everyone, 1).await;
    let confirm = button(&r[0], "bcok:");
    let id = confirm.trim_start_matches("bcok:").parse().expect("an id");
    (id, r[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_counts_equal_what_the_broadcast_does_and_linked_people_once() {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        env: vec![("BLUEZONE_ADMINS".into(), "messenger:ADMIN".into())],
        ..Options::default()
    })
    .await;
    // Two Messenger members who last wrote 25 hours ago (outside the window); one of them is
    // linked to a Telegram account, which reaches them free.
    p.m_say("PSID-OLD", "/start u_794", 3).await;
    p.m_say("PSID-LINKED", "/start u_794", 3).await;
    let linked_tg = TgUser::vi(6001);
    p.app.say(&linked_tg, "/start u_794", 3).await;
    let store = &p.app.store;
    let m = p
        .person(Platform::Messenger, "PSID-LINKED")
        .await
        .expect("the Messenger account");
    let t = p
        .person(Platform::Telegram, &linked_tg.id.to_string())
        .await
        .expect("the Telegram account");
    // The Messenger account is the primary: before, only it was reached (and skipped).
    let code = store.link_code_create(m.id, H).await.expect("a code");
    store.link_redeem(t.id, &code).await.expect("linked");
    clock.advance_ms(25 * H);
    p.m_say("PSID-NEW", "/start u_794", 3).await;
    p.z_say("ZU-NEW", "/start u_794", 3).await;
    let tg = TgUser::vi(6002);
    p.app.say(&tg, "/start u_794", 3).await;

    let (id, shown) = preview(&p, "ADMIN", "Họp tổ dân phố lúc 19h").await;
    let text = shown.text();
    assert!(
        text.contains("Messenger: 1 người miễn phí"),
        "preview: {text}"
    );
    assert!(
        text.contains("1 người chưa thể nhắn lúc này (hết hạn cửa sổ nhắn tin 1"),
        "preview: {text}"
    );
    assert!(
        text.contains("Telegram: 2 người miễn phí"),
        "preview: {text}"
    );
    assert!(text.contains("Zalo: 1 người miễn phí"), "preview: {text}");
    // No budget and no paid speed configured: free only is the one choice.
    assert!(
        !shown
            .buttons()
            .iter()
            .any(|(_, payload)| payload.starts_with("bcsp:"))
    );
    let confirm = format!("bcok:{id}");
    let body = p.messenger_body(
        "ADMIN",
        serde_json::json!({"postback": {"title": "ok", "payload": confirm, "mid": "pb.ok"}}),
    );
    assert_eq!(p.post_messenger_signed(&body).await, 200);

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let b = store
            .broadcast(id)
            .await
            .expect("read")
            .expect("a broadcast");
        if b.status == "done" {
            // 4 free (Telegram 2, Zalo 1, Messenger 1) delivered; 1 outside the window.
            assert_eq!((b.total, b.sent, b.skipped), (5, 4, 1), "{b:?}");
            assert_eq!((b.billed, b.excluded, b.failed), (0, 0, 0), "{b:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not done: {b:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        store.broadcast_failures(id).await.expect("failures"),
        vec![("outside messaging window".to_string(), 1)]
    );
    assert_eq!(
        store.broadcast_spend(id).await.expect("spend"),
        Spend::FreeOnly
    );
    // The linked person got it once, on Telegram; nothing went to their Messenger account.
    let got = |user: i64| {
        p.app
            .fake
            .messages_to(user)
            .iter()
            .filter(|c| c.text().contains("Họp tổ dân phố"))
            .count()
    };
    assert_eq!(got(linked_tg.id), 1);
    assert_eq!(got(tg.id), 1);
    assert!(
        !p.messenger
            .sent()
            .iter()
            .any(|s| s.to == "PSID-LINKED" && s.text().contains("Họp tổ dân phố"))
    );
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cannot_choose_paid_speed() {
    let p = spawn_platforms(Options::default()).await;
    p.m_say("PSID-M", "/start u_794", 3).await;
    p.m_say("LEADER", "/start u_794", 3).await;
    let store = &p.app.store;
    let leader = p
        .person(Platform::Messenger, "LEADER")
        .await
        .expect("the leader");
    let token = store
        .create_invitation(&crate::helpers::unit_code("794"), "test", 7)
        .await
        .expect("invitation");
    store
        .redeem_invitation(&token, leader.id)
        .await
        .expect("redeemed")
        .expect("valid");
    let (id, shown) = preview(&p, "LEADER", "Tin nhắn").await;
    assert!(
        !shown
            .buttons()
            .iter()
            .any(|(_, payload)| payload.starts_with("bcsp:"))
    );
    let r = p
        .m_press("LEADER", &format!("bcsp:{id}:paid_speed"), 1)
        .await;
    assert!(!r.is_empty());
    let b = store
        .broadcast(id)
        .await
        .expect("read")
        .expect("a broadcast");
    assert_eq!(b.status, "draft");
    assert_eq!(
        store.broadcast_spend(id).await.expect("spend"),
        Spend::FreeOnly
    );
    p.app.finish().await;
}
