//! `/members`: the post-check. A leader pages through the members of their branch who have
//! not been verified yet and verifies each one in person.

use anyhow::Result;

use super::{Scope, reach_msg};
use crate::conversation::engine::{Ctx, Engine};
use crate::conversation::keys::MEMBERS_EMPTY;
use crate::conversation::pager::Pager;
use crate::conversation::{Action, Button, Reply, Turn};
use crate::coverage::keys::*;
use crate::domain::{StartPayload, UnitCode};
use crate::i18n::{Msg, render};
use crate::reach::{Reach, Unreachable};
use crate::store::coverage::VerifyOutcome;

/// Members per page of `/members`.
const MEMBERS_PAGE: usize = 8;

/// Members per page of `/members unreachable` (a list to print).
const UNREACHABLE_PAGE: usize = 25;

impl Engine {
    /// `/members [CODE]`: the post-check list.
    pub(in crate::conversation) async fn members_cmd(
        &self,
        ctx: &Ctx<'_>,
        arg: Option<&str>,
    ) -> Result<Turn> {
        // `/members unreachable [CODE]`: the people to visit in person.
        let trimmed = arg.map(str::trim).unwrap_or_default();
        let (first, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        if first.eq_ignore_ascii_case("unreachable") {
            return match self.scope(ctx, Some(rest), false, "members").await? {
                Ok(Scope::Unit(code)) => {
                    Ok(Turn::reply(self.unreachable_page(ctx, &code, 0).await?))
                }
                Ok(Scope::Country) => Ok(Turn::reply(Reply::to_sender(
                    Msg::new(&COV_NEED_UNIT).arg("command", "members unreachable"),
                ))),
                Err(reply) => Ok(Turn::reply(reply)),
            };
        }
        match self.scope(ctx, arg, false, "members").await? {
            Ok(Scope::Unit(code)) => Ok(Turn::reply(self.members_page(ctx, &code, 0).await?)),
            Ok(Scope::Country) => Ok(Turn::reply(Reply::to_sender(
                Msg::new(&COV_NEED_UNIT).arg("command", "members"),
            ))),
            Err(reply) => Ok(Turn::reply(reply)),
        }
    }

    /// A page button of the post-check list.
    pub(in crate::conversation) async fn members_button(
        &self,
        ctx: &Ctx<'_>,
        code: &UnitCode,
        page: u32,
    ) -> Result<Turn> {
        match self
            .scope(ctx, Some(code.as_str()), false, "members")
            .await?
        {
            Ok(Scope::Unit(code)) => Ok(Turn::reply(self.members_page(ctx, &code, page).await?)),
            Ok(Scope::Country) => Ok(Turn::default()),
            Err(reply) => Ok(Turn::reply(reply)),
        }
    }

    /// A page button of the list of members who cannot be reached.
    pub(in crate::conversation) async fn unreachable_button(
        &self,
        ctx: &Ctx<'_>,
        code: &UnitCode,
        page: u32,
    ) -> Result<Turn> {
        match self
            .scope(ctx, Some(code.as_str()), false, "members")
            .await?
        {
            Ok(Scope::Unit(code)) => {
                Ok(Turn::reply(self.unreachable_page(ctx, &code, page).await?))
            }
            Ok(Scope::Country) => Ok(Turn::default()),
            Err(reply) => Ok(Turn::reply(reply)),
        }
    }

    /// One page of the members of `code`'s subtree who have not confirmed and cannot be
    /// reached by message now, with their unit and why, to print and visit in person.
    async fn unreachable_page(&self, ctx: &Ctx<'_>, code: &UnitCode, page: u32) -> Result<Reply> {
        let Some(unit) = self.store.unit(code).await? else {
            return Ok(Reply::to_sender(
                Msg::new(&COV_UNKNOWN_UNIT).arg("code", code),
            ));
        };
        let cuts = self.reach_cuts();
        let count = self.store.reach_of(code, &cuts).await?.unreachable.max(0) as usize;
        if count == 0 {
            return Ok(Reply::to_sender(
                Msg::new(&UNREACH_NONE).arg("unit", unit.name),
            ));
        }
        let pager = Pager::new(count, UNREACHABLE_PAGE, page);
        let list = self
            .store
            .unreachable_members(code, &cuts, pager.offset() as i64, UNREACHABLE_PAGE as i64)
            .await?;
        let locale = ctx.locale();
        let lines: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let why = match cuts.classify(m.platform, &m.contact) {
                    Reach::Unreachable(Unreachable::Blocked) => "blocked",
                    Reach::Unreachable(Unreachable::OptedOut) => "opted_out",
                    // The primary account's window closed (or only a linked one could
                    // have been used and is closed too).
                    _ => "window",
                };
                render(
                    locale,
                    &Msg::new(&UNREACH_ROW)
                        .arg("rank", pager.offset() + i + 1)
                        .arg("name", display(&m.display_name, m.id))
                        .arg("unit", format!("{} ({})", m.unit_name, m.unit_code))
                        .arg("platform", m.platform.as_str())
                        .arg("why", why),
                )
            })
            .collect();
        let here = code.clone();
        Ok(Reply::to_sender(
            Msg::new(&UNREACH_HEADER)
                .arg("unit", unit.name.clone())
                .arg("count", count)
                .arg("page", pager.page + 1)
                .arg("pages", pager.pages),
        )
        .para(Msg::new(&COV_TABLE).arg("rows", lines.join("\n")))
        .para(&UNREACH_HINT)
        .row(
            pager.nav(Msg::new(&BTN_COV_PREV), Msg::new(&BTN_COV_NEXT), |page| {
                Action::MembersUnreachable(here.clone(), page)
            }),
        ))
    }

    async fn members_page(&self, ctx: &Ctx<'_>, code: &UnitCode, page: u32) -> Result<Reply> {
        let Some(unit) = self.store.unit(code).await? else {
            return Ok(Reply::to_sender(
                Msg::new(&COV_UNKNOWN_UNIT).arg("code", code),
            ));
        };
        // Maintained counters give the number; only the page is read from people.
        let count = (unit.sub_members - unit.sub_confirmed).max(0) as usize;
        if unit.sub_members <= 0 {
            let link = self
                .unit_link(ctx, &unit.code, &StartPayload::Unit(unit.code.to_string()))
                .await?;
            return Ok(Reply::to_sender(
                Msg::new(&MEMBERS_EMPTY)
                    .arg("unit", unit.name)
                    .arg("code", unit.code)
                    .arg("link", link),
            ));
        }
        if count == 0 {
            return Ok(Reply::to_sender(
                Msg::new(&MEMBERS_NONE).arg("unit", unit.name),
            ));
        }
        // Counted by reachability on the spot only for a unit of moderate size (see
        // REACH_LINE_MAX); the list of the unreachable stays one button away for any unit.
        let reach = if count as i64 <= super::REACH_LINE_MAX {
            Some(self.store.reach_of(code, &self.reach_cuts()).await?)
        } else {
            None
        };
        let pager = Pager::new(count, MEMBERS_PAGE, page);
        let list = self
            .store
            .pending_members(code, pager.offset() as i64, MEMBERS_PAGE as i64)
            .await?;
        let locale = ctx.locale();
        let lines: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                render(
                    locale,
                    &Msg::new(&MEMBERS_ROW)
                        .arg("rank", pager.offset() + i + 1)
                        .arg("name", display(&m.display_name, m.id))
                        .arg("unit", m.unit_name.clone()),
                )
            })
            .collect();
        let mut reply = Reply::to_sender(
            Msg::new(&MEMBERS_HEADER)
                .arg("unit", unit.name.clone())
                .arg("count", count)
                .arg("page", pager.page + 1)
                .arg("pages", pager.pages),
        );
        if let Some(reach) = &reach {
            reply = reply.para(reach_msg(reach));
        }
        reply = reply.para(Msg::new(&COV_TABLE).arg("rows", lines.join("\n")));
        let buttons: Vec<Button> = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Button::action(
                    Msg::new(&BTN_VERIFY).arg("rank", pager.offset() + i + 1),
                    Action::Verify(m.id),
                )
            })
            .collect();
        for chunk in buttons.chunks(4) {
            reply = reply.row(chunk.to_vec());
        }
        let here = UnitCode::parse(code).map_err(anyhow::Error::msg)?;
        reply = reply.row(
            pager.nav(Msg::new(&BTN_COV_PREV), Msg::new(&BTN_COV_NEXT), |page| {
                Action::Members(here.clone(), page)
            }),
        );
        match reach.map(|r| r.unreachable) {
            Some(0) => {}
            Some(n) => {
                reply = reply.row(vec![Button::action(
                    Msg::new(&BTN_MEMBERS_UNREACHABLE).arg("count", n),
                    Action::MembersUnreachable(here, 0),
                )]);
            }
            // Too many to count on the spot: the button opens the list, which counts.
            None => {
                reply = reply.row(vec![Button::action(
                    Msg::new(&BTN_MEMBERS_UNREACHABLE).arg("count", "…"),
                    Action::MembersUnreachable(here, 0),
                )]);
            }
        }
        Ok(reply)
    }

    /// A verify button: the member must be in the leader's branch.
    pub(in crate::conversation) async fn verify_button(
        &self,
        ctx: &Ctx<'_>,
        id: i64,
    ) -> Result<Turn> {
        let Some(member) = self.store.person(id).await? else {
            return Ok(self.stale_button(ctx));
        };
        let allowed = match &member.unit_code {
            Some(unit) => self.may_act_on(ctx, unit).await?,
            None => false,
        };
        if !allowed {
            return Ok(Turn::reply(Reply::to_sender(&COV_NOT_YOURS)));
        }
        let name = display(&member.display_name, member.id);
        let msg = match self.store.verify_member(id, ctx.person.id).await? {
            VerifyOutcome::Verified {
                confirmed_now: true,
            } => Msg::new(&VERIFIED_CONFIRMED).arg("name", name),
            VerifyOutcome::Verified {
                confirmed_now: false,
            } => Msg::new(&VERIFIED_DONE).arg("name", name),
            VerifyOutcome::AlreadyVerified => Msg::new(&VERIFIED_ALREADY).arg("name", name),
            VerifyOutcome::Unknown => return Ok(self.stale_button(ctx)),
        };
        Ok(Turn {
            replies: vec![Reply::to_sender(msg.clone())],
            toast: Some(msg),
        })
    }
}

/// A member's name for lists; `#id` when the platform gave none.
fn display(name: &str, id: i64) -> String {
    if name.trim().is_empty() {
        format!("#{id}")
    } else {
        name.chars().take(64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::display;

    #[test]
    fn nameless_members_show_their_id() {
        assert_eq!(display("  ", 7), "#7");
    }
}
