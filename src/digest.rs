//! Daily digests: once a day, at the configured local time, every reachable leader gets their
//! unit's figures (new confirmations in the last day, coverage against the target, rank among
//! sibling units). The day's mark and the digests' dedupe keys keep them single across
//! replicas and restarts.

use anyhow::Result;

use crate::broadcast::keys::{DIGEST, DIGEST_NO_POPULATION};
use crate::clock::local;
use crate::config::Settings;
use crate::conversation::{Reply, render_reply};
use crate::i18n::Msg;
use crate::store::{NewOutboxItem, Priority, Store};

/// Queues the leaders' daily digests once the local time passes `digest_at`, once a day;
/// returns how many.
pub async fn queue_due(store: &Store, settings: &Settings) -> Result<usize> {
    let Some(at) = settings.delivery.digest_at else {
        return Ok(0);
    };
    let now = store.now();
    let (minute, date) = local(settings, now);
    if minute < at || date.is_empty() {
        return Ok(0);
    }
    // The day's mark is written after the digests are queued, so an error or a crash in
    // between only means they are queued again (once: their dedupe keys) on a later tick.
    let mark = format!("digest.{date}");
    if store.kv_get(&mark).await?.is_some() {
        return Ok(0);
    }
    let mut items = Vec::new();
    for (person_id, unit_code) in store.all_leaders().await? {
        let (Some(person), Some(unit)) = (
            store.person(person_id).await?,
            store.unit(&unit_code).await?,
        ) else {
            continue;
        };
        if person.unreachable {
            continue;
        }
        let locale = person.locale;
        let new = store
            .confirmations_since(&unit.path, now - 86_400_000)
            .await?;
        let siblings = store.children(unit.parent_code.as_ref()).await?;
        // The figures `/coverage` shows: installs are confirmed members plus installs
        // reported in person.
        let campaign = settings.campaign.target;
        let figures = crate::coverage::Figures::of_unit(&unit, campaign);
        let score = |f: &crate::coverage::Figures| match f.coverage() {
            Some(c) => c,
            None => f.installs() as f64 / (f.members.max(1) as f64) / 1e6,
        };
        let mine = score(&figures);
        let rank = 1 + siblings
            .iter()
            .filter(|s| score(&crate::coverage::Figures::of_unit(s, campaign)) > mine)
            .count();
        let coverage = match figures.coverage() {
            Some(c) => crate::coverage::percent(c),
            None => crate::i18n::render(locale, &Msg::new(&DIGEST_NO_POPULATION)),
        };
        let target = figures.target;
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
            to: person.address(),
            person_id: Some(person.id),
            broadcast_id: None,
            priority: Priority::Background,
            message: render_reply(locale, Reply::to_sender(msg)),
            dedupe_key: Some(format!("digest:{person_id}:{unit_code}:{date}")),
        });
    }
    store.enqueue(&items).await?;
    if !store.kv_insert_new(&mark, "1").await? {
        // Another replica got there first; its digests and these are the same rows.
        return Ok(0);
    }
    Ok(items.len())
}
