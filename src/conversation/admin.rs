//! Administrator commands of the core: the administrator's menu, leader invitations and the
//! choice of a unit to broadcast to.

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::keys::*;
use super::{Action, Button, Reply, Turn};
use crate::domain::{StartPayload, UnitCode};
use crate::i18n::Msg;

impl Engine {
    /// Whether the sender administers `code`: an administrator of every account, or of this
    /// account when `code` is under its root.
    pub(crate) async fn admin_over(&self, ctx: &Ctx<'_>, code: &UnitCode) -> Result<bool> {
        Ok(match ctx.admin_scope() {
            None => false,
            Some(None) => true,
            Some(Some(root)) => code == root || self.store.unit_within(code, root).await?,
        })
    }

    /// Whether the sender may act on `code` as a leader does: they administer it, or lead it
    /// (or a unit above it).
    pub(crate) async fn may_act_on(&self, ctx: &Ctx<'_>, code: &UnitCode) -> Result<bool> {
        Ok(self.admin_over(ctx, code).await? || self.store.leads(ctx.person.id, code).await?)
    }

    /// `/invite_leader CODE`: a one-time, expiring deep link that makes its user a leader.
    pub(super) async fn invite_leader(&self, ctx: &Ctx<'_>, args: &str) -> Result<Turn> {
        if !ctx.is_admin {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let Ok(code) = UnitCode::parse(args) else {
            return Ok(Turn::reply(Reply::to_sender(&INVITE_USAGE)));
        };
        let Some(unit) = self.store.unit(&code).await? else {
            return Ok(Turn::reply(
                Reply::to_sender(&UNIT_UNKNOWN).para(&INVITE_USAGE),
            ));
        };
        if !self.admin_over(ctx, &code).await? {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let days = self.settings.invite_ttl_days;
        let token = self
            .store
            .create_invitation(&unit.code, &ctx.qualified_id(), days)
            .await?;
        let link = self
            .unit_link(ctx, &unit.code, &StartPayload::LeaderInvite(token))
            .await?;
        Ok(Turn::reply(Reply::to_sender(
            Msg::new(&INVITE_CREATED)
                .arg("unit", unit.name)
                .arg("link", link)
                .arg("days", days),
        )))
    }

    /// The administrator's own menu (what `/start` shows an administrator).
    pub(super) fn admin_menu(&self) -> Reply {
        Reply::to_sender(Msg::new(&ADMIN_MENU).arg("app", self.app()))
            .row(vec![
                Button::action(Msg::new(&BTN_ADMIN_COVERAGE), Action::Coverage(None, 0)),
                Button::action(Msg::new(&BTN_ADMIN_EXPORT), Action::Export(None)),
            ])
            .row(vec![
                Button::action(Msg::new(&BTN_ADMIN_BROADCAST), Action::BroadcastPick),
                Button::action(Msg::new(&BTN_ADMIN_INVITE), Action::InviteLeaderHelp),
            ])
    }

    /// How to invite a leader (the menu's button), with the hint when no units exist.
    pub(super) async fn invite_leader_help(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        if !ctx.is_admin {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let mut reply = Reply::to_sender(&ADMIN_INVITE_HELP);
        if self.store.unit_count().await? == 0 {
            reply = reply.para(&NO_UNITS_HINT);
        }
        Ok(Turn::reply(reply))
    }

    /// `/broadcast` without a unit, for an administrator: the top units (each reaches its
    /// whole subtree; the account's root for an administrator the account names) and the
    /// units the administrator also leads, as buttons.
    pub(crate) async fn broadcast_pick(&self, ctx: &Ctx<'_>, led: &[UnitCode]) -> Result<Turn> {
        let mut units = match ctx.admin_scope() {
            Some(Some(root)) => self.store.unit(root).await?.into_iter().collect(),
            _ => self.store.children(None).await?,
        };
        for code in led {
            if !units.iter().any(|u| &u.code == code)
                && let Some(unit) = self.store.unit(code).await?
            {
                units.push(unit);
            }
        }
        if units.is_empty() {
            return Ok(Turn::reply(Reply::to_sender(&NO_UNITS_HINT)));
        }
        let mut reply = Reply::to_sender(&BC_PICK_UNIT);
        for unit in units.into_iter().take(MAX_PICK) {
            reply = reply.row(vec![Button::action(
                Msg::new(&BTN_BC_UNIT)
                    .arg("unit", unit.name)
                    .arg("code", &unit.code),
                Action::BroadcastTo(unit.code),
            )]);
        }
        Ok(Turn::reply(reply))
    }
}

/// Units offered as broadcast buttons (more are reached with `/broadcast CODE`).
const MAX_PICK: usize = 10;
