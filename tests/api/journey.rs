//! The citizen's journey over the fake Telegram, step by step, in both languages.

use bluezone_bot::clock::ManualClock;
use fake_platforms::TgUser;

use crate::helpers::{
    Options, WAIT, find, last_with_buttons, spawn_app, spawn_app_with, unit_code,
};

const PLAY: &str = "https://play.google.com/store/apps/details?id=com.mic.bluezone";
const APP_STORE: &str = "https://apps.apple.com/vn/app/bluezone/id1508062685";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_link_leads_to_a_confirmed_install_counted_once() {
    let app = spawn_app().await;
    let an = TgUser::vi(1001);

    let r = app.say(&an, "/start u_794", 3).await;
    find(&r, "Xin chào");
    find(&r, "Thành phố Tân An");
    let phone = find(&r, "loại điện thoại");

    let r = app.press(&an, phone, "Android", 1).await;
    let guide = &r[0];
    assert!(guide.text().contains(PLAY), "{}", guide.text());
    assert!(guide.text().contains("giả mạo"), "lookalike warning");
    assert!(guide.button_urls().contains(&PLAY.to_string()));
    // The other phone's guide has the App Store link.
    let r = app.press(&an, guide, "Loại điện thoại khác", 1).await;
    assert!(r[0].text().contains(APP_STORE));
    assert!(r[0].button_urls().contains(&APP_STORE.to_string()));

    let r = app.press(&an, guide, "Tôi đã cài", 1).await;
    assert!(r[0].text().contains("Cảm ơn"), "{}", r[0].text());
    assert!(r[0].text().contains("t.me/"), "share link: {}", r[0].text());
    assert!(
        r[0].button_urls().iter().any(|u| u.starts_with(
            "https://t.me/share/url?url=https%3A%2F%2Ft.me%2FBluezoneTestBot%3Fstart%3Dr_"
        )),
        "Telegram's share dialog with the bot's own link: {:?}",
        r[0].button_urls()
    );
    let r = app.press(&an, guide, "Tôi đã cài", 1).await;
    assert!(r[0].text().contains("chỉ tính một lần"), "{}", r[0].text());
    app.say(&an, "/installed", 1).await;

    let tan_an = app.unit("794").await;
    assert_eq!((tan_an.members, tan_an.confirmed), (1, 1));
    let long_an = app.unit("80").await;
    assert_eq!((long_an.sub_members, long_an.sub_confirmed), (1, 1));
    let p = app.person(&an).await.expect("the person");
    assert!(p.confirmed_at.is_some());
    assert_eq!(p.phone_kind.as_deref(), Some("ios"));

    let r = app.say(&an, "/status", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"));
    assert!(r[0].text().contains("Đã cài"));

    // English from now on.
    let r = app.say(&an, "/language", 1).await;
    let r = app.press(&an, &r[0], "English", 1).await;
    assert!(r[0].text().contains("English"), "{}", r[0].text());
    let r = app.say(&an, "/status", 1).await;
    assert!(r[0].text().contains("Your status"), "{}", r[0].text());
    assert!(r[0].text().contains("Thành phố Tân An"));

    // /stop, then /start opts back in.
    let r = app.say(&an, "/stop", 1).await;
    assert!(r[0].text().contains("Reminders are off"));
    assert_eq!(app.person(&an).await.map(|p| p.opted_out), Some(true));
    // A /start the same day is the same visit: no "welcome back".
    let r = app.say(&an, "/start", 3).await;
    find(&r, "Reminders are back on");
    find(&r, "Hello! I am");
    assert!(r.iter().all(|c| !c.text().contains("Welcome back")));
    assert_eq!(app.person(&an).await.map(|p| p.opted_out), Some(false));
    // Counters did not move.
    assert_eq!(app.unit("794").await.confirmed, 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ignores_diacritics_and_case() {
    let app = spawn_app().await;
    let binh = TgUser::vi(1002);
    let r = app.say(&binh, "/start", 2).await;
    find(&r, "đơn vị nào");
    let mut found = Vec::new();
    for q in ["tan an", "TÂN AN", "Tân An"] {
        let r = app.say(&binh, q, 1).await;
        let mut data: Vec<String> = r[0]
            .buttons()
            .into_iter()
            .filter_map(|b| b.1)
            .filter(|d| d.starts_with("unit:"))
            .collect();
        data.sort();
        assert!(data.contains(&"unit:794".to_string()), "{q}: {data:?}");
        found.push(data);
    }
    assert_eq!(found[0], found[1]);
    assert_eq!(found[1], found[2]);
    let r = app.say(&binh, "zzzz không có", 1).await;
    assert!(r[0].text().contains("Không tìm thấy"));
    let r = app.say(&binh, "tan an", 1).await;
    let r = app.press_data(&binh, &r[0], "unit:794", 2).await;
    find(&r, "Thành phố Tân An");
    find(&r, "loại điện thoại");
    assert_eq!(
        app.person(&binh).await.and_then(|p| p.unit_code),
        Some(unit_code("794"))
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_can_be_walked_with_buttons() {
    let app = spawn_app().await;
    let chi = TgUser::vi(1003);
    let r = app.say(&chi, "/start", 2).await;
    let r = app
        .press(&chi, last_with_buttons(&r), "Chọn từ danh sách", 1)
        .await;
    let r = app.press(&chi, &r[0], "Tỉnh Long An", 1).await;
    assert!(r[0].text().contains("Tỉnh Long An"), "{}", r[0].text());
    // Long An has 15 districts: two pages.
    let next = r[0].button_data("Trang sau").expect("a next page");
    let r2 = app.press_data(&chi, &r[0], &next, 1).await;
    assert!(r2[0].button_data("Trang trước").is_some());
    // Names sort without diacritics: "Thành phố Tân An" is after the 13 "Huyện".
    assert!(r[0].button_data("Thành phố Tân An").is_none());
    let r = app.press(&chi, &r2[0], "Thành phố Tân An", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"));
    let r = app.press(&chi, &r[0], "Chọn Thành phố Tân An", 2).await;
    find(&r, "Bạn đã được ghi nhận");
    assert_eq!(app.unit("794").await.members, 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_speakers_get_english() {
    let app = spawn_app().await;
    let dan = TgUser::en(1004);
    let r = app.say(&dan, "/start", 2).await;
    find(&r, "Hello!");
    let r = app.say(&dan, "Tan An", 1).await;
    let r = app.press_data(&dan, &r[0], "unit:794", 2).await;
    let phone = find(&r, "Which kind of phone");
    let r = app.press(&dan, phone, "iPhone", 1).await;
    assert!(r[0].text().contains(APP_STORE));
    assert!(r[0].text().contains("fake apps"));
    let r = app.press(&dan, &r[0], "I have installed", 1).await;
    assert!(r[0].text().contains("Thank you"));
    assert_eq!(app.unit("794").await.confirmed, 1);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_polite_answers() {
    let app = spawn_app().await;
    let em = TgUser::vi(1005);
    app.say(&em, "/start u_794", 3).await;

    let r = app.say(&em, "/frobnicate", 1).await;
    assert!(r[0].text().contains("/help"));
    assert!(!r[0].buttons().is_empty(), "main buttons");

    let mark = app.fake.mark();
    app.fake.send_sticker(&em);
    let r = app.replies(&em, mark, 1).await;
    assert!(r[0].text().contains("/help"));

    let r = app.say(&em, &"a".repeat(5000), 1).await;
    assert!(r[0].text().contains("quá dài"), "{}", r[0].text());

    // Forged and stale button data: a polite message and an answered press, no panic.
    let long = "x".repeat(64);
    for (forged, n) in [
        ("drop table", 1),
        ("tree:nope:1", 1),
        (long.as_str(), 1),
        ("unit:99999999", 2),
    ] {
        let r = app.press_data(&em, &r[0], forged, n).await;
        assert!(
            r[0].text().contains("không hợp lệ") || r[0].text().contains("không còn"),
            "{forged}: {}",
            r[0].text()
        );
    }
    let answers = app
        .fake
        .calls_matching(|c| c.method == "answerCallbackQuery");
    assert_eq!(answers.len(), 4);
    // The unknown unit's answer asks to type a name: the next text is a search.
    let r = app.say(&em, "kien tuong", 1).await;
    assert!(
        r[0].button_data("Kiến Tường").is_some(),
        "a search: {}",
        r[0].text()
    );

    // Malformed and unknown deep links: said so, and the unit search is offered.
    let fay = TgUser::vi(1006);
    let long = "u".repeat(65);
    for (payload, n) in [
        ("$$$", 2),
        ("u_", 2),
        ("zz_top", 2),
        (long.as_str(), 2),
        ("u_99999", 3),
    ] {
        let r = app.say(&fay, &format!("/start {payload}"), n).await;
        find(&r, "không hợp lệ");
        find(&r, "đơn vị nào");
    }
    // ... and the next text is a search.
    let r = app.say(&fay, "tan an", 1).await;
    assert!(r[0].button_data("Thành phố Tân An").is_some());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_menu_and_blocking() {
    let app = spawn_app().await;
    let commands = app
        .fake
        .wait_for(3, WAIT, |c| c.method == "setMyCommands" && c.ok())
        .await
        .expect("setMyCommands");
    let langs: Vec<Option<String>> = commands
        .iter()
        .map(|c| {
            c.params
                .get("language_code")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .collect();
    assert!(langs.contains(&Some("vi".into())), "{langs:?}");
    assert!(langs.contains(&Some("en".into())), "{langs:?}");
    let en = commands
        .iter()
        .find(|c| c.params.get("language_code").and_then(|v| v.as_str()) == Some("en"))
        .expect("en menu");
    let names: Vec<&str> = en.params["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for want in [
        "start",
        "guide",
        "installed",
        "status",
        "language",
        "help",
        "stop",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }

    let gia = TgUser::vi(1007);
    app.say(&gia, "/start", 2).await;
    app.fake.block(&gia);
    let p = app.wait_person(&gia, |p| p.unreachable).await;
    assert!(p.unreachable);
    app.fake.unblock(&gia);
    app.wait_person(&gia, |p| !p.unreachable).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_get_a_hello_and_other_bots_commands_are_ignored() {
    let app = spawn_app().await;
    let hai = TgUser::vi(1008);
    let group = -1_000_123;
    app.fake.add_to_group(&hai, group, "Tổ dân phố 3");
    let hello = app
        .fake
        .wait_for(1, WAIT, |c| c.is_message_to(group))
        .await
        .expect("a hello in the group");
    assert!(hello[0].text().contains("Xin chào cả nhóm"));
    let mark = app.fake.mark();
    app.fake
        .group_text(&hai, group, "Tổ dân phố 3", "/help@SomeOtherBot");
    app.fake
        .group_text(&hai, group, "Tổ dân phố 3", "chào mọi người");
    app.fake
        .group_text(&hai, group, "Tổ dân phố 3", "/help@BluezoneTestBot");
    let r = app
        .fake
        .wait_for_since(mark, 1, WAIT, |c| c.is_message_to(group))
        .await
        .expect("an answer to our /help");
    assert!(r[0].text().contains("Xin chào cả nhóm"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.fake.messages_to(group).len(),
        2,
        "only our own command is answered"
    );
    // Nothing went to the person privately.
    assert!(app.fake.messages_to(hai.id).is_empty());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_words_small_talk_and_skip_for_now() {
    const ADMIN: i64 = 1290;
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let an = TgUser::vi(1201);
    // The first words of someone new start the journey exactly like /start.
    let r = app.say(&an, "xin chào", 2).await;
    find(&r, "Xin chào! Mình là trợ lý");
    find(&r, "đơn vị nào");
    assert_eq!(app.person(&an).await.map(|p| p.started), Some(true));
    // Small talk while the bot waits for the unit: a short answer and the question again.
    for (text, answer) in [("alo", "Xin chào bạn"), ("cảm ơn", "Không có gì")] {
        let r = app.say(&an, text, 2).await;
        find(&r, answer);
        find(&r, "đơn vị nào");
        assert!(
            r.iter().all(|c| !c.text().contains("Không tìm thấy")),
            "{text}"
        );
    }
    // "I don't know": skip for now, and the guide is not blocked.
    let r = app.say(&an, "mình không biết", 1).await;
    let r = app.press(&an, &r[0], "Để sau", 2).await;
    find(&r, "hỏi lại đơn vị");
    let phone = find(&r, "loại điện thoại");
    let r = app.press(&an, phone, "Android", 1).await;
    let r = app.press(&an, &r[0], "Tôi đã cài", 2).await;
    find(&r, "Cảm ơn");
    find(&r, "Để được tính cho đơn vị");
    let p = app.person(&an).await.expect("the person");
    assert!(p.confirmed_at.is_some() && p.unit_code.is_none());
    // The confirmation counts under "no unit" until a unit is chosen.
    let admin = TgUser::vi(ADMIN);
    let r = app.say(&admin, "/coverage", 1).await;
    assert!(
        r[0].text()
            .contains("Chưa thuộc đơn vị nào: 1 người, trong đó 1 người đã xác nhận"),
        "{}",
        r[0].text()
    );
    assert_eq!(app.unit("80").await.sub_confirmed, 0);
    // A poster's link seconds later: no "welcome back"; the confirmation moves to the unit.
    let r = app.say(&an, "/start u_803", 3).await;
    assert!(r.iter().all(|c| !c.text().contains("quay lại")));
    find(&r, "Huyện Bến Lức");
    let ben_luc = app.unit("803").await;
    assert_eq!((ben_luc.members, ben_luc.confirmed), (1, 1));
    // After two days away, "welcome back".
    clock.advance_ms(2 * 24 * 3600 * 1000);
    let r = app.say(&an, "/start", 2).await;
    find(&r, "Chào mừng bạn quay lại");
    app.finish().await;
}
