//! Reminders inside the free windows: on Messenger (24 hours after the person's last
//! message) and Zalo (48 hours free) every reminder is placed inside the free window and the
//! daytime window and reaches the fake platform; a tap on "remind me tomorrow" or "I need
//! help" opens a new window and plans the next reminder inside it; Telegram keeps 1, 3 and 7
//! days. The app runs with its real scheduler and senders on an injected clock. Every test
//! runs on SQLite or PostgreSQL, as the harness picks.

use bluezone_bot::clock::{Clock, ManualClock};
use bluezone_bot::domain::{Locale, Platform, State};
use fake_platforms::Sent;

use crate::helpers::{Options, WAIT};
use crate::platform_fakes::{Platforms, spawn_platforms};

const H: i64 = 3_600_000;
const M: i64 = 60_000;

/// 2020-06-01 local time (UTC+7) plus `day` days, at `h:m`, in ms.
fn local_ms(day: i64, h: i64, m: i64) -> i64 {
    1_590_944_400_000 + day * 24 * H + (h * 60 + m) * M
}

/// Minutes after local midnight of `t`.
fn minute_of(t: i64) -> i64 {
    (t - 1_590_944_400_000).rem_euclid(24 * H) / M
}

async fn app(clock: &ManualClock) -> Platforms {
    spawn_platforms(Options {
        clock: Some(clock.clone()),
        env: vec![("BLUEZONE_REMINDER_MAX".into(), "3".into())],
        ..Options::default()
    })
    .await
}

/// Waits until the scheduler has planned `person`'s next reminder after `after`; (due, until).
async fn planned(p: &Platforms, person: i64, after: i64) -> (i64, i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((due, until)) = p.app.store.reminder_plan(person).await.expect("plan")
            && due > after
        {
            return (due, until);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reminder planned for {person} after {after}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts that `due` is inside the daytime window (08:00–20:00 local) and before `close`.
fn inside_windows(due: i64, close: i64) {
    let minute = minute_of(due);
    assert!(
        (8 * 60..20 * 60).contains(&minute),
        "due at {:02}:{:02} local, outside the daytime window",
        minute / 60,
        minute % 60
    );
    assert!(
        due < close,
        "due {due} after the free window closes at {close}"
    );
}

fn is_reminder(s: &Sent) -> bool {
    s.text().contains("Bạn đã cài")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_reminders_arrive_inside_the_24_hour_window_and_a_tap_plans_the_next() {
    let clock = ManualClock::at(local_ms(0, 7, 0));
    let p = app(&clock).await;
    let psid = "PSID-R1";
    p.m_say(psid, "/start", 2).await;
    let person = p.person(Platform::Messenger, psid).await.expect("person");
    let last = person.last_inbound_at;

    // 20 hours later is 03:00 and the morning comes after the window closes: the reminder
    // goes late on the first day, inside both windows (not 1 day later, when it would be
    // refused).
    let (due, until) = planned(&p, person.id, last).await;
    inside_windows(due, last + 24 * H);
    assert_eq!(due, local_ms(0, 18, 59), "late on the first day");
    assert!(until <= last + 24 * H);
    let since = p.messenger.count_to(psid);
    clock.set_ms(due);
    let got = p.messenger.wait_to(psid, since, 1).await;
    assert!(is_reminder(&got[0]), "{}", got[0].text());
    assert!(
        clock.now_ms() < last + 24 * H,
        "sent inside the Messenger window"
    );

    // "Remind me tomorrow": the tap opens a new window and plans the next reminder inside it.
    let tap_at = clock.now_ms() + 5 * M;
    clock.set_ms(tap_at);
    let r = p
        .m_press(psid, &got[0].button("Nhắc tôi ngày mai"), 1)
        .await;
    assert!(r[0].text().contains("mai mình sẽ nhắc"), "{}", r[0].text());
    let (due, _) = planned(&p, person.id, tap_at).await;
    inside_windows(due, tap_at + 24 * H);
    assert!(due >= tap_at + 12 * H, "tomorrow, not at once");
    let since = p.messenger.count_to(psid);
    clock.set_ms(due);
    let got = p.messenger.wait_to(psid, since, 1).await;
    assert!(is_reminder(&got[0]), "{}", got[0].text());

    // Without another tap, nothing more can be placed before the window closes.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let plan = p.app.store.reminder_plan(person.id).await.expect("plan");
        if plan.is_some_and(|(d, _)| d == i64::MAX) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{plan:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zalo_reminders_stay_inside_the_free_48_hours_and_i_need_help_opens_a_new_window() {
    let clock = ManualClock::at(local_ms(0, 7, 0));
    let p = app(&clock).await;
    let user = "ZR1";
    p.z_say(user, "/start", 2).await;
    let person = p.person(Platform::Zalo, user).await.expect("person");
    let last = person.last_inbound_at;

    // Two reminders, both in daytime and inside the free 48 hours (never billed or refused).
    let mut previous = last;
    let mut reminders = Vec::new();
    for _ in 0..2 {
        let (due, _) = planned(&p, person.id, previous).await;
        inside_windows(due, last + 48 * H);
        let since = p.zalo.count_to(user);
        clock.set_ms(due);
        let got = p.zalo.wait_to(user, since, 1).await;
        assert!(is_reminder(&got[0]), "{}", got[0].text());
        reminders.push(got.into_iter().next().expect("one"));
        previous = due;
    }
    assert_eq!(minute_of(previous), 18 * 60 + 59, "the second before 48 h");

    // "I need help" (an oa.query.show tap comes back as its label): the guide again, and a
    // new window with the next reminder inside it.
    let label = reminders[1]
        .buttons()
        .into_iter()
        .map(|(title, _)| title)
        .find(|t| t.contains("Tôi cần giúp đỡ"))
        .expect("the help button");
    let tap_at = clock.now_ms() + 10 * M;
    clock.set_ms(tap_at);
    let r = p.z_say(user, &label, 1).await;
    assert!(r[0].text().contains("điện thoại"), "{}", r[0].text());
    let (due, _) = planned(&p, person.id, tap_at).await;
    inside_windows(due, tap_at + 48 * H);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_keeps_one_three_and_seven_days_in_daytime() {
    let clock = ManualClock::at(local_ms(0, 21, 0));
    let p = app(&clock).await;
    let (person, _) = p
        .app
        .store
        .touch_person(Platform::Telegram, "8801", "8801", "Member", Locale::Vi)
        .await
        .expect("a person");
    p.app
        .store
        .save_state(person.id, &State::Idle)
        .await
        .expect("started");
    // 1 day after 21:00 is night: the next morning; then 3 and 7 days after the activity.
    let mut after = 0;
    for expected in [local_ms(2, 8, 0), local_ms(4, 8, 0), local_ms(8, 8, 0)] {
        let (due, until) = planned(&p, person.id, after).await;
        assert_eq!(due, expected);
        assert_eq!(until, i64::MAX, "no window on Telegram");
        let since = p.app.fake.messages_to(8801).len();
        clock.set_ms(due);
        let deadline = tokio::time::Instant::now() + WAIT;
        while p.app.fake.messages_to(8801).len() == since {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no reminder at {due}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        after = due;
    }
    p.app.finish().await;
}
