//! Member groups against the fake Bot API: linking (only leaders who administer the group),
//! the guide with its button, members counted once and thanked privately or in the group,
//! unlinking, the bot's removal and a group upgraded to a supergroup.

use crate::helpers::unit_code;
use bluezone_bot::domain::State;
use bluezone_bot::domain::{Locale, Platform};
use fake_platforms::{Call, TgUser};
use serde_json::json;

use crate::coverage::make_leader;
use crate::helpers::{Options, TestApp, WAIT, spawn_app_with};

const LEADER: i64 = 8001;
const GROUP: i64 = -4001;
const TITLE: &str = "Tổ dân phố 3";

/// Waits for `n` messages to `chat` sent since `mark`.
async fn group_messages(app: &TestApp, chat: i64, mark: usize, n: usize) -> Vec<Call> {
    app.fake
        .wait_for_since(mark, n, WAIT, |c| c.is_message_to(chat))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.drained().await;
    app.fake
        .calls_since(mark)
        .into_iter()
        .filter(|c| c.is_message_to(chat))
        .collect()
}

/// `user` presses a button with `data` on the bot's message `message_id` in a group; waits
/// for the press to be answered.
async fn press_in_group(app: &TestApp, user: &TgUser, chat: i64, message_id: i64, data: &str) {
    let mark = app.fake.mark();
    let cb = format!("g{}-{}", user.id, rand::random::<u32>());
    app.fake.inject(json!({"callback_query": {
        "id": cb,
        "from": user.json(),
        "chat_instance": "group",
        "data": data,
        "message": {"message_id": message_id, "date": 1_600_000_000,
                    "chat": {"id": chat, "type": "group", "title": TITLE}, "text": "…"}
    }}));
    app.fake
        .wait_for_since(mark, 1, WAIT, |c| {
            c.method == "answerCallbackQuery"
                && c.params.get("callback_query_id").and_then(|v| v.as_str()) == Some(cb.as_str())
        })
        .await
        .unwrap_or_else(|e| panic!("the press was not answered: {e}"));
    app.drained().await;
}

/// Links `GROUP` to the leader's unit; returns the guide message.
async fn link(app: &TestApp, leader: &TgUser, chat: i64) -> Call {
    let mark = app.fake.mark();
    app.fake.group_text(leader, chat, TITLE, "/linkgroup");
    let got = group_messages(app, chat, mark, 2).await;
    assert!(
        got[0]
            .text()
            .contains("đã được liên kết với Thành phố Tân An"),
        "{}",
        got[0].text()
    );
    got[1].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_linked_group_are_counted_once() {
    let app = spawn_app_with(Options::default()).await;
    make_leader(&app.store, LEADER, "794").await;
    let leader = TgUser::vi(LEADER);
    let guide = link(&app, &leader, GROUP).await;
    assert!(
        guide
            .text()
            .contains("Cùng cài Bluezone cho Thành phố Tân An"),
        "{}",
        guide.text()
    );
    let data = guide
        .button_data("Tôi đã cài")
        .expect("the installed button");
    let mid = guide.message_id().expect("a message id");
    // Only the leader's check of the group went to Telegram.
    assert!(app.fake.calls().iter().any(|c| c.method == "getChatMember"));

    // Someone who never started the bot is thanked in the group and counted.
    let stranger = TgUser::vi(8101);
    let mark = app.fake.mark();
    press_in_group(&app, &stranger, GROUP, mid, &data).await;
    let got = group_messages(&app, GROUP, mark, 1).await;
    assert!(
        got[0].text().contains("Cảm ơn Người 8101"),
        "{}",
        got[0].text()
    );
    let p = app.person(&stranger).await.expect("registered");
    assert_eq!(p.unit_code.as_deref(), Some("794"));
    assert!(p.confirmed_at.is_some());
    assert_eq!(
        (
            app.unit("794").await.members,
            app.unit("794").await.confirmed
        ),
        (1, 1)
    );

    // A second press counts nothing and says nothing in the group.
    let mark = app.fake.mark();
    press_in_group(&app, &stranger, GROUP, mid, &data).await;
    assert!(
        app.fake
            .calls_since(mark)
            .iter()
            .all(|c| !c.is_message_to(GROUP))
    );
    assert_eq!(app.unit("80").await.sub_confirmed, 1);

    // Someone who started the bot is thanked privately; their own unit is kept.
    let known = TgUser::en(8102);
    let id = known.id.to_string();
    let (p, _) = app
        .store
        .touch_person(Platform::Telegram, &id, &id, "Known", Locale::En)
        .await
        .expect("person");
    app.store
        .save_state(p.id, &State::Idle)
        .await
        .expect("started");
    app.store
        .set_person_unit(p.id, Some(&unit_code("27694")))
        .await
        .expect("unit");
    let mark = app.fake.mark();
    press_in_group(&app, &known, GROUP, mid, &data).await;
    let got = app.replies(&known, mark, 1).await;
    assert!(
        got[0].text().contains("You are counted for Phường 1"),
        "{}",
        got[0].text()
    );
    assert!(
        app.fake
            .calls_since(mark)
            .iter()
            .all(|c| !c.is_message_to(GROUP))
    );
    assert_eq!(app.unit("27694").await.confirmed, 1);
    assert_eq!(app.unit("794").await.sub_confirmed, 2);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_leaders_who_administer_the_group_link_it() {
    let app = spawn_app_with(Options::default()).await;
    make_leader(&app.store, LEADER, "794").await;
    let leader = TgUser::vi(LEADER);
    app.fake.set_member_status(GROUP, LEADER, "member");
    let mark = app.fake.mark();
    app.fake.group_text(&leader, GROUP, TITLE, "/linkgroup");
    let got = group_messages(&app, GROUP, mark, 1).await;
    assert!(
        got[0].text().contains("Chỉ quản trị viên"),
        "{}",
        got[0].text()
    );
    // A citizen who administers the group is not a leader.
    let citizen = TgUser::vi(8201);
    let mark = app.fake.mark();
    app.fake
        .group_text(&citizen, GROUP, TITLE, "/linkgroup 794");
    let got = group_messages(&app, GROUP, mark, 1).await;
    assert!(
        got[0].text().contains("Chỉ cán bộ phụ trách"),
        "{}",
        got[0].text()
    );
    // A leader cannot link a group to another branch.
    app.fake.set_member_status(GROUP, LEADER, "administrator");
    let mark = app.fake.mark();
    app.fake.group_text(&leader, GROUP, TITLE, "/linkgroup 795");
    let got = group_messages(&app, GROUP, mark, 1).await;
    assert!(
        got[0].text().contains("Chỉ cán bộ phụ trách"),
        "{}",
        got[0].text()
    );
    assert!(
        app.store
            .member_group(Platform::Telegram, &GROUP.to_string())
            .await
            .expect("read")
            .is_none()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_removal_and_supergroup_migration() {
    let app = spawn_app_with(Options::default()).await;
    make_leader(&app.store, LEADER, "794").await;
    let leader = TgUser::vi(LEADER);
    link(&app, &leader, GROUP).await;
    let group = |chat: i64| {
        let store = app.store.clone();
        async move {
            store
                .member_group(Platform::Telegram, &chat.to_string())
                .await
                .expect("read")
        }
    };
    // The group becomes a supergroup: the link follows.
    const SUPER: i64 = -1_004_001;
    app.fake.inject(json!({"message": {
        "message_id": 77, "date": 1_600_000_000,
        "chat": {"id": GROUP, "type": "group", "title": TITLE},
        "from": leader.json(), "migrate_to_chat_id": SUPER
    }}));
    let deadline = std::time::Instant::now() + WAIT;
    while group(SUPER).await.is_none() {
        assert!(std::time::Instant::now() < deadline, "the link never moved");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(group(GROUP).await.is_none());
    // /unlinkgroup there.
    let mark = app.fake.mark();
    app.fake.group_text(&leader, SUPER, TITLE, "/unlinkgroup");
    let got = group_messages(&app, SUPER, mark, 1).await;
    assert!(
        got[0]
            .text()
            .contains("không còn liên kết với Thành phố Tân An"),
        "{}",
        got[0].text()
    );
    assert!(group(SUPER).await.is_none());
    // Linked again, then the bot is removed: the link goes.
    link(&app, &leader, GROUP).await;
    app.fake.remove_from_group(&leader, GROUP, TITLE);
    let deadline = std::time::Instant::now() + WAIT;
    while group(GROUP).await.is_some() {
        assert!(std::time::Instant::now() < deadline, "the link stayed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.finish().await;
}
