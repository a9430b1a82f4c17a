//! Deep links per platform: a link that opens the bot and hands it a start payload.

use crate::config::Settings;
use crate::domain::{Platform, StartPayload};

/// A link that opens the bot with `payload` on `platform`.
///
/// - Telegram: `https://t.me/<bot>?start=<payload>`.
/// - Messenger: `https://m.me/<page>?ref=<payload>`; the `ref` comes back in a referral
///   event, which the webhook turns into `/start <payload>`.
/// - Zalo OA links carry no payload: the OA's link followed by the command to type
///   (`https://zalo.me/<oa id> /start u_794`).
pub fn deep_link(settings: &Settings, platform: Platform, payload: &StartPayload) -> String {
    let code = payload.encode();
    match platform {
        Platform::Messenger if let Some(m) = &settings.messenger => {
            format!("https://m.me/{}?ref={code}", m.page_id)
        }
        Platform::Zalo if let Some(z) = &settings.zalo => {
            format!("https://zalo.me/{} /start {code}", z.oa_id)
        }
        _ => format!("https://t.me/{}?start={code}", settings.bot_username),
    }
}
