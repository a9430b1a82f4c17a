//! Bot API failures reach the right outcome: a blocked person is marked unreachable, a 429 or
//! a dropped connection is retried and the message still arrives once.

use std::time::{Duration, Instant};

use fake_platforms::{Failure, TgUser};

use crate::helpers::{WAIT, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_chat_marks_the_person_unreachable() {
    let app = spawn_app().await;
    let kim = TgUser::vi(4001);
    app.fake.fail_chat(kim.id, Failure::blocked());
    app.fake.send_command(&kim, "/start");
    app.fake
        .wait_for(2, WAIT, |c| c.chat_id == Some(kim.id) && !c.ok())
        .await
        .expect("both /start replies refused");
    let p = app.wait_person(&kim, |p| p.unreachable).await;
    assert!(p.unreachable);
    // Let the worker finish recording the second refusal before the person writes again (a
    // refusal recorded after a newer message would mark them unreachable again).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Writing again makes them reachable, and replies go out.
    app.fake.heal_chat(kim.id);
    let r = app.say(&kim, "/status", 1).await;
    assert!(r[0].text().contains("Tình trạng"));
    assert_eq!(app.person(&kim).await.map(|p| p.unreachable), Some(false));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_network_errors_are_retried_once_each() {
    let app = spawn_app().await;
    let lam = TgUser::vi(4002);
    app.fake.fail_chat_times(lam.id, Failure::retry_after(1), 1);
    let started = Instant::now();
    let r = app.say(&lam, "/help", 1).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for retry_after"
    );
    assert!(r[0].text().contains("/stop"));

    app.fake.fail_chat_times(lam.id, Failure::DropConnection, 1);
    let r = app.say(&lam, "/status", 1).await;
    assert!(r[0].text().contains("Tình trạng"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = app.fake.counters();
    assert_eq!(c.duplicates, 0, "{c:?}");
    assert_eq!(c.too_many_requests, 1);
    app.finish().await;
}
