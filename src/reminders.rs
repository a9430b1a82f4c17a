//! Reminders: people who have been quiet since the configured offsets are reminded to install
//! and confirm, only inside the daytime window. Each reminder row
//! carries a dedupe key, so several replicas (or a restart) never queue it twice.

use anyhow::Result;

use crate::broadcast::keys::REMINDER;
use crate::clock::{in_window, local};
use crate::config::Settings;
use crate::conversation::keys::{BTN_GUIDE, BTN_INSTALLED};
use crate::conversation::{Action, Button, Reply, render_reply};
use crate::domain::Locale;
use crate::i18n::Msg;
use crate::platform::Outgoing;
use crate::store::Store;

/// The reminder message in `locale`, with the "installed" and guide buttons.
pub fn message(settings: &Settings, locale: Locale) -> Outgoing {
    let app = settings.campaign.app_name.clone();
    let reply = Reply::to_sender(Msg::new(&REMINDER).arg("app", app.clone()))
        .row(vec![Button::action(
            Msg::new(&BTN_INSTALLED).arg("app", app),
            Action::Installed,
        )])
        .row(vec![Button::action(Msg::new(&BTN_GUIDE), Action::Guide)]);
    render_reply(locale, reply)
}

/// Queues the reminders that are due now, inside the daytime window; returns how many.
pub async fn queue_due(store: &Store, settings: &Settings) -> Result<i64> {
    let now = store.now();
    let (minute, _) = local(settings, now);
    if !in_window(minute, settings.delivery.reminder_window) {
        return Ok(0);
    }
    let mut messages = Vec::new();
    for locale in [Locale::Vi, Locale::En] {
        messages.push((locale, serde_json::to_string(&message(settings, locale))?));
    }
    let offsets = settings.delivery.reminder_offsets();
    let mut queued = 0;
    for (step, offset) in offsets.iter().enumerate().rev() {
        queued += store
            .queue_reminders(step as i64, now - offset, &messages)
            .await?;
    }
    Ok(queued)
}
