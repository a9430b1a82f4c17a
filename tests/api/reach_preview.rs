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

/// A Zalo or Messenger member of unit 27694 created straight in the store (writing now).
async fn member(store: &bluezone_bot::store::Store, platform: Platform, id: &str) -> i64 {
    let (p, _) = store
        .touch_person(platform, id, id, "Member", bluezone_bot::domain::Locale::Vi)
        .await
        .expect("a person");
    store
        .save_state(p.id, &bluezone_bot::domain::State::Idle)
        .await
        .expect("started");
    store
        .set_person_unit(p.id, Some(&crate::helpers::unit_code("27694")))
        .await
        .expect("joined");
    p.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billed_recipients_are_queued_within_the_budget_as_the_preview_said() {
    use bluezone_bot::reach::ReachRules;
    use bluezone_bot::reach::estimate::billed_within_budget;
    use bluezone_bot::store::{Audience, ReachPlan};

    let clock = ManualClock::at(1_700_000_000_000);
    let app = crate::helpers::spawn_app_with(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let store = &app.store;
    // 3 Zalo members outside every window (200 h), 20 in the billed period (60 h), 2 free
    // (10 h), one of them blocked and one opted out (both free by age).
    for i in 0..3 {
        member(store, Platform::Zalo, &format!("Z-CLOSED-{i}")).await;
    }
    let old_messenger = member(store, Platform::Messenger, "M-LINKED").await;
    clock.advance_ms(140 * H);
    let mut billed_ids = Vec::new();
    for i in 0..20 {
        billed_ids.push(member(store, Platform::Zalo, &format!("Z-BILLED-{i}")).await);
    }
    clock.advance_ms(50 * H);
    for i in 0..2 {
        member(store, Platform::Zalo, &format!("Z-FREE-{i}")).await;
    }
    let blocked = member(store, Platform::Zalo, "Z-BLOCKED").await;
    store
        .mark_unreachable(Platform::Zalo, "Z-BLOCKED", "unfollowed")
        .await
        .expect("blocked");
    let opted = member(store, Platform::Zalo, "Z-OPTED").await;
    store.set_opted_out(opted, true).await.expect("opted out");
    assert_ne!(blocked, opted);
    clock.advance_ms(10 * H);
    // A person whose Messenger account (window closed) is linked to a billed Zalo account:
    // reached once, on Zalo, at a price (the cheapest way that reaches them now).
    let code = store
        .link_code_create(billed_ids[0], H)
        .await
        .expect("a code");
    store
        .link_redeem(old_messenger, &code)
        .await
        .expect("linked");

    let zalo = ReachRules {
        free_ms: Some(48 * H),
        billed_until_ms: Some(7 * 24 * H),
        price: 55,
        monthly_budget: 1_000,
        paid_speed: None,
    };
    let messenger = ReachRules {
        free_ms: Some(24 * H),
        ..ReachRules::ALWAYS_FREE
    };
    let rules = vec![(Platform::Zalo, zalo), (Platform::Messenger, messenger)];
    let unit = crate::helpers::unit_code("27694");
    let base = ReachPlan {
        now: store.now(),
        rules: rules.clone(),
        ..ReachPlan::default()
    };
    let reach = store
        .audience_reach(&unit, Audience::Everyone, &base)
        .await
        .expect("reach");
    assert_eq!(reach.len(), 1, "{reach:?}");
    let (platform, classes) = reach[0];
    assert_eq!(platform, Platform::Zalo);
    assert_eq!(
        (
            classes.free,
            classes.billed,
            classes.window_closed,
            classes.blocked,
            classes.opted_out
        ),
        (2, 20, 3, 1, 1)
    );
    // 100 of the budget already spent: 900 left pays for 16 messages at 55.
    let budget_left = 1_000 - 100;
    let (allowed, cost) =
        billed_within_budget(Spend::FreeAndBilled, classes.billed, 55, budget_left);
    assert_eq!((allowed, cost), (16, 880));

    // The author has no unit: not in the audience.
    let (leader, _) = store
        .touch_person(
            Platform::Telegram,
            "9001",
            "9001",
            "Leader",
            bluezone_bot::domain::Locale::Vi,
        )
        .await
        .expect("the author");
    let leader = leader.id;
    let to = bluezone_bot::domain::ChatAddress {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        chat_id: "9001".into(),
        is_group: false,
    };
    for (spend, queued, skipped, billed) in [
        (Spend::FreeAndBilled, 2 + 16, 3 + 4, 16),
        (Spend::FreeOnly, 2, 3 + 20, 0),
    ] {
        let id = store
            .create_broadcast_draft(
                leader,
                "telegram:9001",
                &unit,
                "Tin",
                r#"{"type":"text","text":"Tin"}"#,
            )
            .await
            .expect("draft");
        let plan = ReachPlan {
            billed_allowed: vec![(
                Platform::Zalo,
                billed_within_budget(spend, classes.billed, 55, budget_left).0,
            )],
            spend,
            ..base.clone()
        };
        store
            .queue_broadcast_planned(
                id,
                leader,
                &to,
                bluezone_bot::platform::Outgoing::text("0"),
                &plan,
            )
            .await
            .expect("queued");
        let rows = store.broadcast_row_statuses(id).await.expect("rows");
        let count = |status: &str| {
            rows.iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        // Nothing was sent yet (no Zalo account here): every queued row is still queued.
        assert_eq!(
            (count("queued"), count("skipped")),
            (queued, skipped),
            "{spend:?}"
        );
        let b = store
            .broadcast(id)
            .await
            .expect("read")
            .expect("a broadcast");
        assert_eq!(b.total, queued + skipped);
        assert_eq!((b.billed, b.billed_cost), (billed, billed * 55));
        assert_eq!((b.skipped, b.excluded), (skipped, 2));
        assert_eq!(store.broadcast_spend(id).await.expect("spend"), spend);
        // The linked person is reached once: their Messenger account is not in the audience.
        assert_eq!(queued + skipped, 2 + 20 + 3);
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_queued_without_a_plan_reaches_everyone_free() {
    let app = crate::helpers::spawn_app().await;
    let store = &app.store;
    for i in 0..3 {
        member(store, Platform::Zalo, &format!("Z-{i}")).await;
    }
    let (leader, _) = store
        .touch_person(
            Platform::Telegram,
            "9002",
            "9002",
            "Leader",
            bluezone_bot::domain::Locale::Vi,
        )
        .await
        .expect("the author");
    let id = store
        .create_broadcast_draft(
            leader.id,
            "telegram:9002",
            &crate::helpers::unit_code("27694"),
            "Tin",
            r#"{"type":"text","text":"Tin"}"#,
        )
        .await
        .expect("draft");
    let to = bluezone_bot::domain::ChatAddress {
        platform: Platform::Telegram,
        account: bluezone_bot::domain::AccountId::of_platform(Platform::Telegram),
        chat_id: "9002".into(),
        is_group: false,
    };
    let queued = store
        .queue_broadcast(
            id,
            leader.id,
            &to,
            bluezone_bot::platform::Outgoing::text("0"),
        )
        .await
        .expect("queued");
    assert_eq!(queued, bluezone_bot::store::Queued::Now(3));
    app.finish().await;
}
