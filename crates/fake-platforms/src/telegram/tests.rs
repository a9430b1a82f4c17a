//! The fake against teloxide: every answer parses as the real Bot API's would, injected
//! updates arrive, failures and limits look like Telegram's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use teloxide::prelude::*;
use teloxide::types::{ChatMemberKind, InputFile, Me, Update};
use teloxide::{ApiError, RequestError};

use super::{Failure, FakeTelegram, TelegramLimits, TgUser, sequence_of};

fn bot(fake: &FakeTelegram) -> Bot {
    Bot::new(FakeTelegram::TOKEN).set_api_url(url::Url::parse(&fake.api_url()).expect("url"))
}

#[tokio::test]
async fn teloxide_understands_every_answer() {
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    let me: Me = bot.get_me().await.expect("getMe");
    assert_eq!(me.username(), FakeTelegram::USERNAME);
    let m = bot
        .send_message(ChatId(42), "xin chào")
        .reply_markup(teloxide::types::InlineKeyboardMarkup::new(vec![vec![
            teloxide::types::InlineKeyboardButton::callback("Có", "yes"),
        ]]))
        .await
        .expect("sendMessage");
    assert_eq!(m.text(), Some("xin chào"));
    let e = bot
        .edit_message_text(ChatId(42), m.id, "sửa")
        .await
        .expect("edit");
    assert_eq!(e.id, m.id);
    let p = bot
        .send_photo(
            ChatId(-5),
            InputFile::memory(vec![1u8; 300]).file_name("chart.png"),
        )
        .caption("biểu đồ")
        .await
        .expect("photo");
    assert!(p.photo().is_some());
    let d = bot
        .send_document(
            ChatId(42),
            InputFile::memory(vec![2u8; 10]).file_name("r.xlsx"),
        )
        .await
        .expect("document");
    assert!(d.document().is_some());
    bot.answer_callback_query(teloxide::types::CallbackQueryId("cq1".into()))
        .await
        .expect("answer");
    bot.set_my_commands(vec![teloxide::types::BotCommand::new("start", "Bắt đầu")])
        .await
        .expect("commands");
    bot.delete_webhook().await.expect("deleteWebhook");
    let admin = bot
        .get_chat_member(ChatId(-5), UserId(9))
        .await
        .expect("member");
    assert!(matches!(admin.kind, ChatMemberKind::Administrator(_)));
    fake.set_member_status(-5, 9, "member");
    let member = bot
        .get_chat_member(ChatId(-5), UserId(9))
        .await
        .expect("member");
    assert!(matches!(member.kind, ChatMemberKind::Member(_)));

    let calls = fake.calls();
    let photo = calls
        .iter()
        .find(|c| c.method == "sendPhoto")
        .expect("photo");
    assert_eq!(photo.chat_id, Some(-5));
    assert_eq!(photo.text(), "biểu đồ");
    assert_eq!(
        photo.upload.as_ref().map(|u| (u.file_name.clone(), u.size)),
        Some((Some("chart.png".into()), 300))
    );
    let first = calls
        .iter()
        .find(|c| c.method == "sendMessage")
        .expect("msg");
    assert_eq!(first.button_data("có"), Some("yes".into()));
    let c = fake.counters();
    assert_eq!(c.by_method.get("sendMessage"), Some(&1));
    assert_eq!(c.messages_by_chat.get(&42), Some(&2));
    assert_eq!(fake.messages_to(42).len(), 3);
}

#[tokio::test]
async fn injected_updates_parse_and_long_poll_returns_early() {
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    let user = TgUser::en(7);
    fake.send_command(&user, "/start u_80");
    fake.send_text(&user, "Tân An");
    fake.send_sticker(&user);
    fake.press_button(&user, 3, "data");
    fake.block(&user);
    fake.unblock(&user);
    fake.group_text(&user, -100, "Tổ 1", "hello");
    fake.add_to_group(&user, -100, "Tổ 1");
    fake.remove_from_group(&user, -100, "Tổ 1");
    let updates: Vec<Update> = bot.get_updates().await.expect("updates");
    assert_eq!(updates.len(), 9);
    for u in &updates {
        assert!(
            !matches!(u.kind, teloxide::types::UpdateKind::Error(_)),
            "{u:?}"
        );
    }
    let last = updates.last().map(|u| u.id.0).unwrap_or_default();
    // Confirmed updates are gone; an empty poll is held no longer than a second.
    let started = Instant::now();
    let none = bot
        .get_updates()
        .offset(last as i32 + 1)
        .timeout(25)
        .await
        .expect("poll");
    assert!(none.is_empty());
    assert!(started.elapsed() < Duration::from_millis(1500));
    // An update injected during a poll ends it at once.
    let fake = Arc::new(fake);
    let f = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        f.send_text(&TgUser::vi(8), "x");
    });
    let started = Instant::now();
    let got = bot
        .get_updates()
        .offset(last as i32 + 1)
        .timeout(25)
        .await
        .expect("poll");
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn failures_look_like_telegram() {
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    fake.fail_chat(1, Failure::blocked());
    fake.fail_chat(2, Failure::chat_not_found());
    fake.fail_chat_times(3, Failure::retry_after(7), 1);
    fake.fail_chat_times(4, Failure::DropConnection, 1);
    let err = |chat: i64| {
        let bot = bot.clone();
        async move { bot.send_message(ChatId(chat), "x").await.err() }
    };
    assert!(matches!(
        err(1).await,
        Some(RequestError::Api(ApiError::BotBlocked))
    ));
    assert!(matches!(
        err(2).await,
        Some(RequestError::Api(ApiError::ChatNotFound))
    ));
    match err(3).await {
        Some(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 7),
        other => panic!("expected retry after 7 s, got {other:?}"),
    }
    assert!(err(3).await.is_none(), "one failure only");
    assert!(matches!(err(4).await, Some(RequestError::Network(_))));
    assert!(err(4).await.is_none());
    fake.heal_chat(1);
    assert!(err(1).await.is_none());
    fake.fail_method("sendMessage", Failure::migrated(-1001), Some(1));
    match err(5).await {
        Some(RequestError::MigrateToChatId(to)) => assert_eq!(to.0, -1001),
        other => panic!("expected a migration, got {other:?}"),
    }
    let c = fake.counters();
    assert_eq!(c.too_many_requests, 1);
    assert_eq!(c.too_many_by_chat.get(&3), Some(&1));
}

#[tokio::test]
async fn limits_answer_429_with_retry_after() {
    let fake = FakeTelegram::start_with(Some(TelegramLimits {
        global_per_sec: Some(3),
        private_per_sec: Some(1),
        group_per_min: Some(2),
        paid_per_sec: None,
    }))
    .await
    .expect("start");
    let bot = bot(&fake);
    let send = |chat: i64| {
        let bot = bot.clone();
        async move { bot.send_message(ChatId(chat), "x").await.err() }
    };
    assert!(send(1).await.is_none());
    assert!(matches!(
        send(1).await,
        Some(teloxide::RequestError::RetryAfter(_))
    ));
    assert!(send(-9).await.is_none());
    // One message per second in a group too.
    match send(-9).await {
        Some(teloxide::RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected the group's per-second 429, got {other:?}"),
    }
    assert!(send(2).await.is_none());
    // The global limit (3/s) is reached.
    match send(3).await {
        Some(teloxide::RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected 429, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert!(send(-9).await.is_none());
    tokio::time::sleep(Duration::from_millis(1050)).await;
    // Two in a minute is this group's limit.
    match send(-9).await {
        Some(teloxide::RequestError::RetryAfter(s)) => assert!(s.seconds() >= 57),
        other => panic!("expected the group's per-minute 429, got {other:?}"),
    }
    let c = fake.counters();
    assert_eq!(c.too_many_requests, 4);
    assert_eq!(c.too_many_by_chat.get(&-9), Some(&2));
    assert_eq!(c.messages_by_chat.get(&-9), Some(&2));
    assert_eq!(c.duplicates, 1);
}

#[test]
fn sequences_are_read_from_the_end_of_texts() {
    assert_eq!(sequence_of("group post 7"), Some(7));
    assert_eq!(sequence_of("part 12"), Some(12));
    assert_eq!(sequence_of("hello"), None);
    assert_eq!(sequence_of(""), None);
}

#[tokio::test]
async fn out_of_order_arrivals_are_counted_per_chat() {
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    for text in ["part 1", "part 3", "part 2", "part 4"] {
        bot.send_message(ChatId(-5), text).await.expect("sent");
    }
    for text in ["part 2", "part 1"] {
        bot.send_message(ChatId(6), text).await.expect("sent");
    }
    let c = fake.counters();
    assert_eq!(c.out_of_order, 2);
    assert_eq!(c.out_of_order_by_chat.get(&-5), Some(&1));
    assert_eq!(c.out_of_order_by_chat.get(&6), Some(&1));
}

#[tokio::test]
async fn answers_to_old_button_presses_are_refused() {
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    let user = TgUser::vi(77);
    let fresh = fake.press_button(&user, 1, "x");
    let old = fake.press_button(&user, 1, "y");
    fake.age_callback(&old, Duration::from_secs(16));
    bot.answer_callback_query(teloxide::types::CallbackQueryId(fresh))
        .await
        .expect("a fresh press is answered");
    let err = bot
        .answer_callback_query(teloxide::types::CallbackQueryId(old))
        .await
        .expect_err("an old press is refused");
    assert!(err.to_string().contains("query is too old"), "{err}");
}

#[tokio::test]
async fn paid_broadcasts_go_faster_and_cost_stars_above_the_free_rate() {
    use teloxide::payloads::SendMessageSetters;
    let fake = FakeTelegram::start_with(Some(TelegramLimits {
        global_per_sec: Some(3),
        private_per_sec: Some(1),
        group_per_min: Some(2),
        paid_per_sec: Some(10),
    }))
    .await
    .expect("start");
    let bot = bot(&fake);
    let send = |chat: i64, paid: bool| {
        let bot = bot.clone();
        async move {
            bot.send_message(ChatId(chat), "x")
                .allow_paid_broadcast(paid)
                .await
                .err()
        }
    };
    // Three ordinary messages fill the free rate; a fourth is refused.
    for chat in 1..=3 {
        assert!(send(chat, false).await.is_none());
    }
    assert!(matches!(
        send(4, false).await,
        Some(teloxide::RequestError::RetryAfter(_))
    ));
    // Paid messages go on up to 10 a second over all messages: 7 more, each billed (3 or
    // more went in the second before it).
    for chat in 10..17 {
        assert!(send(chat, true).await.is_none(), "paid {chat}");
    }
    assert!(matches!(
        send(17, true).await,
        Some(teloxide::RequestError::RetryAfter(_))
    ));
    // The chat's own rule still holds for a paid message.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert!(send(-5, true).await.is_none());
    assert!(matches!(
        send(-5, true).await,
        Some(teloxide::RequestError::RetryAfter(_))
    ));
    // A paid message with fewer than 3 before it in the second is free; one that fails
    // (blocked) is not billed.
    fake.fail_chat(20, Failure::blocked());
    assert!(send(20, true).await.is_some());
    let (sent, tenths) = fake.paid();
    assert_eq!(sent, 8);
    assert_eq!(tenths, 7);
    let flagged = fake
        .calls()
        .iter()
        .filter(|c| c.params.get("allow_paid_broadcast") == Some(&serde_json::json!(true)))
        .count();
    assert_eq!(flagged, 11);
}

#[tokio::test]
async fn the_webhook_set_is_the_one_reported_until_deleted() {
    use teloxide::payloads::SetWebhookSetters;
    let fake = FakeTelegram::start().await.expect("start");
    let bot = bot(&fake);
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url, None, "no webhook at first");
    let url = url::Url::parse("https://bot.example.org/webhooks/telegram").expect("url");
    bot.set_webhook(url.clone())
        .allowed_updates(vec![teloxide::types::AllowedUpdate::Message])
        .secret_token("s3cret".to_string())
        .await
        .expect("setWebhook");
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url, Some(url.clone()));
    assert_eq!(info.pending_update_count, 0);
    assert_eq!(fake.webhook_url().as_deref(), Some(url.as_str()));
    bot.delete_webhook().await.expect("deleteWebhook");
    assert_eq!(bot.get_webhook_info().await.expect("info").url, None);
    assert_eq!(fake.webhook_url(), None);
}
