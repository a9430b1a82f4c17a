//! The scheduler: once a second it moves broadcast progress messages along (an edit at most
//! every few seconds, a summary at the end), queues the reminders that are due inside the
//! daytime window, and the leaders' daily digests at their local time. Everything it queues
//! carries a dedupe key or is guarded by a conditional update, so several replicas (or a
//! restart) never queue the same thing twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{Datelike, TimeZone, Timelike};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::keys::*;
use super::progress::{Stage, status_text};
use crate::clock::Millis;
use crate::config::Settings;
use crate::conversation::keys::{BTN_GUIDE, BTN_INSTALLED};
use crate::conversation::{Action, Button, Reply, render_reply};
use crate::domain::{ChatAddress, Locale};
use crate::i18n::Msg;
use crate::platform::Outgoing;
use crate::store::{Broadcast, NewOutboxItem, Priority, Store};

/// What one [`Scheduler::tick`] queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Progress edits queued.
    pub progress_edits: usize,
    /// Broadcasts finished (summary queued).
    pub finished: usize,
    /// Reminders queued.
    pub reminders: i64,
    /// Digests queued.
    pub digests: usize,
}

/// Queues progress edits, reminders and digests.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    settings: Arc<Settings>,
    ready: Arc<Notify>,
}

/// Minutes after local midnight and the local date, in the campaign's time zone.
fn local(settings: &Settings, now: Millis) -> (u32, String) {
    let tz = settings
        .campaign
        .tz()
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
    match tz.timestamp_millis_opt(now).single() {
        Some(t) => (
            t.hour() * 60 + t.minute(),
            format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
        ),
        None => (0, String::new()),
    }
}

/// Whether `minute` (after local midnight) is inside `[start, end)`, which may wrap midnight.
pub fn in_window(minute: u32, (start, end): (u32, u32)) -> bool {
    if start <= end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

impl Scheduler {
    /// A scheduler over `store`; `ready` wakes the senders when it queues something.
    pub fn new(store: Store, settings: Arc<Settings>, ready: Arc<Notify>) -> Scheduler {
        Scheduler {
            store,
            settings,
            ready,
        }
    }

    /// Does everything that is due now.
    pub async fn tick(&self) -> Result<Tick> {
        let mut tick = Tick::default();
        self.progress(&mut tick).await?;
        tick.reminders = self.reminders().await?;
        tick.digests = self.digests().await?;
        if tick != Tick::default() {
            self.ready.notify_waiters();
            self.ready.notify_one();
        }
        Ok(tick)
    }

    /// Runs [`Scheduler::tick`] every second until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!(error = ?e, "scheduler tick failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn author_address(&self, b: &Broadcast) -> Result<Option<(ChatAddress, Locale)>> {
        let Some(p) = self.store.person(b.author_id).await? else {
            return Ok(None);
        };
        let Some(platform) = p.platform() else {
            return Ok(None);
        };
        Ok(Some((
            ChatAddress {
                platform,
                chat_id: p.chat_id.clone(),
                is_group: false,
            },
            p.locale(),
        )))
    }

    /// Moves each running broadcast's status along. Where the author's platform edits
    /// messages, the one message that carries the broadcast is edited to the latest figures
    /// and finally to the summary; elsewhere only the summary goes, as a message of its own.
    async fn progress(&self, tick: &mut Tick) -> Result<()> {
        let now = self.store.now();
        for b in self.store.running_broadcasts().await? {
            let finished = b.done() >= b.total;
            let due = now - b.last_progress_at >= self.settings.delivery.progress_every_ms
                && b.done() != b.last_progress_done;
            if !finished && !due {
                continue;
            }
            let Some((to, locale)) = self.author_address(&b).await? else {
                continue;
            };
            let in_place =
                crate::platform::Platforms::new(&self.settings).edits_messages(to.platform);
            let carrier = match b.progress_outbox_id {
                Some(id) => self.store.outbox_row_state(id).await?,
                None => None,
            };
            // The carrying message's id, once it went out; whether it is still on its way.
            let message_id = carrier
                .as_ref()
                .filter(|(status, _)| status == "sent")
                .and_then(|(_, m)| m.clone());
            let on_its_way = carrier
                .as_ref()
                .is_some_and(|(status, _)| status == "queued" || status == "sending");
            if in_place && on_its_way {
                // The next figures (or the summary) replace it: it must be out first.
                continue;
            }
            let unit = match self.store.unit(&b.unit_code).await? {
                Some(u) => u.name,
                None => b.unit_code.clone(),
            };
            let edit = message_id.filter(|_| in_place);
            let stage = if finished {
                Stage::Finished
            } else {
                Stage::Running
            };
            let text = status_text(locale, &b, &unit, now, stage, edit.is_some());
            let message = match edit {
                Some(message_id) => Outgoing::Edit {
                    message_id,
                    text,
                    buttons: Vec::new(),
                },
                // Progress is only shown where it can replace itself.
                None if !finished => continue,
                None => Outgoing::text(text),
            };
            let item = NewOutboxItem {
                to,
                person_id: Some(b.author_id),
                broadcast_id: None,
                priority: Priority::Reply,
                message,
                dedupe_key: finished.then(|| format!("bc:{}:summary", b.id)),
            };
            if finished {
                // The platforms' own reasons go to the log (and stay on the outbox rows); the
                // leader reads them in classes.
                let reasons = self.store.broadcast_failures(b.id).await?;
                tracing::info!(
                    broadcast = b.id,
                    total = b.total,
                    sent = b.sent,
                    skipped = b.skipped,
                    unreachable = b.unreachable,
                    failed = b.failed,
                    cancelled = b.cancelled,
                    ?reasons,
                    "broadcast finished"
                );
                tick.finished += 1;
            } else {
                tick.progress_edits += 1;
            }
            // Queued before the broadcast is marked finished: a crash in between sends it on
            // the next tick (its dedupe key keeps it single).
            self.store.enqueue(&[item]).await?;
            if finished {
                self.store.finish_broadcast(b.id).await?;
            }
            self.store
                .set_broadcast_progress(b.id, now, b.done())
                .await?;
        }
        Ok(())
    }

    /// The reminder message in `locale`, with the "installed" and guide buttons.
    pub fn reminder_message(&self, locale: Locale) -> Outgoing {
        let app = self.settings.campaign.app_name.clone();
        let reply = Reply::to_sender(Msg::new(&REMINDER).arg("app", app.clone()))
            .row(vec![Button::action(
                Msg::new(&BTN_INSTALLED).arg("app", app),
                Action::Installed,
            )])
            .row(vec![Button::action(Msg::new(&BTN_GUIDE), Action::Guide)]);
        render_reply(locale, reply)
    }

    async fn reminders(&self) -> Result<i64> {
        let now = self.store.now();
        let (minute, _) = local(&self.settings, now);
        if !in_window(minute, self.settings.delivery.reminder_window) {
            return Ok(0);
        }
        let mut messages = Vec::new();
        for locale in [Locale::Vi, Locale::En] {
            messages.push((
                locale,
                serde_json::to_string(&self.reminder_message(locale))?,
            ));
        }
        let offsets = self.settings.delivery.reminder_offsets();
        let mut queued = 0;
        for (step, offset) in offsets.iter().enumerate().rev() {
            queued += self
                .store
                .queue_reminders(step as i64, now - offset, &messages)
                .await?;
        }
        Ok(queued)
    }

    async fn digests(&self) -> Result<usize> {
        let Some(at) = self.settings.delivery.digest_at else {
            return Ok(0);
        };
        let now = self.store.now();
        let (minute, date) = local(&self.settings, now);
        if minute < at || date.is_empty() {
            return Ok(0);
        }
        // The day's mark is written after the digests are queued, so an error or a crash in
        // between only means they are queued again (once: their dedupe keys) on a later tick.
        let mark = format!("digest.{date}");
        if self.store.kv_get(&mark).await?.is_some() {
            return Ok(0);
        }
        let mut items = Vec::new();
        for (person_id, unit_code) in self.store.all_leaders().await? {
            let (Some(person), Some(unit)) = (
                self.store.person(person_id).await?,
                self.store.unit(&unit_code).await?,
            ) else {
                continue;
            };
            let Some(platform) = person.platform() else {
                continue;
            };
            if person.unreachable != 0 {
                continue;
            }
            let locale = person.locale();
            let new = self
                .store
                .confirmations_since(&unit.path, now - 86_400_000)
                .await?;
            let siblings = self.store.children(unit.parent_code.as_deref()).await?;
            let score = |u: &crate::store::Unit| match u.population.filter(|p| *p > 0) {
                Some(p) => u.sub_confirmed as f64 / p as f64,
                None => u.sub_confirmed as f64 / (u.sub_members.max(1) as f64) / 1e6,
            };
            let mine = score(&unit);
            let rank = 1 + siblings.iter().filter(|s| score(s) > mine).count();
            let coverage = match unit.population.filter(|p| *p > 0) {
                Some(p) => crate::coverage::percent(unit.sub_confirmed as f64 / p as f64),
                None => crate::i18n::render(locale, &Msg::new(&DIGEST_NO_POPULATION)),
            };
            let target = unit.target.unwrap_or(self.settings.campaign.target);
            let msg = Msg::new(&DIGEST)
                .arg("unit", unit.name.clone())
                .arg("new", new)
                .arg("confirmed", unit.sub_confirmed)
                .arg("members", unit.sub_members)
                .arg("coverage", coverage)
                .arg("target", format!("{:.0}%", target * 100.0))
                .arg("rank", rank)
                .arg("siblings", siblings.len().max(1));
            items.push(NewOutboxItem {
                to: ChatAddress {
                    platform,
                    chat_id: person.chat_id.clone(),
                    is_group: false,
                },
                person_id: Some(person.id),
                broadcast_id: None,
                priority: Priority::Background,
                message: render_reply(locale, Reply::to_sender(msg)),
                dedupe_key: Some(format!("digest:{person_id}:{unit_code}:{date}")),
            });
        }
        self.store.enqueue(&items).await?;
        if !self.store.kv_insert_new(&mark, "1").await? {
            // Another replica got there first; its digests and these are the same rows.
            return Ok(0);
        }
        Ok(items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::in_window;

    #[test]
    fn windows_may_wrap_midnight() {
        assert!(in_window(8 * 60, (480, 1200)));
        assert!(!in_window(20 * 60, (480, 1200)));
        assert!(!in_window(7 * 60 + 59, (480, 1200)));
        assert!(in_window(23 * 60, (22 * 60, 6 * 60)));
        assert!(in_window(60, (22 * 60, 6 * 60)));
        assert!(!in_window(12 * 60, (22 * 60, 6 * 60)));
    }
}
