//! Leader invitations: created by administrators, used once, expiring.

use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::State;
use fake_platforms::TgUser;

use crate::helpers::{Options, TestApp, spawn_app_with, unit_code};

const ADMIN: i64 = 9001;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The `l_<token>` payload in an invitation message.
fn invite_payload(text: &str) -> String {
    let start = text.find("start=l_").expect("an invitation link") + "start=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

async fn invite(app: &TestApp, unit: &str) -> String {
    let admin = TgUser::vi(ADMIN);
    let r = app.say(&admin, &format!("/invite_leader {unit}"), 1).await;
    assert!(r[0].text().contains("https://t.me/"), "{}", r[0].text());
    invite_payload(r[0].text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_makes_a_leader_once() {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        ..Options::default()
    })
    .await;
    let payload = invite(&app, "794").await;
    assert!(payload.len() >= 20, "unguessable: {payload}");

    let lan = TgUser::vi(9002);
    let r = app.say(&lan, &format!("/start {payload}"), 1).await;
    assert!(
        r[0].text().contains("cán bộ phụ trách Thành phố Tân An"),
        "{}",
        r[0].text()
    );
    let p = app.person(&lan).await.expect("leader");
    assert_eq!(
        app.store.led_units(p.id).await.expect("led units"),
        vec!["794".to_string()]
    );
    let r = app.say(&lan, "/help", 1).await;
    assert!(r[0].text().contains("Lệnh cho cán bộ"), "{}", r[0].text());

    let other = TgUser::vi(9003);
    let r = app.say(&other, &format!("/start {payload}"), 1).await;
    assert!(r[0].text().contains("đã được sử dụng"), "{}", r[0].text());
    let r = app.say(&other, "/help", 1).await;
    assert!(!r[0].text().contains("Lệnh cho cán bộ"));
    let r = app.say(&other, "/start l_notarealtoken", 1).await;
    assert!(r[0].text().contains("không tồn tại"), "{}", r[0].text());

    // Not an administrator.
    let r = app.say(&other, "/invite_leader 794", 1).await;
    assert!(r[0].text().contains("không có quyền"), "{}", r[0].text());
    // An administrator with a bad code gets the usage.
    let r = app.say(&TgUser::vi(ADMIN), "/invite_leader", 1).await;
    assert!(r[0].text().contains("/invite_leader"), "{}", r[0].text());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_expires() {
    let clock = ManualClock::at(1_590_000_000_000);
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let payload = invite(&app, "80").await;
    clock.advance_ms(7 * DAY_MS + 1000);
    let late = TgUser::en(9004);
    let r = app.say(&late, &format!("/start {payload}"), 1).await;
    assert!(r[0].text().contains("expired"), "{}", r[0].text());
    let p = app.person(&late).await.expect("person");
    assert!(app.store.led_units(p.id).await.expect("led").is_empty());
    // A fresh one still works after the clock moved.
    let payload = invite(&app, "80").await;
    clock.advance_ms(6 * DAY_MS);
    let r = app.say(&late, &format!("/start {payload}"), 1).await;
    assert!(
        r[0].text().contains("leader of Tỉnh Long An"),
        "{}",
        r[0].text()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_gets_the_admin_menu_and_picks_a_unit_to_broadcast() {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        ..Options::default()
    })
    .await;
    let admin = TgUser::en(ADMIN);
    let r = app.say(&admin, "/start", 1).await;
    let menu = &r[0];
    assert!(
        menu.text().contains("You are an administrator"),
        "{}",
        menu.text()
    );
    assert!(!menu.text().contains("Which unit do you live"));
    for label in ["Coverage", "Export", "Broadcast", "Invite leaders"] {
        assert!(menu.button_data(label).is_some(), "{label}");
    }
    let r = app.press(&admin, menu, "Coverage", 1).await;
    assert!(r[0].text().contains("Whole country"), "{}", r[0].text());
    let r = app.press(&admin, menu, "Invite leaders", 1).await;
    assert!(
        r[0].text().contains("/invite_leader 794"),
        "{}",
        r[0].text()
    );
    let r = app.press(&admin, menu, "Broadcast", 1).await;
    assert!(
        r[0].text().contains("Which unit should get the broadcast"),
        "{}",
        r[0].text()
    );
    let r = app.say(&admin, "/broadcast", 1).await;
    assert!(!r[0].text().contains("your units: —"), "{}", r[0].text());
    let r = app.press(&admin, &r[0], "Tỉnh Long An (80)", 1).await;
    assert!(
        r[0].text().contains("Message every member of Tỉnh Long An"),
        "{}",
        r[0].text()
    );
    let admin_row = app.person(&admin).await.expect("the admin");
    assert_eq!(
        admin_row.state,
        State::BroadcastText {
            unit: unit_code("80")
        }
    );
    app.finish().await;
}
