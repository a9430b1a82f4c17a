//! Leaders' broadcasts: `/broadcast [CODE]` asks for the message (a text, or a photo with a
//! caption), shows a preview with the exact
//! audience, lets the leader choose everyone or only those who have not confirmed, and queues
//! it on confirmation (once, however often Confirm is pressed). `/broadcasts` lists recent
//! ones, with a Stop button for those still sending.
//!
//! Where the platform edits messages (Telegram), the preview becomes the confirmation, then the
//! queued note, the progress and the summary: one message carries the broadcast through its
//! life. Elsewhere each step is a message of its own, in order.
//!
//! A citizen cannot broadcast; a leader reaches only the subtree of a unit they lead; an
//! administrator may broadcast to any unit.

use anyhow::Result;

use super::keys::*;
use super::progress::{Stage, class_phrases, head_msg, status_text};
use crate::conversation::engine::{Ctx, Engine, MAX_TEXT_CHARS};
use crate::conversation::keys::{NOT_ALLOWED, TOO_LONG, UNIT_UNKNOWN};
use crate::conversation::reply::Attachment;
use crate::conversation::{Action, Button, Reply, State, Turn};
use crate::domain::{ChatAddress, UnitCode};
use crate::i18n::Msg;
use crate::platform::{Event, Outgoing, PhotoRef};
use crate::reach::Spend;
use crate::store::{Audience, Queued};

/// The message whose button was pressed, when the platform can edit it in place.
fn pressed_message(ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.edits_messages {
        return None;
    }
    match &ctx.inbound.event {
        Event::Button { message_id, .. } => message_id.clone(),
        _ => None,
    }
}

/// `reply`, replacing the pressed message where the platform can edit it.
fn in_place(ctx: &Ctx<'_>, reply: Reply) -> Reply {
    match pressed_message(ctx) {
        Some(id) => reply.editing(id),
        None => reply,
    }
}

impl Engine {
    /// A unit's name for the broadcast's head (its code when it is gone).
    async fn broadcast_unit_name(&self, code: &UnitCode) -> Result<String> {
        Ok(match self.store.unit(code).await? {
            Some(u) => u.name,
            None => code.to_string(),
        })
    }

    /// `/broadcast [CODE]`: checks who may broadcast where, then asks for the text.
    pub(crate) async fn broadcast_start(&self, ctx: &Ctx<'_>, args: &str) -> Result<(State, Turn)> {
        let led = self.store.led_units(ctx.person.id).await?;
        if led.is_empty() && !ctx.is_admin {
            return Ok((State::Idle, Turn::reply(Reply::to_sender(&NOT_ALLOWED))));
        }
        let usage = || {
            let units = if led.is_empty() {
                "—".to_string()
            } else {
                led.join(", ")
            };
            Turn::reply(Reply::to_sender(Msg::new(&BC_USAGE).arg("units", units)))
        };
        let code = match args.split_whitespace().next() {
            Some(a) => match UnitCode::parse(a) {
                Ok(c) => c,
                Err(_) => return Ok((State::Idle, usage())),
            },
            None if led.len() == 1 && !ctx.is_admin => led[0].clone(),
            None if ctx.is_admin => {
                return Ok((State::Idle, self.broadcast_pick(ctx, &led).await?));
            }
            None => return Ok((State::Idle, usage())),
        };
        let Some(unit) = self.store.unit(&code).await? else {
            return Ok((State::Idle, Turn::reply(Reply::to_sender(&UNIT_UNKNOWN))));
        };
        if !self.may_broadcast_to(ctx, &led, &unit.code).await? {
            return Ok((State::Idle, Turn::reply(Reply::to_sender(&NOT_ALLOWED))));
        }
        Ok((
            State::BroadcastText { unit: unit.code },
            Turn::reply(Reply::to_sender(
                Msg::new(&BC_ASK_TEXT).arg("unit", unit.name),
            )),
        ))
    }

    async fn may_broadcast_to(
        &self,
        ctx: &Ctx<'_>,
        led: &[UnitCode],
        code: &UnitCode,
    ) -> Result<bool> {
        if self.admin_over(ctx, code).await? {
            return Ok(true);
        }
        for l in led {
            if l == code || self.store.unit_within(code, l).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// People (and, for everyone, linked groups) a broadcast to `unit_code` reaches now.
    async fn recipients(&self, unit_code: &UnitCode, audience: Audience) -> Result<i64> {
        let people = self.store.audience_count(unit_code, audience).await?;
        let groups = match audience {
            Audience::Everyone => self.store.audience_groups(unit_code).await?,
            Audience::Unconfirmed => 0,
        };
        Ok(people + groups)
    }

    /// The message of a broadcast (a text, or a photo with its caption): stores a draft and
    /// shows the preview with both audiences. A photo is shown back exactly as the members
    /// will get it, above the preview.
    pub(crate) async fn broadcast_message(
        &self,
        ctx: &Ctx<'_>,
        unit_code: &UnitCode,
        text: &str,
        photo: Option<&PhotoRef>,
    ) -> Result<(State, Turn)> {
        let text = text.trim();
        let waiting = State::BroadcastText {
            unit: unit_code.clone(),
        };
        if text.chars().count() > MAX_TEXT_CHARS {
            let reply = Reply::to_sender(Msg::new(&TOO_LONG).arg("max", MAX_TEXT_CHARS as i64));
            return Ok((waiting, Turn::reply(reply)));
        }
        if text.is_empty() && photo.is_none() {
            return Ok((waiting, Turn::reply(Reply::to_sender(&BC_ASK_AGAIN))));
        }
        let led = self.store.led_units(ctx.person.id).await?;
        let Some(unit) = self.store.unit(unit_code).await? else {
            return Ok((State::Idle, Turn::reply(Reply::to_sender(&UNIT_UNKNOWN))));
        };
        // Rights are checked again: they may have been taken away meanwhile.
        if !self.may_broadcast_to(ctx, &led, &unit.code).await? {
            return Ok((State::Idle, Turn::reply(Reply::to_sender(&NOT_ALLOWED))));
        }
        // A picture the leader's bot received: only that bot can send it on.
        let photo = photo.map(|p| p.clone().received_by(ctx.account()));
        let photo = photo.as_ref();
        let message = match photo {
            None => Outgoing::text(text),
            Some(photo) => Outgoing::SharedPhoto {
                photo: photo.clone(),
                caption: text.to_string(),
                buttons: Vec::new(),
            },
        };
        let payload = serde_json::to_string(&message)?;
        let id = self
            .store
            .create_broadcast_draft(
                ctx.person.id,
                &ctx.qualified_id(),
                &unit.code,
                text,
                &payload,
            )
            .await?;
        let everyone = self
            .store
            .audience_count(&unit.code, Audience::Everyone)
            .await?;
        let unconfirmed = self
            .store
            .audience_count(&unit.code, Audience::Unconfirmed)
            .await?;
        let groups = self.store.audience_groups(&unit.code).await?;
        let preview = match photo {
            None => Msg::new(&BC_PREVIEW).arg("text", text),
            Some(_) => Msg::new(&BC_PREVIEW_PHOTO),
        };
        let mut reply = Reply::to_sender(
            preview
                .arg("unit", unit.name)
                .arg("everyone", everyone)
                .arg("unconfirmed", unconfirmed)
                .arg("groups", groups),
        );
        // A picture only one bot can show (its own file id) misses people elsewhere.
        if let Some(home) = photo.and_then(|p| self.platforms().photo_only_on(p)) {
            let bot = photo.and_then(PhotoRef::home_account);
            let elsewhere = self.store.audience_elsewhere(&unit.code, home, bot).await?;
            if elsewhere > 0 {
                reply = reply.para(Msg::new(&BC_PHOTO_ELSEWHERE).arg("count", elsewhere));
            }
        }
        let reply = reply
            .row(vec![Button::action(
                Msg::new(&BTN_BC_EVERYONE).arg("count", everyone + groups),
                Action::BroadcastAudience(id, false),
            )])
            .row(vec![Button::action(
                Msg::new(&BTN_BC_UNCONFIRMED).arg("count", unconfirmed),
                Action::BroadcastAudience(id, true),
            )])
            .row(vec![Button::action(
                Msg::new(&BTN_BC_CANCEL),
                Action::BroadcastDiscard(id),
            )]);
        let mut turn = Turn::default();
        if let Some(photo) = photo {
            turn.replies.push(
                Reply::to_sender(Msg::new(&BC_CAPTION).arg("text", text))
                    .attach(Attachment::SharedPhoto(photo.clone())),
            );
        }
        turn.replies.push(reply);
        Ok((State::Idle, turn))
    }

    /// The audience was chosen: asks for the final confirmation.
    pub(crate) async fn broadcast_audience(
        &self,
        ctx: &Ctx<'_>,
        id: i64,
        unconfirmed: bool,
    ) -> Result<Turn> {
        let audience = if unconfirmed {
            Audience::Unconfirmed
        } else {
            Audience::Everyone
        };
        if !self
            .store
            .set_broadcast_audience(id, ctx.person.id, audience)
            .await?
        {
            return Ok(Turn::reply(Reply::to_sender(&BC_ALREADY)));
        }
        let Some(b) = self.store.broadcast(id).await? else {
            return Ok(Turn::reply(Reply::to_sender(&BC_ALREADY)));
        };
        let count = self.recipients(&b.unit_code, audience).await?;
        if count == 0 {
            return Ok(Turn::reply(Reply::to_sender(&BC_EMPTY)));
        }
        let ask = Msg::new(&BC_CONFIRM_ASK).arg("count", count);
        // Replacing the preview, the question keeps the message it is about in view.
        let reply = if pressed_message(ctx).is_some() {
            let unit = self.broadcast_unit_name(&b.unit_code).await?;
            Reply::to_sender(head_msg(&b, &unit)).para(ask)
        } else {
            Reply::to_sender(ask)
        };
        // Who it reaches now, per platform, and the spend choices (free only first).
        let reply = self
            .with_reach_preview(
                reply,
                id,
                &b.unit_code,
                audience,
                ctx.locale(),
                ctx.is_admin,
            )
            .await?;
        Ok(Turn::reply(in_place(
            ctx,
            reply.row(vec![Button::action(
                Msg::new(&BTN_BC_CANCEL),
                Action::BroadcastDiscard(id),
            )]),
        )))
    }

    /// Confirm: queues the broadcast, exactly once. The queued note is the message that will
    /// carry the progress and the summary: it replaces the confirmation where the platform
    /// edits messages, and is queued with the recipients (so nothing about this broadcast can
    /// reach the leader before it).
    /// `spend` is the leader's choice: free only (the default), free and billed within the
    /// budget, or (an administrator only, where an account has it) paid speed.
    pub(crate) async fn broadcast_confirm(
        &self,
        ctx: &Ctx<'_>,
        id: i64,
        spend: Spend,
    ) -> Result<Turn> {
        let Some(b) = self.store.broadcast(id).await? else {
            return Ok(Turn::reply(Reply::to_sender(&BC_ALREADY)));
        };
        if b.author_id != ctx.person.id {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        if b.status != "draft" {
            return Ok(Turn::reply(Reply::to_sender(&BC_ALREADY)));
        }
        let led = self.store.led_units(ctx.person.id).await?;
        if !self.may_broadcast_to(ctx, &led, &b.unit_code).await? {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let count = self.recipients(&b.unit_code, b.audience()).await?;
        if count == 0 {
            return Ok(Turn::reply(Reply::to_sender(&BC_EMPTY)));
        }
        let preview = self.reach_preview(&b.unit_code, b.audience()).await?;
        if spend == Spend::PaidSpeed && !(ctx.is_admin && preview.paid_possible()) {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let plan = preview.plan(spend);
        let to = ChatAddress {
            platform: ctx.platform(),
            account: ctx.inbound.account.clone(),
            chat_id: ctx.inbound.sender.private_chat_id.clone(),
            is_group: false,
        };
        let mut shown = b.clone();
        shown.total = count;
        let edit = pressed_message(ctx);
        let unit = self.broadcast_unit_name(&b.unit_code).await?;
        let text = status_text(
            ctx.locale(),
            &shown,
            &unit,
            self.store.now(),
            Stage::Queued,
            edit.is_some(),
        );
        let progress = match edit {
            Some(message_id) => Outgoing::Edit {
                message_id,
                text,
                buttons: Vec::new(),
            },
            None => Outgoing::text(text),
        };
        match self
            .store
            .queue_broadcast_planned(id, ctx.person.id, &to, progress, &plan)
            .await?
        {
            Queued::Now(_) => {
                self.wake_outbox();
                Ok(Turn::default())
            }
            Queued::Already => Ok(Turn::reply(Reply::to_sender(&BC_ALREADY))),
        }
    }

    /// Cancel on a draft.
    pub(crate) async fn broadcast_discard(&self, ctx: &Ctx<'_>, id: i64) -> Result<Turn> {
        if self.store.discard_broadcast(id, ctx.person.id).await? {
            Ok(Turn::reply(in_place(ctx, Reply::to_sender(&BC_DISCARDED))))
        } else {
            Ok(Turn::reply(Reply::to_sender(&BC_ALREADY)))
        }
    }

    /// `/broadcasts`: the latest broadcasts (an administrator sees everyone's), with a Stop
    /// button for those still sending.
    pub(crate) async fn broadcast_list(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        let led = self.store.led_units(ctx.person.id).await?;
        if led.is_empty() && !ctx.is_admin {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let author = (!ctx.is_admin).then_some(ctx.person.id);
        let list = self.store.recent_broadcasts(author, 10).await?;
        if list.is_empty() {
            return Ok(Turn::reply(Reply::to_sender(&BC_LIST_NONE)));
        }
        let tz = self
            .settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        let mut reply = Reply::to_sender(&BC_LIST_HEADER);
        for b in &list {
            let date = chrono::DateTime::from_timestamp_millis(b.queued_at.unwrap_or(b.created_at))
                .map(|d| d.with_timezone(&tz).format("%d/%m %H:%M").to_string())
                .unwrap_or_default();
            reply = reply.para(
                Msg::new(&BC_LIST_ITEM)
                    .arg("id", b.id)
                    .arg("unit", b.unit_code.clone())
                    .arg("status", b.status.clone())
                    .arg("sent", b.sent)
                    .arg("total", b.total)
                    .arg(
                        "classes",
                        class_phrases(ctx.locale(), b)
                            .into_iter()
                            .map(|c| format!("; {c}"))
                            .collect::<String>(),
                    )
                    .arg("date", date),
            );
            if b.status == "running" {
                reply = reply.row(vec![Button::action(
                    Msg::new(&BTN_BC_STOP).arg("id", b.id),
                    Action::BroadcastStopAsk(b.id),
                )]);
            }
        }
        Ok(Turn::reply(reply))
    }

    /// Stop on the list: asks first, since what is dropped cannot be sent again.
    pub(crate) async fn broadcast_stop_ask(&self, ctx: &Ctx<'_>, id: i64) -> Result<Turn> {
        let Some(b) = self.store.broadcast(id).await? else {
            return Ok(Turn::reply(Reply::to_sender(&BC_NOT_RUNNING)));
        };
        if b.author_id != ctx.person.id && !self.admin_over(ctx, &b.unit_code).await? {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        if b.status != "running" {
            return Ok(Turn::reply(Reply::to_sender(&BC_NOT_RUNNING)));
        }
        Ok(Turn::reply(
            Reply::to_sender(
                Msg::new(&BC_STOP_ASK)
                    .arg("id", id)
                    .arg("left", (b.total - b.done()).max(0)),
            )
            .row(vec![
                Button::action(Msg::new(&BTN_BC_STOP_NOW), Action::BroadcastStop(id)),
                Button::action(Msg::new(&BTN_BC_KEEP), Action::BroadcastKeep(id)),
            ]),
        ))
    }

    /// Stop: what is still queued is dropped, and what a sender holds is cancelled there. The
    /// reply counts both; the final figures follow in the broadcast's summary.
    pub(crate) async fn broadcast_stop(&self, ctx: &Ctx<'_>, id: i64) -> Result<Turn> {
        let Some(b) = self.store.broadcast(id).await? else {
            return Ok(Turn::reply(Reply::to_sender(&BC_NOT_RUNNING)));
        };
        if b.author_id != ctx.person.id && !self.admin_over(ctx, &b.unit_code).await? {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        match self.store.cancel_broadcast(id).await? {
            Some(stopped) => Ok(Turn::reply(in_place(
                ctx,
                Reply::to_sender(
                    Msg::new(&BC_STOPPED)
                        .arg("id", id)
                        .arg("sent", stopped.sent)
                        .arg("left", stopped.not_sent()),
                ),
            ))),
            None => Ok(Turn::reply(Reply::to_sender(&BC_NOT_RUNNING))),
        }
    }
}
