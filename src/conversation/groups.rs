//! Member groups: a leader links a group chat to a unit with `/linkgroup`; the bot posts the
//! guide with an "I have installed" button; each member who presses it joins the unit (when
//! they had none) and is counted once. Unlinking, the bot's removal and a group upgraded to a
//! supergroup are handled here too.
//!
//! Only a leader of the unit (or a bot administrator) who is also an administrator of the
//! group may link it; the group check goes through the platform's
//! [`GroupAdmins`](crate::platform::group_admins::GroupAdmins) capability.

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::{Action, Button, Reply, Target, Turn};
use crate::coverage::keys::*;
use crate::domain::{ChatAddress, StartPayload, UnitCode};
use crate::i18n::Msg;
use crate::platform::ChatKind;

impl Engine {
    /// `/linkgroup` sent in a private chat: explain where to send it.
    pub(super) fn linkgroup_private(&self) -> Turn {
        Turn::reply(Reply::to_sender(&GROUP_LINK_PRIVATE))
    }

    /// `/linkgroup [CODE]` in a group.
    pub(super) async fn link_group(
        &self,
        ctx: &Ctx<'_>,
        chat: &ChatAddress,
        args: &str,
    ) -> Result<Turn> {
        let here = |msg: Msg| {
            Ok(Turn::reply(
                Reply::to_sender(msg).to(Target::Chat(chat.clone())),
            ))
        };
        let led = self.store.led_units(ctx.person.id).await?;
        if !ctx.is_admin && led.is_empty() {
            return here(Msg::new(&GROUP_LINK_NOT_LEADER));
        }
        let unit = match args.split_whitespace().next() {
            Some(raw) => {
                let Ok(code) = UnitCode::parse(raw) else {
                    return here(
                        Msg::new(&COV_UNKNOWN_UNIT)
                            .arg("code", raw.chars().take(32).collect::<String>()),
                    );
                };
                if self.store.unit(&code).await?.is_none() {
                    return here(Msg::new(&COV_UNKNOWN_UNIT).arg("code", code.as_str()));
                }
                if !self.may_act_on(ctx, &code).await? {
                    return here(Msg::new(&GROUP_LINK_NOT_LEADER));
                }
                code
            }
            None => match led.as_slice() {
                [only] => only.clone(),
                [] => return here(Msg::new(&COV_NEED_UNIT).arg("command", "linkgroup")),
                many => return here(Msg::new(&GROUP_LINK_WHICH).arg("units", many.join(", "))),
            },
        };
        let is_group_admin = self
            .platforms()
            .is_chat_admin(ctx.account(), &chat.chat_id, &ctx.inbound.sender.user_id)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = ?e, "checking the group's administrators failed");
                false
            });
        if !is_group_admin {
            return here(Msg::new(&GROUP_LINK_NOT_ADMIN));
        }
        let title = match &ctx.inbound.chat.kind {
            ChatKind::Group { title } => title.clone(),
            ChatKind::Private => String::new(),
        };
        self.store
            .link_group(
                ctx.platform(),
                &chat.account,
                &chat.chat_id,
                &unit,
                &title,
                ctx.person.id,
            )
            .await?;
        let name = self.unit_name(&unit).await?;
        let open = self
            .unit_link(ctx, &unit, &StartPayload::Unit(unit.to_string()))
            .await?;
        let linked = Reply::to_sender(
            Msg::new(&GROUP_LINKED)
                .arg("unit", name.clone())
                .arg("app", self.app()),
        )
        .to(Target::Chat(chat.clone()));
        Ok(Turn::replies(vec![
            linked,
            self.group_guide(chat, &name, &open),
        ]))
    }

    /// The guide posted in a linked group, with the store links and the button.
    fn group_guide(&self, chat: &ChatAddress, unit_name: &str, open_bot: &str) -> Reply {
        let c = &self.settings.campaign;
        Reply::to_sender(
            Msg::new(&GROUP_GUIDE)
                .arg("unit", unit_name)
                .arg("app", self.app())
                .arg("android", c.android_url.clone())
                .arg("ios", c.ios_url.clone()),
        )
        .to(Target::Chat(chat.clone()))
        .row(vec![
            Button::url(Msg::new(&BTN_GROUP_ANDROID), c.android_url.clone()),
            Button::url(Msg::new(&BTN_GROUP_IPHONE), c.ios_url.clone()),
        ])
        .row(vec![Button::action(
            Msg::new(&BTN_GROUP_INSTALLED).arg("app", self.app()),
            Action::GroupInstalled,
        )])
        .row(vec![Button::url(Msg::new(&BTN_GROUP_OPEN_BOT), open_bot)])
    }

    /// `/unlinkgroup` in a group: a leader of its unit (or a bot administrator) unlinks it.
    pub(super) async fn unlink_group(&self, ctx: &Ctx<'_>, chat: &ChatAddress) -> Result<Turn> {
        let here = |msg: Msg| {
            Ok(Turn::reply(
                Reply::to_sender(msg).to(Target::Chat(chat.clone())),
            ))
        };
        let Some(group) = self
            .store
            .member_group(ctx.platform(), &chat.chat_id)
            .await?
        else {
            return here(Msg::new(&GROUP_NOT_LINKED));
        };
        if !self.may_act_on(ctx, &group.unit_code).await? {
            return here(Msg::new(&GROUP_LINK_NOT_LEADER));
        }
        self.store
            .unlink_group(ctx.platform(), &chat.chat_id)
            .await?;
        let name = self.unit_name(&group.unit_code).await?;
        here(Msg::new(&GROUP_UNLINKED).arg("unit", name))
    }

    /// A button pressed in a group.
    pub(super) async fn group_button(
        &self,
        ctx: &Ctx<'_>,
        chat: &ChatAddress,
        data: &str,
    ) -> Result<Turn> {
        match Action::parse(data) {
            Some(Action::GroupInstalled) => self.group_installed(ctx, chat).await,
            _ => Ok(Turn::default()),
        }
    }

    /// "I have installed" in a linked group: join the unit (when the person has none yet),
    /// confirm once, and thank them privately if they started the bot, else in the group.
    async fn group_installed(&self, ctx: &Ctx<'_>, chat: &ChatAddress) -> Result<Turn> {
        let Some(group) = self
            .store
            .member_group(ctx.platform(), &chat.chat_id)
            .await?
        else {
            return Ok(Turn {
                replies: Vec::new(),
                toast: Some(Msg::new(&GROUP_NOT_LINKED)),
            });
        };
        let person = &ctx.person;
        let first_press = self
            .store
            .record_group_join(ctx.platform(), &chat.chat_id, person.id)
            .await?;
        if person.unit_code.is_none() {
            self.store
                .set_person_unit(person.id, Some(&group.unit_code))
                .await?;
        }
        let newly = self.store.confirm_install(person.id).await?;
        if !first_press && !newly {
            return Ok(Turn {
                replies: Vec::new(),
                toast: Some(Msg::new(&GROUP_ALREADY).arg("app", self.app())),
            });
        }
        let unit = person.unit_code.clone().unwrap_or(group.unit_code);
        let name = self.unit_name(&unit).await?;
        let thanks = if person.started {
            Reply::to_sender(
                Msg::new(&GROUP_THANKS_PRIVATE)
                    .arg("unit", name)
                    .arg("app", self.app()),
            )
        } else {
            Reply::to_sender(
                Msg::new(&GROUP_THANKS_PUBLIC)
                    .arg("name", person.display_name.clone())
                    .arg("app", self.app()),
            )
            .to(Target::Chat(chat.clone()))
        };
        Ok(Turn {
            replies: vec![thanks],
            toast: Some(
                Msg::new(&GROUP_THANKS_PUBLIC)
                    .arg("name", person.display_name.clone())
                    .arg("app", self.app()),
            ),
        })
    }

    /// The bot was removed from a group: forget the link.
    pub(super) async fn group_removed(&self, ctx: &Ctx<'_>, chat: &ChatAddress) -> Result<Turn> {
        if self
            .store
            .unlink_group(ctx.platform(), &chat.chat_id)
            .await?
        {
            tracing::info!(chat = %chat.chat_id, "removed from a linked group: unlinked");
        }
        Ok(Turn::default())
    }

    /// The group became a supergroup: the link follows the new chat id.
    pub(super) async fn group_migrated(
        &self,
        ctx: &Ctx<'_>,
        chat: &ChatAddress,
        to: &str,
    ) -> Result<Turn> {
        if self
            .store
            .migrate_group(ctx.platform(), &chat.chat_id, to)
            .await?
        {
            tracing::info!(from = %chat.chat_id, to, "linked group migrated to a supergroup");
        }
        Ok(Turn::default())
    }
}
