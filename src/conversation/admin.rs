//! Administrator commands of the core: leader invitations.

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::keys::*;
use super::{Reply, Turn};
use crate::domain::{StartPayload, UnitCode};
use crate::i18n::Msg;

impl Engine {
    /// `/invite_leader CODE`: a one-time, expiring deep link that makes its user a leader.
    pub(super) async fn invite_leader(&self, ctx: &Ctx<'_>, args: &str) -> Result<Turn> {
        if !ctx.is_admin {
            return Ok(Turn::reply(Reply::to_sender(&NOT_ALLOWED)));
        }
        let Ok(code) = UnitCode::parse(args) else {
            return Ok(Turn::reply(Reply::to_sender(&INVITE_USAGE)));
        };
        let Some(unit) = self.store.unit(code.as_str()).await? else {
            return Ok(Turn::reply(
                Reply::to_sender(&UNIT_UNKNOWN).para(&INVITE_USAGE),
            ));
        };
        let days = self.settings.invite_ttl_days;
        let token = self
            .store
            .create_invitation(&unit.code, &ctx.qualified_id(), days)
            .await?;
        let link = self.deep_link(ctx.platform(), &StartPayload::LeaderInvite(token));
        Ok(Turn::reply(Reply::to_sender(
            Msg::new(&INVITE_CREATED)
                .arg("unit", unit.name)
                .arg("link", link)
                .arg("days", days),
        )))
    }
}
