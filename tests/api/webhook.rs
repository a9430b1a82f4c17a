//! Webhook mode: setWebhook with the secret, the secret checked, retried updates handled once.

use std::time::Duration;

use fake_platforms::{FakeTelegram, TgUser};

use crate::helpers::{Options, WAIT, spawn_app_with};

const SECRET: &str = "s3cret-Token_42";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_updates_need_the_secret_and_count_once() {
    let app = spawn_app_with(Options {
        webhook: Some((
            "https://bot.example.org/bluezone".into(),
            Some(SECRET.into()),
        )),
        ..Options::default()
    })
    .await;
    let set = app
        .fake
        .wait_for(1, WAIT, |c| c.method == "setWebhook")
        .await
        .expect("setWebhook");
    assert_eq!(
        set[0].params["url"].as_str(),
        Some("https://bot.example.org/bluezone/webhooks/telegram/telegram")
    );
    assert_eq!(set[0].params["secret_token"].as_str(), Some(SECRET));
    let base = app.http_base().await;
    assert!(
        app.fake
            .calls_matching(|c| c.method == "getUpdates")
            .is_empty()
    );
    assert!(
        app.fake
            .calls_matching(|c| c.method == "deleteWebhook")
            .is_empty()
    );

    let client = reqwest::Client::new();
    // The address before accounts files, `/webhooks/telegram`, still serves the single bot.
    let url = format!("{base}/webhooks/telegram");
    let user = TgUser::vi(3001);
    let update = app.fake.text_update(&user, "/start");
    let post = |secret: Option<&str>| {
        let mut req = client.post(&url).json(&update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send()
    };
    assert_eq!(post(None).await.expect("post").status(), 401);
    assert_eq!(post(Some("wrong")).await.expect("post").status(), 401);
    assert_eq!(post(Some(&SECRET[..5])).await.expect("post").status(), 401);
    assert!(app.person(&user).await.is_none(), "nothing was processed");

    assert_eq!(post(Some(SECRET)).await.expect("post").status(), 200);
    app.fake
        .wait_for(2, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the welcome");
    // Telegram retries: the same update id again is answered 200 and not handled again.
    assert_eq!(post(Some(SECRET)).await.expect("post").status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.messages_to(user.id).len(), 2);

    // Retries that overlap (Telegram gave up waiting while the first was still running).
    let other = TgUser::vi(3002);
    let update = app.fake.text_update(&other, "/start");
    let posts = (0..4).map(|_| {
        client
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .json(&update)
            .send()
    });
    // The one that handles it answers 200; one still in hand answers 503 (retry later)
    // rather than 200, so an attempt that dies cannot take the update with it.
    let statuses: Vec<u16> = futures::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.expect("post").status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    app.fake
        .wait_for(2, WAIT, |c| c.is_message_to(other.id))
        .await
        .expect("the welcome");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.messages_to(other.id).len(), 2, "handled once");

    // Garbage is refused without a crash.
    let bad = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 400);
    let _ = FakeTelegram::USERNAME;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_secret_the_webhook_is_still_closed() {
    let app = spawn_app_with(Options {
        webhook: Some(("https://bot.example.org".into(), None)),
        ..Options::default()
    })
    .await;
    let set = app
        .fake
        .wait_for(1, WAIT, |c| c.method == "setWebhook")
        .await
        .expect("setWebhook");
    let derived = bluezone_bot::platform::telegram::derived_webhook_secret(FakeTelegram::TOKEN);
    assert_eq!(derived.len(), 64);
    assert_eq!(
        set[0].params["secret_token"].as_str(),
        Some(derived.as_str())
    );
    let url = format!("{}/webhooks/telegram", app.http_base().await);
    let client = reqwest::Client::new();
    let admin_like = TgUser::vi(3101);
    let forged = app.fake.text_update(&admin_like, "/start");
    let r = client.post(&url).json(&forged).send().await.expect("post");
    assert_eq!(r.status(), 401, "a forged update is refused");
    assert!(app.person(&admin_like).await.is_none());

    // An attempt that claimed an update and died: a retry within the lease is asked to come
    // back later; once the lease is over, the retry handles it.
    let user = TgUser::vi(3102);
    let update = app.fake.text_update(&user, "/start");
    let claim = format!("telegram.webhook.{}", update["update_id"]);
    let now = app.store.now();
    app.store
        .kv_insert_new(&claim, &now.to_string())
        .await
        .expect("a claim");
    let post = || {
        client
            .post(&url)
            .header("X-Telegram-Bot-Api-Secret-Token", &derived)
            .json(&update)
            .send()
    };
    assert_eq!(post().await.expect("post").status(), 503);
    assert!(app.person(&user).await.is_none());
    app.store
        .kv_set(&claim, &(now - 60_000).to_string())
        .await
        .expect("an old claim");
    assert_eq!(post().await.expect("post").status(), 200);
    app.fake
        .wait_for(2, WAIT, |c| c.is_message_to(user.id))
        .await
        .expect("the welcome");
    assert_eq!(post().await.expect("post").status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.messages_to(user.id).len(), 2, "handled once");
    app.finish().await;
}
