//! The engine: loads the person, routes the event, persists the new state and queues the
//! rendered replies in one transaction.

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::Notify;

use super::keys::*;
use super::reply::Attachment;
use super::{Action, ButtonAction, Reply, State, Target, Turn};
use crate::config::Settings;
use crate::domain::{ChatAddress, Locale, Platform, StartPayload, UnitCode};
use crate::i18n::{Msg, render, render_all};
use crate::platform::{ChatKind, Event, Inbound, OutButton, Outgoing};
use crate::store::{Enqueued, NewOutboxItem, Person, Priority, ReadAhead, Sender, Store};

/// What runs first in an event's transaction, and may stop it (the inbox claims webhook
/// events with it, so the claim commits with the event's work or not at all).
#[async_trait::async_trait]
pub trait Guard: Send + Sync {
    /// Whether to handle the event ([`Entry::Stop`] rolls the transaction back, see
    /// [`Guard::wrote_nothing`]). `sender` is whom the engine reads next: a guard may read
    /// their row in its own statement and hand it on ([`Entry::Go`]).
    async fn enter(&self, store: &Store, sender: Sender<'_>) -> Result<Entry>;

    /// After `enter` said no: whether it wrote nothing. The event's work then leaves its
    /// transaction without undoing it, so the events sharing it (group commit) are not run
    /// again for a retried delivery.
    fn wrote_nothing(&self) -> bool {
        false
    }
}

/// What a [`Guard`] decided.
pub enum Entry {
    /// Handle the event, with the sender's row if the guard read it ahead.
    Go(ReadAhead),
    /// Do not: the transaction is rolled back (or left, see [`Guard::wrote_nothing`]).
    Stop,
}

/// How an event's work inside its transaction ended.
enum Step {
    /// Ready to commit (its turn is queued in the work).
    Done,
    /// The conversation failed: roll back, then apologise.
    Failed(anyhow::Error),
}

/// The longest text the bot reads; longer messages get a polite refusal.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The conversation engine. Cheap to clone; shared by every platform adapter.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) settings: Arc<Settings>,
    outbox_ready: Arc<Notify>,
    /// The configured platform accounts, asked what they can do: deep links and share
    /// links, edits, pictures, group administrators (`/linkgroup`).
    platforms: crate::platform::Platforms,
}

/// What a handler knows about the event it handles.
pub(crate) struct Ctx<'a> {
    /// The sender's account, as loaded at the start of the event.
    pub person: Person,
    /// Whether the account is new.
    pub is_new: bool,
    /// The whole event.
    pub inbound: &'a Inbound,
    /// Whether the sender is an administrator (of every account, or of this one).
    pub is_admin: bool,
    /// The unit the account serves (`None`: the whole country): the units the sender finds,
    /// chooses and links to are under it, and an administrator the account names acts under
    /// it.
    pub root: Option<UnitCode>,
    /// Whether the sender is an administrator of every account (`BLUEZONE_ADMINS`): they
    /// act on the whole country wherever they write.
    pub global_admin: bool,
    /// Whether messages in this chat can be edited in place (asked of the platform).
    pub edits_messages: bool,
}

impl Ctx<'_> {
    pub fn locale(&self) -> Locale {
        self.person.locale
    }

    pub fn platform(&self) -> Platform {
        self.inbound.platform
    }

    /// The account the event is for.
    pub fn account(&self) -> &str {
        &self.inbound.account
    }

    /// Where the sender acts as an administrator: `Some(None)` on the whole country (a
    /// global administrator, or an administrator of an account that serves it), `Some(root)`
    /// under the account's root, `None` when they are no administrator.
    pub fn admin_scope(&self) -> Option<Option<&UnitCode>> {
        match (self.is_admin, self.global_admin) {
            (false, _) => None,
            (true, true) => Some(None),
            (true, false) => Some(self.root.as_ref()),
        }
    }

    /// The sender's id as written in `BLUEZONE_ADMINS` and audit trails.
    pub fn qualified_id(&self) -> String {
        format!("{}:{}", self.inbound.platform, self.inbound.sender.user_id)
    }
}

impl Engine {
    /// An engine over `store`. `outbox_ready` is notified whenever replies are queued, so the
    /// sender wakes at once.
    pub fn new(store: Store, settings: Arc<Settings>, outbox_ready: Arc<Notify>) -> Engine {
        Engine {
            store,
            platforms: crate::platform::Platforms::new(&settings),
            settings,
            outbox_ready,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configured platform accounts and their answers to capability questions; accounts
    /// register their group-administrator checks at startup.
    pub fn platforms(&self) -> &crate::platform::Platforms {
        &self.platforms
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Handles one inbound event end to end, in one transaction. Errors are logged and
    /// answered with a short apology; they never take the service down.
    #[tracing::instrument(skip_all, fields(account = %inbound.account, user = %inbound.sender.user_id))]
    pub async fn handle(&self, inbound: &Inbound) -> Result<()> {
        self.handle_guarded(inbound, None).await.map(|_| ())
    }

    /// Handles one inbound event in one transaction ([`Store::work`]): `guard` first (a
    /// webhook event's claim), then the person read and touched, the conversation, the new
    /// state and the replies queued, all committed together. When the conversation fails,
    /// everything it did is rolled back and, in a new transaction, the person gets a short
    /// apology. False when `guard` said no (nothing was written). Errors (the database)
    /// leave nothing written. The transaction may be shared with events that arrived at the
    /// same time (group commit); if anything fails there, the event runs again alone, so a
    /// failure (and the apology) is only ever the event's own.
    #[tracing::instrument(skip_all, fields(platform = %inbound.platform, user = %inbound.sender.user_id))]
    pub async fn handle_guarded(
        &self,
        inbound: &Inbound,
        guard: Option<&dyn Guard>,
    ) -> Result<bool> {
        let kind = crate::metrics::event_kind(&inbound.event);
        crate::metrics::record_inbound(inbound.platform, kind);
        let mut apology = false;
        // Group commit: the first attempt may share its transaction with other events. When
        // anything goes wrong there (this event or another), everyone's writes are undone
        // and the event runs again in a transaction of its own, where a failure is its own.
        let mut alone = false;
        // Transactions PostgreSQL gave up (a deadlock, see `store::is_transient`) run again
        // alone, a few times, after a short pause.
        let mut transient = 0u32;
        loop {
            let work = match alone {
                true => self.store.work_alone().await?,
                false => self.store.work().await?,
            };
            let shared = |work: &crate::store::Work| !alone && work.shared();
            let mut ahead = ReadAhead::nothing();
            if let Some(g) = guard {
                let sender = Sender {
                    account: &inbound.account,
                    user_id: &inbound.sender.user_id,
                };
                match g.enter(work.store(), sender).await {
                    Ok(Entry::Go(read)) => ahead = read,
                    Ok(Entry::Stop) if g.wrote_nothing() => {
                        // Committing nothing: whatever becomes of the others' writes, this
                        // event has nothing to do (but, the last to finish, it passes on
                        // what the others queued).
                        if let Ok(queued) = work.commit().await {
                            self.pass_on(queued).await;
                        }
                        return Ok(false);
                    }
                    Ok(Entry::Stop) => {
                        work.rollback().await;
                        return Ok(false);
                    }
                    Err(_) if shared(&work) => {
                        work.rollback().await;
                        alone = true;
                        continue;
                    }
                    Err(e) => {
                        work.rollback().await;
                        if again(&e, &mut transient).await {
                            alone = true;
                            continue;
                        }
                        return Err(e);
                    }
                }
            }
            let engine = Engine {
                store: work.store().clone(),
                ..self.clone()
            };
            let step = engine.handle_in(inbound, apology, ahead).await;
            if !alone && (step.is_err() || matches!(step, Ok(Step::Failed(_)))) && work.shared() {
                work.rollback().await;
                alone = true;
                continue;
            }
            match step {
                Ok(Step::Done) => match work.commit().await {
                    Ok(queued) => {
                        self.pass_on(queued).await;
                        return Ok(true);
                    }
                    Err(e) if !alone && e.is::<crate::store::Undone>() => {
                        alone = true;
                        continue;
                    }
                    Err(e) if again(&e, &mut transient).await => {
                        alone = true;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
                Ok(Step::Failed(e)) | Err(e) if crate::store::is_transient(&e) => {
                    work.rollback().await;
                    if again(&e, &mut transient).await {
                        alone = true;
                        continue;
                    }
                    return Err(e);
                }
                Ok(Step::Failed(e)) if !apology => {
                    tracing::error!(error = ?e, "handling an event failed; apologising");
                    work.rollback().await;
                    apology = true;
                    alone = true;
                }
                Ok(Step::Failed(e)) => {
                    work.rollback().await;
                    return Err(e);
                }
                Err(e) => {
                    work.rollback().await;
                    return Err(e);
                }
            }
        }
    }

    /// The event's work inside its transaction (this engine's store is bound to it). With
    /// `apology`, the conversation is skipped and the person gets the short apology.
    async fn handle_in(&self, inbound: &Inbound, apology: bool, ahead: ReadAhead) -> Result<Step> {
        let is_group = matches!(inbound.chat.kind, ChatKind::Group { .. });
        // Platform-level membership events need no conversation.
        match &inbound.event {
            Event::Blocked => {
                self.store
                    .mark_unreachable(&inbound.account, &inbound.sender.private_chat_id, "blocked")
                    .await?;
                return Ok(Step::Done);
            }
            Event::Unblocked if !is_group => {
                if let Some(p) = self
                    .store
                    .person_by_platform_id(&inbound.account, &inbound.sender.user_id)
                    .await?
                {
                    self.store.save_state(p.id, &p.state).await?;
                }
                return Ok(Step::Done);
            }
            _ => {}
        }
        let sender = Sender {
            account: &inbound.account,
            user_id: &inbound.sender.user_id,
        };
        let (person, is_new) = self
            .store
            .touch_person_ahead(
                inbound.platform,
                sender,
                &inbound.sender.private_chat_id,
                &inbound.sender.display_name,
                Locale::from_language_tag(inbound.sender.language_code.as_deref()),
                ahead,
            )
            .await?;
        let ctx = Ctx {
            is_admin: self.is_admin(&inbound.account, inbound.platform, &inbound.sender.user_id),
            global_admin: self
                .platforms
                .is_global_admin(inbound.platform, &inbound.sender.user_id),
            root: self.platforms.root(&inbound.account),
            edits_messages: self.platforms.edits_messages(&inbound.account),
            person,
            is_new,
            inbound,
        };
        let (new_state, turn) = if apology {
            (State::Idle, Turn::reply(Reply::to_sender(&ERROR_GENERIC)))
        } else {
            let state = ctx.person.state.clone();
            let result = if is_group {
                self.route_group(&ctx).await.map(|t| (state, t))
            } else {
                self.route_private(&ctx, state).await
            };
            match result {
                Ok(r) => r,
                Err(e) => return Ok(Step::Failed(e)),
            }
        };
        // A group event does not change the sender's private conversation.
        let save = if is_group { None } else { Some(new_state) };
        self.queue_turn(&ctx, save, turn).await?;
        Ok(Step::Done)
    }

    /// Whether `user_id` on `platform` is an administrator on account `account` (a global
    /// one, or one the account names).
    pub fn is_admin(&self, account: &str, platform: Platform, user_id: &str) -> bool {
        self.platforms.is_admin(account, platform, user_id)
    }

    async fn route_private(&self, ctx: &Ctx<'_>, state: State) -> Result<(State, Turn)> {
        // The first words of someone the bot has not met ("hello", "xin chào", a sticker)
        // start the journey exactly as /start does.
        if (ctx.is_new || !ctx.person.started)
            && matches!(
                ctx.inbound.event,
                Event::Text(_) | Event::Photo { .. } | Event::Unsupported
            )
        {
            return self.start(ctx, "").await;
        }
        match &ctx.inbound.event {
            Event::Command { name, args } => self.command(ctx, name, args).await,
            Event::Button { data, .. } => match Action::parse(data) {
                Some(action) => self.button(ctx, action).await,
                None => Ok((state, self.stale_button(ctx))),
            },
            Event::Text(text) => {
                if text.chars().count() > MAX_TEXT_CHARS {
                    let reply =
                        Reply::to_sender(Msg::new(&TOO_LONG).arg("max", MAX_TEXT_CHARS as i64));
                    return Ok((state, Turn::reply(reply)));
                }
                self.text(ctx, state, text).await
            }
            Event::Photo { photo, caption } => match state {
                State::BroadcastText { unit } => {
                    self.broadcast_message(ctx, &unit, caption, Some(photo))
                        .await
                }
                _ => Ok((State::Idle, Turn::reply(self.short_help(ctx)))),
            },
            _ => Ok((State::Idle, Turn::reply(self.short_help(ctx)))),
        }
    }

    async fn command(&self, ctx: &Ctx<'_>, name: &str, args: &str) -> Result<(State, Turn)> {
        let turn = match name {
            "start" => return self.start(ctx, args).await,
            "guide" => self.guide(ctx).await?,
            "installed" => self.installed(ctx).await?,
            "status" => Turn::reply(self.status_now(ctx).await?),
            "language" => Turn::reply(self.language_menu()),
            "help" => Turn::reply(self.help(ctx).await?),
            "stop" => {
                self.store.set_opted_out(ctx.person.id, true).await?;
                Turn::reply(Reply::to_sender(&STOPPED))
            }
            "invite_leader" => self.invite_leader(ctx, args).await?,
            "broadcast" => return self.broadcast_start(ctx, args).await,
            "broadcasts" => self.broadcast_list(ctx).await?,
            "link" => self.link(ctx, args).await?,
            "coverage" => self.coverage_cmd(ctx, args).await?,
            "chart" => self.chart_cmd(ctx, Some(args)).await?,
            "export" => self.export_cmd(ctx, Some(args)).await?,
            "report" => self.report_cmd(ctx, args).await?,
            "members" => self.members_cmd(ctx, Some(args)).await?,
            "invite" => self.invite_cmd(ctx, Some(args)).await?,
            "linkgroup" | "unlinkgroup" => self.linkgroup_private(),
            _ => Turn::reply(self.short_help(ctx)),
        };
        Ok((State::Idle, turn))
    }

    async fn button(&self, ctx: &Ctx<'_>, action: Action) -> Result<(State, Turn)> {
        let turn = match action {
            Action::Language(locale) => {
                self.store.set_locale(ctx.person.id, locale).await?;
                Turn::reply(self.main_menu(Reply::to_sender(&LANGUAGE_SET)))
            }
            Action::ChooseUnit(code) => {
                // A unit that is gone gets the search prompt, so the next text is a search.
                let gone = self.store.unit(&code).await?.is_none()
                    || !self.serves_unit(ctx, &code).await?;
                let turn = self.choose_unit(ctx, &code).await?;
                if gone {
                    return Ok((State::AwaitingUnitSearch, turn));
                }
                turn
            }
            Action::Browse(code, page) => {
                Turn::reply(self.browse(ctx.root.as_ref(), code.as_ref(), page).await?)
            }
            Action::SearchUnit => {
                return Ok((State::AwaitingUnitSearch, Turn::reply(self.ask_unit())));
            }
            Action::Phone(kind) => {
                self.store
                    .set_phone_kind(ctx.person.id, kind.as_str())
                    .await?;
                Turn::reply(self.guide_for(kind))
            }
            Action::Installed => self.installed(ctx).await?,
            Action::Guide => self.guide(ctx).await?,
            Action::Status => Turn::reply(self.status_now(ctx).await?),
            Action::LanguageMenu => Turn::reply(self.language_menu()),
            Action::BroadcastAudience(id, only) => self.broadcast_audience(ctx, id, only).await?,
            Action::BroadcastConfirm(id) => {
                self.broadcast_confirm(ctx, id, crate::reach::Spend::FreeOnly)
                    .await?
            }
            Action::BroadcastConfirmSpend(id, spend) => {
                self.broadcast_confirm(ctx, id, spend).await?
            }
            Action::BroadcastDiscard(id) => self.broadcast_discard(ctx, id).await?,
            Action::BroadcastStopAsk(id) => self.broadcast_stop_ask(ctx, id).await?,
            Action::BroadcastStop(id) => self.broadcast_stop(ctx, id).await?,
            Action::BroadcastKeep(id) => Turn::reply(Reply::to_sender(
                Msg::new(&crate::broadcast::keys::BC_KEPT).arg("id", id),
            )),
            Action::Coverage(code, page) => self.coverage_button(ctx, code, page).await?,
            Action::Chart(code) => self.chart_cmd(ctx, Some(opt_str(&code))).await?,
            Action::Export(code) => self.export_cmd(ctx, Some(opt_str(&code))).await?,
            Action::Members(code, page) => self.members_button(ctx, &code, page).await?,
            Action::MembersUnreachable(code, page) => {
                self.unreachable_button(ctx, &code, page).await?
            }
            Action::Verify(id) => self.verify_button(ctx, id).await?,
            Action::GroupInstalled => self.installed(ctx).await?,
            Action::SkipUnit => self.skip_unit(ctx).await?,
            Action::BroadcastPick => return self.broadcast_start(ctx, "").await,
            Action::BroadcastTo(code) => return self.broadcast_start(ctx, code.as_str()).await,
            Action::InviteLeaderHelp => self.invite_leader_help(ctx).await?,
            Action::RemindTomorrow => Turn::reply(self.remind_tomorrow()),
        };
        Ok((State::Idle, turn))
    }

    async fn text(&self, ctx: &Ctx<'_>, state: State, text: &str) -> Result<(State, Turn)> {
        match state {
            State::AwaitingUnitSearch => self.search(ctx, text).await,
            State::BroadcastText { unit } => self.broadcast_message(ctx, &unit, text, None).await,
            State::Idle => {
                // A person who has not chosen a unit yet is most likely typing its name,
                // unless they chose to skip it for now (or there are no units at all).
                if ctx.person.unit_code.is_none()
                    && ctx.person.started
                    && !self.store.unit_skipped(ctx.person.id).await?
                    && self.store.has_units().await?
                {
                    return self.search(ctx, text).await;
                }
                Ok((State::Idle, Turn::reply(self.short_help(ctx))))
            }
        }
    }

    async fn route_group(&self, ctx: &Ctx<'_>) -> Result<Turn> {
        let chat = ChatAddress {
            platform: ctx.platform(),
            account: ctx.inbound.account.clone(),
            chat_id: ctx.inbound.chat.id.clone(),
            is_group: true,
        };
        match &ctx.inbound.event {
            Event::AddedToGroup => Ok(Turn::reply(
                Reply::to_sender(Msg::new(&GROUP_HELLO).arg("app", self.app()))
                    .to(Target::Chat(chat)),
            )),
            Event::Command { name, args } if name == "linkgroup" => {
                self.link_group(ctx, &chat, args).await
            }
            Event::Command { name, .. } if name == "unlinkgroup" => {
                self.unlink_group(ctx, &chat).await
            }
            Event::Button { data, .. } => self.group_button(ctx, &chat, data).await,
            Event::RemovedFromGroup => self.group_removed(ctx, &chat).await,
            Event::GroupMigrated { to_chat_id } => {
                self.group_migrated(ctx, &chat, to_chat_id).await
            }
            Event::Command { name, .. } if name == "help" || name == "start" => Ok(Turn::reply(
                Reply::to_sender(Msg::new(&GROUP_HELLO).arg("app", self.app()))
                    .to(Target::Chat(chat)),
            )),
            _ => Ok(Turn::default()),
        }
    }

    pub(super) fn stale_button(&self, _ctx: &Ctx<'_>) -> Turn {
        Turn {
            replies: vec![self.main_menu(Reply::to_sender(&STALE_BUTTON))],
            toast: Some(Msg::new(&STALE_BUTTON)),
        }
    }

    /// The campaign's app name.
    pub(super) fn app(&self) -> String {
        self.settings.campaign.app_name.clone()
    }

    /// A deep link that opens account `account` with `payload`.
    pub fn deep_link(&self, account: &str, payload: &StartPayload) -> String {
        self.platforms.deep_link(account, payload)
    }

    /// Where a share button on account `account` points for `link`, if its platform has one.
    pub fn share_url(&self, account: &str, link: &str, text: &str) -> Option<String> {
        self.platforms.share_url(account, link, text)
    }

    /// Renders a turn and writes it, with the new state (in the event's transaction); what
    /// was queued (replies this process sends are claimed as they are written, to be handed
    /// to its sender once the transaction commits).
    /// Queues the turn in the event's work: the new state (unless saving it would change
    /// nothing) and the replies, written when the work commits.
    async fn queue_turn(&self, ctx: &Ctx<'_>, state: Option<State>, turn: Turn) -> Result<()> {
        let mut items = Vec::new();
        if let Event::Button {
            callback_id: Some(id),
            ..
        } = &ctx.inbound.event
        {
            items.push(NewOutboxItem {
                to: self.sender_address(ctx),
                person_id: Some(ctx.person.id),
                broadcast_id: None,
                priority: Priority::Reply,
                message: Outgoing::AnswerCallback {
                    callback_id: id.clone(),
                    text: turn.toast.as_ref().map(|m| render(ctx.locale(), m)),
                },
                dedupe_key: None,
            });
        }
        // The person may have switched language during this turn (only the language buttons
        // do that).
        let locale = match &ctx.inbound.event {
            Event::Button { data, .. }
                if matches!(Action::parse(data), Some(Action::Language(_))) =>
            {
                match self.store.person(ctx.person.id).await? {
                    Some(p) => p.locale,
                    None => ctx.locale(),
                }
            }
            _ => ctx.locale(),
        };
        for reply in turn.replies {
            let (to, person_id, locale) = match &reply.to {
                Target::Sender => (self.sender_address(ctx), Some(ctx.person.id), locale),
                Target::Chat(addr) => (addr.clone(), None, Locale::Vi),
                Target::Person(id) => match self.store.person(*id).await? {
                    Some(p) => (p.address(), Some(p.id), p.locale),
                    None => continue,
                },
            };
            items.push(NewOutboxItem {
                to,
                person_id,
                broadcast_id: None,
                priority: Priority::Reply,
                message: render_reply(locale, reply),
                dedupe_key: None,
            });
        }
        let now = self.store.now();
        let save = state
            .as_ref()
            .filter(|s| !ctx.person.saves_nothing(s, now))
            .map(|s| (ctx.person.id, s));
        self.store.queue_turn(save, items)
    }

    /// What a committed transaction queued: the replies claimed for this process's senders
    /// go to them now; the others wait for a sender's claim, whom this wakes.
    async fn pass_on(&self, queued: Enqueued) {
        if !queued.handed.is_empty() {
            self.store.hand_over(queued.handed).await;
        }
        if queued.waiting {
            self.wake_outbox();
        }
    }

    /// Wakes the sender workers (something was queued outside an event's turn).
    pub(crate) fn wake_outbox(&self) {
        self.outbox_ready.notify_waiters();
        self.outbox_ready.notify_one();
    }

    fn sender_address(&self, ctx: &Ctx<'_>) -> ChatAddress {
        ChatAddress {
            platform: ctx.platform(),
            account: ctx.inbound.account.clone(),
            chat_id: ctx.inbound.sender.private_chat_id.clone(),
            is_group: false,
        }
    }
}

/// How often an event PostgreSQL gave up runs again, and the pauses before.
const TRANSIENT_TRIES: u32 = 5;
const TRANSIENT_PAUSE: crate::backoff::Backoff = crate::backoff::Backoff {
    base: std::time::Duration::from_millis(10),
    cap: std::time::Duration::from_millis(200),
    jitter: true,
};

/// Whether an event whose transaction failed with `e` (already rolled back) runs again:
/// when PostgreSQL gave it up to break a deadlock, up to [`TRANSIENT_TRIES`] times, after a
/// pause (jittered, so the transactions that met do not meet again at once).
async fn again(e: &anyhow::Error, tries: &mut u32) -> bool {
    if !crate::store::is_transient(e) || *tries >= TRANSIENT_TRIES {
        return false;
    }
    *tries += 1;
    tracing::debug!(error = %e, attempt = *tries, "the database gave the event up; running it again");
    tokio::time::sleep(TRANSIENT_PAUSE.delay(*tries)).await;
    true
}

/// An optional unit code as a command argument (empty for none).
fn opt_str(code: &Option<crate::domain::UnitCode>) -> &str {
    code.as_ref().map_or("", |c| c.as_str())
}

/// Renders a reply in `locale` into the neutral outgoing form.
pub fn render_reply(locale: Locale, reply: Reply) -> Outgoing {
    let text = render_all(locale, &reply.text);
    let buttons: Vec<Vec<OutButton>> = reply
        .buttons
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| match &b.action {
                    ButtonAction::Callback(a) => OutButton::Callback {
                        label: render(locale, &b.label),
                        data: a.encode(),
                    },
                    ButtonAction::Url(url) => OutButton::Url {
                        label: render(locale, &b.label),
                        url: url.clone(),
                    },
                })
                .collect()
        })
        .collect();
    match reply.attachment {
        None => match reply.edit {
            Some(message_id) => Outgoing::Edit {
                message_id,
                text,
                buttons,
            },
            None => Outgoing::Text { text, buttons },
        },
        Some(Attachment::Photo(png)) => Outgoing::Photo {
            png,
            caption: text,
            buttons,
        },
        Some(Attachment::SharedPhoto(photo)) => Outgoing::SharedPhoto {
            photo,
            caption: text,
            buttons,
        },
        Some(Attachment::Document { filename, bytes }) => Outgoing::Document {
            filename,
            bytes,
            caption: text,
        },
    }
}
