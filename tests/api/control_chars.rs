//! NUL and other control characters from a platform never reach the database: names, texts,
//! command arguments and button data are cleaned at the boundary on every platform, so the
//! person gets a real answer (PostgreSQL refuses NUL in text).

use bluezone_bot::domain::Platform;
use fake_platforms::TgUser;

use crate::helpers::{Options, WAIT, find, spawn_app, spawn_app_with};
use crate::platform_fakes::spawn_platforms;

const APOLOGY_VI: &str = "đã có lỗi";

fn nul_user(id: i64) -> TgUser {
    TgUser {
        id,
        first_name: "Lan\u{0}\u{7}\nNguyễn".into(),
        language_code: Some("vi\u{0}".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_polling_cleans_names_texts_args_and_button_data() {
    let app = spawn_app().await;
    let lan = nul_user(7001);
    let r = app.say(&lan, "/start u_794\u{0}", 3).await;
    find(&r, "Thành phố Tân An");
    let phone = find(&r, "loại điện thoại");
    let person = app.person(&lan).await.expect("the person");
    assert_eq!(person.display_name, "Lan Nguyễn");
    // Button data with a NUL presses the button it was.
    let data = phone.button_data("Android").expect("the Android button");
    let r = app
        .press_data(&lan, phone, &format!("{data}\u{0}"), 1)
        .await;
    assert!(r[0].text().contains("play.google.com"), "{}", r[0].text());
    let r = app.say(&lan, "xin chào\u{0}\u{1b}", 1).await;
    assert!(!r[0].text().contains(APOLOGY_VI), "{}", r[0].text());
    let r = app.say(&lan, "/status\u{0} \u{0}", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"), "{}", r[0].text());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_webhook_answers_a_name_with_nul() {
    let app = spawn_app_with(Options {
        webhook: Some(("https://bot.example.org".into(), Some("s3cret".into()))),
        ..Options::default()
    })
    .await;
    app.fake
        .wait_for(1, WAIT, |c| c.method == "setWebhook")
        .await
        .expect("setWebhook");
    let lan = nul_user(7002);
    let update = app.fake.text_update(&lan, "/start u_794\u{0}");
    let status = reqwest::Client::new()
        .post(format!("{}/webhooks/telegram", app.http_base().await))
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret")
        .json(&update)
        .send()
        .await
        .expect("post")
        .status();
    assert_eq!(status, 200, "handled, not left for Telegram to retry");
    let calls = app
        .fake
        .wait_for(3, WAIT, |c| c.is_message_to(lan.id))
        .await
        .expect("the welcome");
    find(&calls, "Thành phố Tân An");
    let person = app.person(&lan).await.expect("the person");
    assert_eq!(person.display_name, "Lan Nguyễn");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_and_zalo_clean_names_texts_args_and_payloads() {
    let p = spawn_platforms(Options::default()).await;
    let psid = "PSID-7003";
    p.messenger
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .names
        .insert(psid.into(), "Mai\u{0}\u{85}".into());
    let r = p.m_say(psid, "/start u_794\u{0}", 3).await;
    crate::platform_fakes::find(&r, "Thành phố Tân An");
    let phone = crate::platform_fakes::find(&r, "loại điện thoại");
    let payload = phone.button("Android");
    let r = p.m_press(psid, &format!("{payload}\u{0}"), 1).await;
    assert!(r[0].text().contains("play.google.com"), "{}", r[0].text());
    let r = p.m_say(psid, "/status\u{0}", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"), "{}", r[0].text());
    let person = p.person(Platform::Messenger, psid).await.expect("person");
    assert_eq!(person.display_name, format!("Mai {psid}"));

    let user = "ZU-7004";
    p.zalo
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .names
        .insert(user.into(), "Hoa\u{0}\u{7}".into());
    let r = p.z_say(user, "/start u_794\u{0}", 3).await;
    crate::platform_fakes::find(&r, "Thành phố Tân An");
    let phone = crate::platform_fakes::find(&r, "loại điện thoại");
    let tap = phone.button("Android");
    let r = p.z_say(user, &format!("{tap}\u{0}"), 1).await;
    assert!(r[0].text().contains("play.google.com"), "{}", r[0].text());
    let r = p.z_say(user, "xin chào\u{0}", 1).await;
    assert!(!r[0].text().contains(APOLOGY_VI), "{}", r[0].text());
    let person = p.person(Platform::Zalo, user).await.expect("person");
    assert_eq!(person.display_name, "Hoa");
    p.app.finish().await;
}
