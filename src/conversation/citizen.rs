//! The citizen's journey: welcome, unit, phone, guide, confirmation, status and share link.

use anyhow::Result;

use super::action::PhoneKind;
use super::engine::{Ctx, Engine};
use super::keys::*;
use super::{Action, Button, Reply, State, Turn};
use crate::domain::{Locale, StartPayload, UnitCode};
use crate::i18n::Msg;
use crate::store::InviteError;

/// How long a person must have been away for "welcome back" (a day).
const ABSENCE_MS: i64 = 24 * 3600 * 1000;

impl Engine {
    /// `/start [payload]`.
    pub(super) async fn start(&self, ctx: &Ctx<'_>, args: &str) -> Result<(State, Turn)> {
        let person = &ctx.person;
        let mut replies = Vec::new();
        if person.opted_out {
            self.store.set_opted_out(person.id, false).await?;
            replies.push(Reply::to_sender(&RESUMED));
        }
        // "Welcome back" only after a real absence: a follow and a /start seconds apart, or
        // a second /start the same day, are one visit.
        let away = self.store.now() - person.last_activity_at >= ABSENCE_MS;
        let greeting = if ctx.is_new || !person.started || !away {
            Msg::new(&WELCOME).arg("app", self.app())
        } else {
            Msg::new(&WELCOME_BACK).arg("app", self.app())
        };
        let args = args.trim();
        let payload = if args.is_empty() {
            None
        } else {
            Some(StartPayload::parse(args))
        };
        match payload {
            None if ctx.is_admin => {
                replies.push(self.admin_menu());
                return Ok((State::Idle, Turn::replies(replies)));
            }
            None => {}
            Some(Err(_)) => {
                replies.push(Reply::to_sender(greeting).para(&LINK_UNKNOWN));
                let (state, mut next) = self.ask_unit_or_guide(ctx).await?;
                replies.append(&mut next);
                return Ok((state, Turn::replies(replies)));
            }
            Some(Ok(StartPayload::Unit(code))) => {
                replies.push(Reply::to_sender(greeting));
                // A code that cannot be a unit's is an unknown unit, like a missing one.
                if let Ok(code) = UnitCode::parse(&code)
                    && self.store.unit(&code).await?.is_some()
                    && self.serves_unit(ctx, &code).await?
                {
                    let mut turn = self.choose_unit(ctx, &code).await?;
                    replies.append(&mut turn.replies);
                    return Ok((State::Idle, Turn::replies(replies)));
                }
                replies.push(Reply::to_sender(&LINK_UNKNOWN));
                let (state, mut next) = self.ask_unit_or_guide(ctx).await?;
                replies.append(&mut next);
                return Ok((state, Turn::replies(replies)));
            }
            Some(Ok(StartPayload::Referral(code))) => {
                if let Some(referrer) = self.store.person_by_ref_code(&code).await? {
                    if ctx.is_new || !person.started {
                        self.store.credit_referral(person.id, referrer.id).await?;
                    }
                    // Friends usually share a unit: offer the referrer's as a shortcut.
                    if person.unit_code.is_none()
                        && let Some(unit_code) = &referrer.unit_code
                        && self.serves_unit(ctx, unit_code).await?
                        && let Some(unit) = self.store.unit(unit_code).await?
                    {
                        replies.push(Reply::to_sender(greeting));
                        let code = crate::domain::UnitCode::parse(&unit.code)
                            .map_err(anyhow::Error::msg)?;
                        replies.push(self.unit_prompt().row(vec![Button::action(
                            Msg::new(&BTN_CHOOSE_THIS).arg("unit", unit.name),
                            Action::ChooseUnit(code),
                        )]));
                        return Ok((State::AwaitingUnitSearch, Turn::replies(replies)));
                    }
                } else {
                    replies.push(Reply::to_sender(greeting.clone()).para(&LINK_UNKNOWN));
                    let (state, mut next) = self.ask_unit_or_guide(ctx).await?;
                    replies.append(&mut next);
                    return Ok((state, Turn::replies(replies)));
                }
            }
            Some(Ok(StartPayload::LeaderInvite(token))) => {
                let text = match self.store.redeem_invitation(&token, person.id).await? {
                    Ok(unit_code) => {
                        let name = self.unit_name(&unit_code).await?;
                        Msg::new(&INVITE_ACCEPTED).arg("unit", name)
                    }
                    Err(InviteError::Unknown) => Msg::new(&INVITE_UNKNOWN),
                    Err(InviteError::Expired) => Msg::new(&INVITE_EXPIRED),
                    Err(InviteError::Used) => Msg::new(&INVITE_USED),
                };
                replies.push(Reply::to_sender(text));
                return Ok((State::Idle, Turn::replies(replies)));
            }
        }
        // No payload (or a referral with nothing to suggest): carry on from where they are.
        replies.push(Reply::to_sender(greeting));
        if person.unit_code.is_none() {
            // Asked again on every /start, also after "skip for now".
            let (state, mut next) = self.ask_unit_or_guide(ctx).await?;
            replies.append(&mut next);
            return Ok((state, Turn::replies(replies)));
        }
        if person.confirmed_at.is_some() {
            replies.push(self.status(ctx).await?);
        } else {
            replies.push(self.phone_prompt());
        }
        Ok((State::Idle, Turn::replies(replies)))
    }

    /// The question "which unit?" with the browse button and "skip for now": the guide is
    /// never blocked by the unit question.
    pub(super) fn unit_prompt(&self) -> Reply {
        Reply::to_sender(&ASK_UNIT)
            .row(vec![Button::action(
                Msg::new(&BTN_BROWSE_UNITS),
                Action::Browse(None, 0),
            )])
            .row(vec![Button::action(
                Msg::new(&BTN_SKIP_UNIT),
                Action::SkipUnit,
            )])
    }

    /// The unit question when there are units to choose from; otherwise (an operator who has
    /// not imported any yet) straight on to the guide.
    pub(super) async fn ask_unit_or_guide(&self, ctx: &Ctx<'_>) -> Result<(State, Vec<Reply>)> {
        if self.store.has_units().await? {
            return Ok((State::AwaitingUnitSearch, vec![self.unit_prompt()]));
        }
        if ctx.person.confirmed_at.is_some() {
            return Ok((State::Idle, vec![self.status(ctx).await?]));
        }
        Ok((State::Idle, self.guide(ctx).await?.replies))
    }

    /// "Skip for now": the guide without a unit; the unit is asked again later (on /start,
    /// in /status and after the confirmation).
    pub(super) async fn skip_unit(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        if ctx.person.unit_code.is_some() {
            return self.guide(ctx).await;
        }
        self.store.set_unit_skipped(ctx.person.id, true).await?;
        let mut replies = vec![Reply::to_sender(&UNIT_SKIPPED)];
        if ctx.person.confirmed_at.is_some() {
            replies.push(self.status(ctx).await?);
        } else {
            replies.append(&mut self.guide(ctx).await?.replies);
        }
        Ok(Turn::replies(replies))
    }

    /// The unit prompt, as the answer to the search button.
    pub(super) fn ask_unit(&self) -> Reply {
        self.unit_prompt()
    }

    /// Android or iPhone?
    pub(super) fn phone_prompt(&self) -> Reply {
        Reply::to_sender(&ASK_PHONE).row(vec![
            Button::action(Msg::new(&BTN_ANDROID), Action::Phone(PhoneKind::Android)),
            Button::action(Msg::new(&BTN_IPHONE), Action::Phone(PhoneKind::Iphone)),
        ])
    }

    /// The step-by-step guide for a phone, with the official store link.
    pub(super) fn guide_for(&self, kind: PhoneKind) -> Reply {
        let c = &self.settings.campaign;
        let (key, link, store_label) = match kind {
            PhoneKind::Android => (&GUIDE_ANDROID, &c.android_url, &BTN_OPEN_STORE_ANDROID),
            PhoneKind::Iphone => (&GUIDE_IPHONE, &c.ios_url, &BTN_OPEN_STORE_IPHONE),
        };
        Reply::to_sender(Msg::new(key).arg("app", self.app()).arg("link", link))
            .para(
                Msg::new(&GUIDE_WARNING)
                    .arg("app", self.app())
                    .arg("website", c.website.clone()),
            )
            .row(vec![Button::url(Msg::new(store_label), link.clone())])
            .row(vec![Button::action(
                Msg::new(&BTN_INSTALLED).arg("app", self.app()),
                Action::Installed,
            )])
            .row(vec![Button::action(
                Msg::new(&BTN_OTHER_PHONE),
                Action::Phone(match kind {
                    PhoneKind::Android => PhoneKind::Iphone,
                    PhoneKind::Iphone => PhoneKind::Android,
                }),
            )])
    }

    /// `/guide`: the guide for the person's phone, or the phone question.
    pub(super) async fn guide(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        let kind = ctx.person.phone_kind.as_deref().and_then(PhoneKind::parse);
        Ok(Turn::reply(match kind {
            Some(k) => self.guide_for(k),
            None => self.phone_prompt(),
        }))
    }

    /// A reminder's "remind me tomorrow": the tap itself is the person's activity, which opens
    /// a new free window and plans the next reminder inside it (the scheduler does that);
    /// this only says so, with the help and "installed" buttons at hand.
    pub(super) fn remind_tomorrow(&self) -> Reply {
        Reply::to_sender(Msg::new(&REMIND_TOMORROW_OK).arg("app", self.app()))
            .row(vec![Button::action(
                Msg::new(&BTN_INSTALLED).arg("app", self.app()),
                Action::Installed,
            )])
            .row(vec![Button::action(
                Msg::new(&BTN_REMIND_HELP),
                Action::Guide,
            )])
    }

    /// Joins a unit and moves on to the phone question.
    pub(super) async fn choose_unit(&self, ctx: &Ctx<'_>, code: &UnitCode) -> Result<Turn> {
        // A unit the account does not serve is as unknown as a missing one.
        let unit = match self.store.unit(code).await? {
            Some(u) if self.serves_unit(ctx, code).await? => Some(u),
            _ => None,
        };
        let Some(unit) = unit else {
            return Ok(Turn::replies(vec![
                Reply::to_sender(&UNIT_UNKNOWN),
                self.unit_prompt(),
            ]));
        };
        self.store
            .set_person_unit(ctx.person.id, Some(&unit.code))
            .await?;
        self.store.set_unit_skipped(ctx.person.id, false).await?;
        let joined = Reply::to_sender(Msg::new(&UNIT_JOINED).arg("unit", unit.name));
        if ctx.person.confirmed_at.is_some() {
            let status = self.status(ctx).await?;
            return Ok(Turn::replies(vec![joined, status]));
        }
        Ok(Turn::replies(vec![joined, self.phone_prompt()]))
    }

    /// "I have installed": counts once, thanks, and hands out the share link.
    pub(super) async fn installed(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        let newly = self.store.confirm_install(ctx.person.id).await?;
        let head = if newly {
            Msg::new(&THANKS).arg("app", self.app())
        } else {
            Msg::new(&ALREADY_CONFIRMED).arg("app", self.app())
        };
        let link = self.share_link(ctx);
        let mut replies = vec![
            Reply::to_sender(head)
                .para(Msg::new(&SHARE).arg("link", link.clone()))
                .row(self.share_button(ctx, &link))
                .row(vec![Button::action(Msg::new(&BTN_STATUS), Action::Status)]),
        ];
        if ctx.person.unit_code.is_none() {
            replies.push(
                Reply::to_sender(&CONFIRMED_NEEDS_UNIT).row(vec![Button::action(
                    Msg::new(&BTN_BROWSE_UNITS),
                    Action::Browse(None, 0),
                )]),
            );
        }
        Ok(Turn {
            replies,
            toast: Some(head_toast(newly, self.app())),
        })
    }

    /// The person's own share link.
    pub(super) fn share_link(&self, ctx: &Ctx<'_>) -> String {
        self.deep_link(
            ctx.account(),
            &StartPayload::Referral(ctx.person.ref_code.clone()),
        )
    }

    /// The status, after a turn that may have changed the unit or the confirmation (the
    /// person is read again).
    pub(super) async fn status(&self, ctx: &Ctx<'_>) -> Result<Reply> {
        let person = self
            .store
            .person(ctx.person.id)
            .await?
            .unwrap_or_else(|| ctx.person.clone());
        self.status_of(ctx, &person).await
    }

    /// `/status` and its button: the person as read at the start of the event, which
    /// changed nothing since.
    pub(super) async fn status_now(&self, ctx: &Ctx<'_>) -> Result<Reply> {
        self.status_of(ctx, &ctx.person).await
    }

    async fn status_of(&self, ctx: &Ctx<'_>, person: &crate::store::Person) -> Result<Reply> {
        let mut reply = Reply::to_sender(&STATUS_HEADER);
        let mut lines = Vec::new();
        match &person.unit_code {
            Some(code) => {
                lines.push(Msg::new(&STATUS_UNIT).arg("unit", self.unit_name(code).await?))
            }
            None => lines.push(Msg::new(&STATUS_NO_UNIT)),
        }
        match person.confirmed_at {
            Some(ms) => lines.push(
                Msg::new(&STATUS_CONFIRMED)
                    .arg("app", self.app())
                    .arg("date", self.local_date(ms)),
            ),
            None => lines.push(Msg::new(&STATUS_NOT_CONFIRMED).arg("app", self.app())),
        }
        lines.push(Msg::new(&STATUS_REFERRALS).arg("count", person.referrals));
        if person.opted_out {
            lines.push(Msg::new(&STATUS_REMINDERS_OFF));
        }
        for l in lines {
            reply = reply.para(l);
        }
        let link = self.deep_link(
            ctx.account(),
            &StartPayload::Referral(person.ref_code.clone()),
        );
        reply = reply.para(Msg::new(&SHARE).arg("link", link));
        if person.confirmed_at.is_none() {
            reply = reply.row(vec![Button::action(
                Msg::new(&BTN_INSTALLED).arg("app", self.app()),
                Action::Installed,
            )]);
            reply = reply.row(vec![Button::action(Msg::new(&BTN_GUIDE), Action::Guide)]);
        }
        if person.unit_code.is_none() {
            reply = reply.row(vec![Button::action(
                Msg::new(&BTN_CHOOSE_UNIT),
                Action::Browse(None, 0),
            )]);
        }
        Ok(reply)
    }

    /// A date in the campaign's time zone, `dd/mm/yyyy`.
    pub(super) fn local_date(&self, ms: i64) -> String {
        let tz = self
            .settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        match chrono::DateTime::from_timestamp_millis(ms) {
            Some(t) => t.with_timezone(&tz).format("%d/%m/%Y").to_string(),
            None => String::new(),
        }
    }

    /// The language buttons.
    pub(super) fn language_menu(&self) -> Reply {
        Reply::to_sender(&CHOOSE_LANGUAGE).row(vec![
            Button::action(Msg::new(&LANGUAGE_NAME_VI), Action::Language(Locale::Vi)),
            Button::action(Msg::new(&LANGUAGE_NAME_EN), Action::Language(Locale::En)),
        ])
    }

    /// `/help`: the citizen's commands, plus the leader's and administrator's when they apply.
    pub(super) async fn help(&self, ctx: &Ctx<'_>) -> Result<Reply> {
        let mut reply = Reply::to_sender(Msg::new(&HELP_CITIZEN).arg("app", self.app()));
        if ctx.is_admin || !self.store.led_units(ctx.person.id).await?.is_empty() {
            reply = reply.para(&HELP_LEADER);
        }
        if ctx.is_admin {
            reply = reply.para(&HELP_ADMIN);
        }
        Ok(self.main_menu(reply))
    }

    /// The short help for anything the bot does not understand.
    pub(super) fn short_help(&self, _ctx: &Ctx<'_>) -> Reply {
        self.main_menu(Reply::to_sender(
            Msg::new(&SHORT_HELP).arg("app", self.app()),
        ))
    }

    /// Adds the main buttons to a reply.
    pub(super) fn main_menu(&self, reply: Reply) -> Reply {
        reply
            .row(vec![
                Button::action(Msg::new(&BTN_GUIDE), Action::Guide),
                Button::action(
                    Msg::new(&BTN_INSTALLED).arg("app", self.app()),
                    Action::Installed,
                ),
            ])
            .row(vec![
                Button::action(Msg::new(&BTN_STATUS), Action::Status),
                Button::action(Msg::new(&BTN_CHOOSE_UNIT), Action::SearchUnit),
            ])
            .row(vec![Button::action(
                Msg::new(&BTN_LANGUAGE),
                Action::LanguageMenu,
            )])
    }
}

fn head_toast(newly: bool, app: String) -> Msg {
    if newly {
        Msg::new(&THANKS).arg("app", app)
    } else {
        Msg::new(&ALREADY_CONFIRMED).arg("app", app)
    }
}

impl Engine {
    /// The "share with friends" button for the person's own `link`, the way their platform
    /// shares (none where it has no way a button can open).
    fn share_button(&self, ctx: &Ctx<'_>, link: &str) -> Vec<Button> {
        let text = crate::i18n::render(ctx.locale(), &Msg::new(&SHARE_TEXT).arg("app", self.app()));
        self.share_url(ctx.account(), link, &text)
            .map(|url| Button::url(Msg::new(&BTN_SHARE), url))
            .into_iter()
            .collect()
    }
}
