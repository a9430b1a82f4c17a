//! Reminders: people who have not confirmed are reminded to install and confirm, each
//! reminder placed inside their free window (the platform's messaging window, from their last
//! message) and the daytime window ([`place`]), so a reminder is never silently skipped.
//!
//! The schedule is per platform ([`DeliverySettings::reminder_offsets_for`]): without a
//! window (Telegram), 1, 3 and 7 days after the last activity; with one, late on each day of
//! it (Messenger: one before 24 hours; Zalo: two before 48 hours). Each reminder invites a
//! tap ("I need help", "Remind me tomorrow"); the tap is a message, which opens a new window
//! and plans the next reminder inside it.
//!
//! Each person's next reminder is planned once (after each activity and each reminder) and
//! stored on their row; the scheduler queues the due ones with one `INSERT ... SELECT`. Each
//! reminder row carries a dedupe key, so several replicas (or a restart) never queue it twice.
//!
//! [`DeliverySettings::reminder_offsets_for`]: crate::outbox::DeliverySettings::reminder_offsets_for

mod place;

use anyhow::Result;

pub use place::{Daytime, MIN_GAP_MS, MIN_QUIET_MS, NEVER, Slot, place};

use crate::broadcast::keys::REMINDER;
use crate::clock::{Millis, in_window, local};
use crate::config::Settings;
use crate::conversation::keys::{BTN_INSTALLED, BTN_REMIND_HELP, BTN_REMIND_TOMORROW};
use crate::conversation::{Action, Button, Reply, render_reply};
use crate::domain::Locale;
use crate::i18n::Msg;
use crate::platform::{Outgoing, Platforms};
use crate::reach::ReachRules;
use crate::store::{ReminderCandidate, ReminderPlan, Store};

/// People planned per batch; a tick plans at most [`PLAN_BATCHES`] batches.
const PLAN_BATCH: i64 = 2_000;
/// Batches planned per tick at most (the first tick after an upgrade plans everyone).
const PLAN_BATCHES: usize = 25;

/// The reminder message in `locale`, with the "installed", "I need help" and "remind me
/// tomorrow" buttons (the last two are taps that open a new free window).
pub fn message(settings: &Settings, locale: Locale) -> Outgoing {
    let app = settings.campaign.app_name.clone();
    let reply = Reply::to_sender(Msg::new(&REMINDER).arg("app", app.clone()))
        .row(vec![Button::action(
            Msg::new(&BTN_INSTALLED).arg("app", app),
            Action::Installed,
        )])
        .row(vec![Button::action(
            Msg::new(&BTN_REMIND_HELP),
            Action::Guide,
        )])
        .row(vec![Button::action(
            Msg::new(&BTN_REMIND_TOMORROW),
            Action::RemindTomorrow,
        )]);
    render_reply(locale, reply)
}

/// The daytime window reminders are placed in, from the settings.
pub fn daytime(settings: &Settings) -> Daytime {
    Daytime {
        tz: settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh),
        window: settings.delivery.reminder_window,
        lead_ms: settings.delivery.reminder_lead_ms,
    }
}

/// Plans `person`'s next reminder at `now`: the latest step that is already due (someone
/// quiet for long gets one reminder, not all of them at once), else the next one, each placed
/// by [`place`]; [`NEVER`] when none fits (all sent, or the window has closed).
pub fn plan(
    person: &ReminderCandidate,
    offsets: &[Millis],
    rules: &ReachRules,
    day: &Daytime,
    now: Millis,
) -> ReminderPlan {
    let until = rules
        .free_ms
        .map(|free| person.last_inbound_at + free - day.lead_ms);
    let mut after = person.last_activity_at + MIN_QUIET_MS;
    if let Some(reminded) = person.reminded_at {
        after = after.max(reminded + MIN_GAP_MS);
    }
    let mut chosen = None;
    let first = if person.wanted {
        usize::try_from(person.reminders_sent).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    for (step, offset) in offsets.iter().enumerate().skip(first) {
        match place(person.last_activity_at + offset, after, until, day) {
            Some(slot) if slot.due <= now => chosen = Some((step, slot)),
            Some(slot) => {
                chosen = chosen.or(Some((step, slot)));
                break;
            }
            None => {}
        }
    }
    let (step, slot) = match chosen {
        Some((step, slot)) => (step as i64, slot),
        None => (
            person.reminders_sent,
            Slot {
                due: NEVER,
                until: NEVER,
            },
        ),
    };
    ReminderPlan {
        id: person.id,
        last_activity_at: person.last_activity_at,
        planned_from: (person.reminders_sent, person.wanted),
        step,
        due: slot.due,
        until: slot.until,
    }
}

/// Plans the next reminder of everyone who has none planned; returns how many were planned.
pub async fn plan_all(store: &Store, settings: &Settings) -> Result<usize> {
    let platforms = Platforms::new(settings);
    let day = daytime(settings);
    let mut planned = 0;
    for _ in 0..PLAN_BATCHES {
        let now = store.now();
        let people = store.reminders_to_plan(now, PLAN_BATCH).await?;
        let plans: Vec<ReminderPlan> = people
            .iter()
            .map(|p| {
                let rules = platforms.reach_rules(p.platform);
                let offsets = settings.delivery.reminder_offsets_for(p.platform, &rules);
                plan(p, &offsets, &rules, &day, now)
            })
            .collect();
        store.set_reminder_plans(&plans).await?;
        planned += plans.len();
        if (people.len() as i64) < PLAN_BATCH {
            break;
        }
    }
    Ok(planned)
}

/// Plans what is not planned yet, then queues the reminders that are due now, inside the
/// daytime window; returns how many were queued.
pub async fn queue_due(store: &Store, settings: &Settings) -> Result<i64> {
    if settings.delivery.reminder_max == 0 {
        return Ok(0);
    }
    plan_all(store, settings).await?;
    let now = store.now();
    let (minute, _) = local(settings, now);
    if !in_window(minute, settings.delivery.reminder_window) {
        return Ok(0);
    }
    let mut messages = Vec::new();
    for locale in [Locale::Vi, Locale::En] {
        messages.push((locale, serde_json::to_string(&message(settings, locale))?));
    }
    store.queue_due_reminders(&messages).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    const H: Millis = 3_600_000;

    /// 2020-06-01 local time (UTC+7) plus `day` days, at `h:00`.
    fn local(day: i64, h: i64) -> Millis {
        1_590_944_400_000 + day * 24 * H + h * H
    }

    fn day() -> Daytime {
        Daytime {
            tz: chrono_tz::Asia::Ho_Chi_Minh,
            window: (8 * 60, 20 * 60),
            lead_ms: H,
        }
    }

    fn person(last: Millis, sent: i64, reminded_at: Option<Millis>) -> ReminderCandidate {
        ReminderCandidate {
            id: 1,
            platform: Platform::Zalo,
            reminders_sent: sent,
            last_activity_at: last,
            last_inbound_at: last,
            reminded_at,
            wanted: true,
        }
    }

    fn zalo() -> ReachRules {
        ReachRules {
            free_ms: Some(48 * H),
            ..ReachRules::ALWAYS_FREE
        }
    }

    #[test]
    fn someone_quiet_for_long_gets_the_latest_step_only() {
        let days = [24 * H, 72 * H, 168 * H];
        let p = person(local(0, 12), 0, None);
        let plan = plan(&p, &days, &ReachRules::ALWAYS_FREE, &day(), local(5, 12));
        assert_eq!((plan.step, plan.due), (1, local(3, 12)));
        let confirmed = ReminderCandidate { wanted: false, ..p };
        let none = super::plan(
            &confirmed,
            &days,
            &ReachRules::ALWAYS_FREE,
            &day(),
            local(5, 12),
        );
        assert_eq!(none.due, NEVER);
    }

    #[test]
    fn a_window_holds_two_reminders_and_never_one_on_top_of_another() {
        let offsets = [20 * H, 44 * H];
        let last = local(0, 7);
        let first = plan(&person(last, 0, None), &offsets, &zalo(), &day(), last);
        assert_eq!((first.step, first.due), (0, local(1, 8)));
        let second = plan(
            &person(last, 1, Some(first.due)),
            &offsets,
            &zalo(),
            &day(),
            first.due,
        );
        assert_eq!(second.step, 1);
        assert!(second.due < last + 47 * H && second.due >= first.due + MIN_GAP_MS);
        // Both offsets past the window collapse into one: the second finds no room.
        let late = [30 * H, 40 * H];
        let messenger = ReachRules {
            free_ms: Some(24 * H),
            ..ReachRules::ALWAYS_FREE
        };
        let one = plan(&person(last, 0, None), &late, &messenger, &day(), last);
        assert_eq!(one.due, local(0, 19) - 60_000);
        let none = plan(
            &person(last, 1, Some(one.due)),
            &late,
            &messenger,
            &day(),
            one.due,
        );
        assert_eq!(none.due, NEVER);
    }
}
