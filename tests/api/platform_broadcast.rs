//! A broadcast from a leader on Messenger reaches the unit's members on Telegram, Zalo and
//! Messenger, within each platform's rules: a Messenger member outside the 24-hour window is
//! skipped with the reason.

use std::time::Duration;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::testkit::TgUser;

use crate::helpers::{Options, WAIT};
use crate::platform_fakes::spawn_platforms;

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
