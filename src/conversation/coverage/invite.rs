//! `/invite`: a unit's deep link and a printable A4 poster with its QR code.

use anyhow::Result;

use super::Scope;
use crate::conversation::engine::{Ctx, Engine};
use crate::conversation::reply::Attachment;
use crate::conversation::{Reply, Turn};
use crate::coverage::keys::*;
use crate::domain::StartPayload;
use crate::i18n::{Msg, render};
use crate::reports::poster::{PosterText, invitation_poster_png};

impl Engine {
    /// `/invite [CODE]`: the unit's deep link and a printable A4 poster with its QR code.
    pub(in crate::conversation) async fn invite_cmd(
        &self,
        ctx: &Ctx<'_>,
        arg: Option<&str>,
    ) -> Result<Turn> {
        let code = match self.scope(ctx, arg, false, "invite").await? {
            Ok(Scope::Unit(code)) => code,
            Ok(Scope::Country) => {
                return Ok(Turn::reply(Reply::to_sender(
                    Msg::new(&COV_NEED_UNIT).arg("command", "invite"),
                )));
            }
            Err(reply) => return Ok(Turn::reply(reply)),
        };
        let name = self.unit_name(&code).await?;
        let link = self
            .unit_link(ctx, &code, &StartPayload::Unit(code.to_string()))
            .await?;
        let locale = ctx.locale();
        let app = self.app();
        let text = PosterText {
            heading: render(locale, &Msg::new(&POSTER_HEADING).arg("app", app.clone())),
            unit_name: name.clone(),
            lines: [
                render(locale, &Msg::new(&POSTER_LINE_1).arg("app", app.clone())),
                render(locale, &Msg::new(&POSTER_LINE_2).arg("app", app.clone())),
                render(locale, &Msg::new(&POSTER_LINE_3).arg("app", app)),
            ],
            link_caption: render(locale, &Msg::new(&POSTER_LINK)),
        };
        let for_poster = link.clone();
        let png = tokio::task::spawn_blocking(move || invitation_poster_png(&for_poster, &text))
            .await??;
        Ok(Turn::reply(
            Reply::to_sender(Msg::new(&INVITE_UNIT).arg("unit", name).arg("link", link))
                .attach(Attachment::Photo(png)),
        ))
    }
}
