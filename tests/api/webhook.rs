//! Webhook mode: setWebhook with the secret, the secret checked, retried updates handled once.

use std::time::Duration;

use bluezone_bot::testkit::{FakeTelegram, TgUser};

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
        Some("https://bot.example.org/bluezone/webhooks/telegram")
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
    for r in futures::future::join_all(posts).await {
        assert_eq!(r.expect("post").status(), 200);
    }
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
