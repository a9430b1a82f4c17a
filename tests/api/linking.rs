//! `/link` across platforms: a code shown on one account and typed on another links them;
//! the person counts once as a member and once as a confirmation.

use crate::helpers::unit_code;
use bluezone_bot::clock::ManualClock;
use bluezone_bot::domain::Platform;
use fake_platforms::Sent;

use crate::helpers::Options;
use crate::platform_fakes::{find, spawn_platforms};

fn code_in(sent: &[Sent]) -> String {
    let text = find(sent, "/link ").text();
    text.split("/link ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|c| {
            c.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .unwrap_or_else(|| panic!("no code in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_accounts_count_once() {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_millis());
    let p = spawn_platforms(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    // On Messenger: joins Tân An and confirms.
    let m = "PSID-L1";
    let r = p.m_say(m, "/start u_794", 3).await;
    let phone = find(&r, "loại điện thoại");
    let r = p.m_press(m, &phone.button("Android"), 1).await;
    p.m_press(m, &r[0].button("Tôi đã cài"), 1).await;
    // On Zalo: the same person joins too, without confirming.
    let z = "ZU-L1";
    p.z_say(z, "/start u_794", 3).await;
    let unit = p.app.unit("794").await;
    assert_eq!(
        (unit.members, unit.confirmed),
        (2, 1),
        "two accounts, before linking"
    );

    // A code typed on the account that made it does nothing; a wrong code is refused.
    let code = code_in(&p.z_say(z, "/link", 1).await);
    let r = p.z_say(z, &format!("/link {code}"), 1).await;
    assert!(
        r[0].text().contains("chính tài khoản này"),
        "{}",
        r[0].text()
    );
    let r = p.m_say(m, "/link ZZZZZZ", 1).await;
    assert!(r[0].text().contains("hết hạn"), "{}", r[0].text());

    // Messenger types Zalo's code: linked to Zalo's account; one member, one confirmation.
    let r = p
        .m_say(m, &format!("/link {}", code.to_lowercase()), 1)
        .await;
    assert!(r[0].text().contains("Đã liên kết"), "{}", r[0].text());
    let unit = p.app.unit("794").await;
    assert_eq!(
        (unit.members, unit.confirmed),
        (1, 1),
        "counted once after linking"
    );
    assert_eq!(p.app.unit("80").await.sub_members, 1);
    let zp = p.person(Platform::Zalo, z).await.expect("zalo account");
    let mp = p
        .person(Platform::Messenger, m)
        .await
        .expect("messenger account");
    assert_eq!(mp.linked_to, Some(zp.id));
    assert!(
        zp.confirmed_at.is_some(),
        "the confirmation moved to the primary"
    );
    // Confirming again on either account counts nothing more.
    p.z_say(z, "/installed", 1).await;
    p.m_say(m, "/installed", 1).await;
    let unit = p.app.unit("794").await;
    assert_eq!((unit.members, unit.confirmed), (1, 1));
    // The code is spent, and codes expire after 10 minutes.
    let r = p.m_say(m, &format!("/link {code}"), 1).await;
    assert!(r[0].text().contains("hết hạn"), "{}", r[0].text());
    let code = code_in(&p.z_say(z, "/link", 1).await);
    clock.advance_ms(11 * 60 * 1000);
    let t = "PSID-L2";
    p.m_say(t, "/start", 2).await;
    let r = p.m_say(t, &format!("/link {code}"), 1).await;
    assert!(r[0].text().contains("hết hạn"), "{}", r[0].text());
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_account_confirming_counts_on_the_primary_once() {
    let p = spawn_platforms(Options::default()).await;
    let z = "ZU-L3";
    let m = "PSID-L3";
    p.z_say(z, "/start u_794", 3).await;
    p.m_say(m, "/start", 2).await;
    let code = code_in(&p.z_say(z, "/link", 1).await);
    p.m_say(m, &format!("/link {code}"), 1).await;
    let unit = p.app.unit("794").await;
    assert_eq!((unit.members, unit.confirmed), (1, 0));
    // Confirming on the linked account (which has no unit of its own) confirms the person.
    p.m_say(m, "/installed", 2).await;
    let unit = p.app.unit("794").await;
    assert_eq!((unit.members, unit.confirmed), (1, 1));
    p.z_say(z, "/installed", 1).await;
    assert_eq!(p.app.unit("794").await.confirmed, 1);
    assert!(
        p.person(Platform::Zalo, z)
            .await
            .and_then(|x| x.confirmed_at)
            .is_some()
    );
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_picked_on_a_linked_account_counts_the_person_there() {
    use bluezone_bot::domain::Locale;
    let p = spawn_platforms(Options::default()).await;
    let store = &p.app.store;
    let account = |platform: Platform, id: &'static str| async move {
        let (person, _) = store
            .touch_person(platform, id, id, "Linked", Locale::Vi)
            .await
            .expect("an account");
        person.id
    };
    // Linked before either account chose a unit.
    let primary = account(Platform::Zalo, "ZU-L5").await;
    let other = account(Platform::Messenger, "PSID-L5").await;
    let code = store
        .link_code_create(primary, 600_000)
        .await
        .expect("a code");
    store.link_redeem(other, &code).await.expect("linked");
    let before = p.app.unit("794").await.members;
    // The unit is picked, and the install confirmed, on the linked account.
    store
        .set_person_unit(other, Some(&unit_code("794")))
        .await
        .expect("unit");
    store.confirm_install(other).await.expect("confirmed");
    let unit = p.app.unit("794").await;
    assert_eq!(unit.members, before + 1, "counted once, where they said");
    assert_eq!(unit.confirmed, 1);
    // Moving on the linked account moves the person.
    store
        .set_person_unit(other, Some(&unit_code("80")))
        .await
        .expect("moved");
    assert_eq!(p.app.unit("794").await.members, before);
    assert_eq!(p.app.unit("794").await.confirmed, 0);
    p.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_an_account_already_linked_elsewhere_brings_its_group() {
    use bluezone_bot::domain::Locale;
    let p = spawn_platforms(Options::default()).await;
    let store = &p.app.store;
    let account = |platform: Platform, id: &'static str| async move {
        let (person, _) = store
            .touch_person(platform, id, id, "Linked", Locale::Vi)
            .await
            .expect("an account");
        store
            .set_person_unit(person.id, Some(&unit_code("794")))
            .await
            .expect("unit");
        person.id
    };
    let before = p.app.unit("794").await;
    // Telegram T confirmed; Zalo Z is linked to T.
    let t = account(Platform::Telegram, "T-L6").await;
    store.confirm_install(t).await.expect("confirmed");
    let z = account(Platform::Zalo, "ZU-L6").await;
    let code = store.link_code_create(t, 600_000).await.expect("code");
    store.link_redeem(z, &code).await.expect("linked");
    // Messenger M, on its own, makes a code; Z types it.
    let m = account(Platform::Messenger, "PSID-L6").await;
    let unit = p.app.unit("794").await;
    assert_eq!(unit.members - before.members, 2, "T (with Z) and M");
    let code = store.link_code_create(m, 600_000).await.expect("code");
    store.link_redeem(z, &code).await.expect("linked");
    let unit = p.app.unit("794").await;
    assert_eq!(
        (
            unit.members - before.members,
            unit.confirmed - before.confirmed
        ),
        (1, 1),
        "one person, confirmed once"
    );
    for id in ["T-L6", "ZU-L6"] {
        let platform = if id.starts_with('T') {
            Platform::Telegram
        } else {
            Platform::Zalo
        };
        let a = store
            .person_by_platform_id(platform, id)
            .await
            .expect("read")
            .expect("account");
        assert_eq!(a.linked_to, Some(m), "{id} follows the group to M");
    }
    p.app.finish().await;
}
