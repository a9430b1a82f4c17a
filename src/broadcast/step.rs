//! The broadcast step of the scheduler: once a second it moves each running broadcast's
//! status along for its author (an edit at most every few seconds where the platform edits
//! messages, a summary at the end). The summary carries a dedupe key and the progress mark is
//! a conditional update, so several replicas (or a restart) never queue the same thing twice.

use anyhow::Result;

use super::progress::{Stage, status_text};
use crate::config::Settings;
use crate::domain::{ChatAddress, Locale};
use crate::platform::Outgoing;
use crate::store::{Broadcast, NewOutboxItem, Priority, Store};

/// What one [`advance`] queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Advanced {
    /// Progress edits queued.
    pub progress_edits: usize,
    /// Broadcasts finished (summary queued).
    pub finished: usize,
}

/// The author's private chat and language, when the author still has an account.
async fn author_address(store: &Store, b: &Broadcast) -> Result<Option<(ChatAddress, Locale)>> {
    let Some(p) = store.person(b.author_id).await? else {
        return Ok(None);
    };
    Ok(Some((p.address(), p.locale)))
}

/// Moves each running broadcast's status along. Where the author's platform edits
/// messages, the one message that carries the broadcast is edited to the latest figures
/// and finally to the summary; elsewhere only the summary goes, as a message of its own.
pub async fn advance(store: &Store, settings: &Settings) -> Result<Advanced> {
    let mut tick = Advanced::default();
    let now = store.now();
    let platforms = crate::platform::Platforms::new(settings);
    for b in store.running_broadcasts().await? {
        let finished = b.done() >= b.total;
        let due = now - b.last_progress_at >= settings.delivery.progress_every_ms
            && b.done() != b.last_progress_done;
        if !finished && !due {
            continue;
        }
        let Some((to, locale)) = author_address(store, &b).await? else {
            continue;
        };
        let in_place = platforms.edits_messages(&to.account);
        let carrier = match b.progress_outbox_id {
            Some(id) => store.outbox_row_state(id).await?,
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
        let unit = match store.unit(&b.unit_code).await? {
            Some(u) => u.name,
            None => b.unit_code.to_string(),
        };
        let edit = message_id.filter(|_| in_place);
        let stage = if finished {
            Stage::Finished
        } else {
            Stage::Running
        };
        // The summary tells what billed messages were really sent and what they cost (a
        // planned one may have been skipped at send time: its window closed meanwhile).
        let mut b = b;
        if finished {
            let (billed, cost) = store.broadcast_billed(b.id).await?;
            b.billed = billed;
            b.billed_cost = cost;
        }
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
            let reasons = store.broadcast_failures(b.id).await?;
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
        store.enqueue(&[item]).await?;
        if finished {
            store.finish_broadcast(b.id).await?;
        }
        store.set_broadcast_progress(b.id, now, b.done()).await?;
    }
    Ok(tick)
}
