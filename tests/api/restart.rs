//! A restart mid-conversation continues where the person was.

use bluezone_bot::domain::State;
use fake_platforms::TgUser;

use crate::helpers::{find, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_conversation_state() {
    let mut app = spawn_app().await;
    let hoa = TgUser::vi(2001);
    // A person with a unit asks to change it: the bot now waits for a search.
    let r = app.say(&hoa, "/start u_794", 3).await;
    let r = app
        .say(&hoa, "/help", 1)
        .await
        .into_iter()
        .chain(r)
        .collect::<Vec<_>>();
    let menu = find(&r, "/help");
    let r = app.press(&hoa, menu, "Chọn đơn vị", 1).await;
    assert!(r[0].text().contains("đơn vị nào"));
    // Without that state, text from a person with a unit gets the short help.
    assert_eq!(
        app.person(&hoa).await.expect("person").state,
        State::AwaitingUnitSearch
    );

    // The next text arrives while the bot is down; the new process handles it.
    app.stop_app().await.expect("a clean stop");
    let mark = app.fake.mark();
    app.fake.send_text(&hoa, "kien tuong");
    app.start_again().await;
    let r = app.replies(&hoa, mark, 1).await;
    assert!(
        r[0].button_data("Kiến Tường").is_some(),
        "a search, not the short help: {} {:?}",
        r[0].text(),
        r[0].button_labels()
    );
    // A second restart: nothing is handled twice, nothing is lost.
    app.restart().await;
    let r = app.say(&hoa, "/status", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"));
    // No update was handled twice across the restarts.
    let c = app.fake.counters();
    assert_eq!(c.duplicates, 0, "{c:?}");
    app.finish().await;
}
