//! Deep links name the bot Telegram reports (`getMe`), not a made-up default: invitations,
//! referral links, posters and leader invitations all open the operator's own bot.

use bluezone_bot::domain::Platform;
use bluezone_bot::platform::Outgoing;
use fake_platforms::TgUser;

use crate::coverage::make_leader;
use crate::helpers::{Options, TestApp, spawn_app_with};

const ADMIN: i64 = 9101;
const LEADER: i64 = 9102;
const BOT: &str = "LongAnTestBot";

/// The pictures queued for `user`, decoded from the outbox.
async fn photos_to(app: &TestApp, user: i64) -> Vec<Vec<u8>> {
    app.store
        .outbox_payloads_to(Platform::Telegram, &user.to_string())
        .await
        .expect("outbox")
        .into_iter()
        .filter_map(|p| match serde_json::from_str::<Outgoing>(&p).ok()? {
            Outgoing::Photo { png, .. } => Some(png),
            _ => None,
        })
        .collect()
}

/// The text a QR code in `png` holds.
fn qr_payload(png: &[u8]) -> String {
    let img = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the poster");
    let (_, content) = grids[0].decode().expect("a readable QR code");
    content
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_names_the_bot_telegram_reports() {
    // Only TELOXIDE_TOKEN (and the fake's address): no BLUEZONE_BOT_USERNAME.
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        bot_name: Some(BOT),
        ..Options::default()
    })
    .await;
    make_leader(&app.store, LEADER, "794").await;
    let own = format!("https://t.me/{BOT}?start=");

    // A citizen's referral link in /status and the share button after confirming.
    let an = TgUser::vi(9103);
    app.say(&an, "/start u_794", 3).await;
    let r = app.say(&an, "/status", 1).await;
    assert!(r[0].text().contains(&format!("{own}r_")), "{}", r[0].text());
    let r = app.say(&an, "/installed", 1).await;
    let share = r[0]
        .button_urls()
        .into_iter()
        .find(|u| u.starts_with("https://t.me/share/url?"))
        .expect("Telegram's share dialog");
    let parsed = url::Url::parse(&share).expect("a URL");
    let shared = parsed
        .query_pairs()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.to_string())
        .expect("the shared link");
    assert!(shared.starts_with(&format!("{own}r_")), "{shared}");

    // The unit's invitation and its poster.
    let leader = TgUser::en(LEADER);
    let r = app.say(&leader, "/invite 794", 1).await;
    assert_eq!(r[0].method, "sendPhoto");
    let link = format!("{own}u_794");
    assert!(r[0].text().contains(&link), "{}", r[0].text());
    let posters = photos_to(&app, LEADER).await;
    assert_eq!(posters.len(), 1);
    assert_eq!(qr_payload(&posters[0]), link);

    // A leader invitation.
    let r = app.say(&TgUser::en(ADMIN), "/invite_leader 795", 1).await;
    assert!(r[0].text().contains(&format!("{own}l_")), "{}", r[0].text());

    for call in app.fake.calls() {
        let text = format!("{:?} {:?}", call.text, call.reply_markup);
        assert!(!text.contains("BluezoneCampaignBot"), "{text}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variable_overrides_the_reported_username() {
    let app = spawn_app_with(Options {
        bot_name: Some(BOT),
        env: vec![("BLUEZONE_BOT_USERNAME".into(), "@ProvinceBot".into())],
        ..Options::default()
    })
    .await;
    let an = TgUser::vi(9104);
    app.say(&an, "/start u_794", 3).await;
    let r = app.say(&an, "/status", 1).await;
    assert!(
        r[0].text().contains("https://t.me/ProvinceBot?start=r_"),
        "{}",
        r[0].text()
    );
    // Commands addressed to the bot by its real name still reach it.
    let r = app.say(&an, &format!("/status@{BOT}"), 1).await;
    assert!(r[0].text().contains("ProvinceBot"), "{}", r[0].text());
    app.finish().await;
}
