//! Leader and administrator commands about coverage: `/coverage` here; `/members` (the
//! post-check) in [`members`], `/report` in [`report`], `/invite` in [`invite`], `/chart` and
//! `/export` in [`export`].
//!
//! Who may see what: an administrator any unit (and the whole country); a leader the units
//! they lead and everything below them. Every unit code that arrives, typed or in a button,
//! is checked again, so forged callback data cannot reach another branch.

mod export;
mod invite;
mod members;
mod report;

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::keys::{COV_NO_UNIT_PEOPLE, NO_UNITS_HINT};
use super::pager::Pager;
use super::{Action, Button, Reply, Turn};
use crate::coverage::keys::*;
use crate::coverage::{Figures, Row, percent, view};
use crate::domain::UnitCode;
use crate::i18n::{Msg, render};

/// The most unconfirmed members a unit's view counts by reachability on the spot: the count
/// reads their rows, about 10 µs each, and `/coverage` must answer within 50 ms.
pub(in crate::conversation) const REACH_LINE_MAX: i64 = 5_000;

/// Children per page of `/coverage`.
const PAGE: usize = 10;

/// The unit a command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// One unit and its subtree.
    Unit(UnitCode),
    /// Every top unit (administrators only).
    Country,
}

impl Scope {
    fn code(&self) -> Option<&UnitCode> {
        match self {
            Scope::Unit(c) => Some(c),
            Scope::Country => None,
        }
    }

    fn action_code(&self) -> Option<UnitCode> {
        self.code().cloned()
    }
}

fn shown(raw: &str) -> String {
    raw.chars().take(32).collect()
}

impl Engine {
    fn campaign_tz(&self) -> chrono_tz::Tz {
        self.settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh)
    }

    fn campaign_target(&self) -> f64 {
        self.settings.campaign.target
    }

    /// The configured accounts' reach rules as cut-off times now.
    pub(super) fn reach_cuts(&self) -> crate::coverage::reach::ReachCuts {
        crate::coverage::reach::ReachCuts::new(self.platforms(), self.store.now())
    }

    /// Resolves the unit a leader or administrator asks about; `Err` is the refusal to send.
    /// Without an argument: the whole country for an administrator (when `allow_country`),
    /// else the first unit the person leads.
    pub(super) async fn scope(
        &self,
        ctx: &Ctx<'_>,
        arg: Option<&str>,
        allow_country: bool,
        command: &'static str,
    ) -> Result<Result<Scope, Reply>> {
        let led = self.store.led_units(ctx.person.id).await?;
        if !ctx.is_admin && led.is_empty() {
            return Ok(Err(Reply::to_sender(&COV_NOT_LEADER)));
        }
        match arg.map(str::trim).filter(|a| !a.is_empty()) {
            Some(raw) => {
                let unknown =
                    || Reply::to_sender(Msg::new(&COV_UNKNOWN_UNIT).arg("code", shown(raw)));
                let Ok(code) = UnitCode::parse(raw) else {
                    return Ok(Err(unknown()));
                };
                if self.store.unit(&code).await?.is_none() {
                    return Ok(Err(unknown()));
                }
                if self.may_act_on(ctx, &code).await? {
                    Ok(Ok(Scope::Unit(code)))
                } else {
                    Ok(Err(Reply::to_sender(&COV_NOT_YOURS)))
                }
            }
            None if allow_country && ctx.admin_scope() == Some(None) => Ok(Ok(Scope::Country)),
            // An administrator an account names reads the account's root.
            None if let Some(Some(root)) = ctx.admin_scope() => Ok(Ok(Scope::Unit(root.clone()))),
            None => match led.first() {
                Some(first) => Ok(Ok(Scope::Unit(first.clone()))),
                None => Ok(Err(Reply::to_sender(
                    Msg::new(&COV_NEED_UNIT).arg("command", command),
                ))),
            },
        }
    }

    /// `/coverage [CODE]`.
    pub(super) async fn coverage_cmd(&self, ctx: &Ctx<'_>, args: &str) -> Result<Turn> {
        Ok(Turn::reply(self.coverage_reply(ctx, Some(args), 0).await?))
    }

    /// A coverage button (drill-down, paging, up).
    pub(super) async fn coverage_button(
        &self,
        ctx: &Ctx<'_>,
        code: Option<UnitCode>,
        page: u32,
    ) -> Result<Turn> {
        let arg = code.as_ref().map(|c| c.as_str().to_string());
        Ok(Turn::reply(
            self.coverage_reply(ctx, Some(arg.as_deref().unwrap_or("")), page)
                .await?,
        ))
    }

    async fn coverage_reply(&self, ctx: &Ctx<'_>, arg: Option<&str>, page: u32) -> Result<Reply> {
        let scope = match self.scope(ctx, arg, true, "coverage").await? {
            Ok(s) => s,
            Err(reply) => return Ok(reply),
        };
        let locale = ctx.locale();
        let Some(view) = view::load(
            &self.store,
            scope.code(),
            self.campaign_target(),
            self.campaign_tz(),
        )
        .await?
        else {
            return Ok(Reply::to_sender(Msg::new(&COV_UNKNOWN_UNIT).arg(
                "code",
                scope.code().map(UnitCode::to_string).unwrap_or_default(),
            )));
        };
        if view.is_country && view.children.is_empty() {
            // An operator who forgot to import units: say what to run.
            return Ok(Reply::to_sender(&COV_NO_UNITS).para(&NO_UNITS_HINT));
        }
        let head = &view.head.figures;
        let name = if view.is_country {
            render(locale, &Msg::new(&COV_COUNTRY))
        } else {
            head.name.clone()
        };
        let mut reply = Reply::to_sender(header(&name, &view.head));
        reply = reply.para(counts(head));
        if let Some(rate) = head.member_rate() {
            reply = reply.para(Msg::new(&COV_MEMBER_RATE).arg("rate", percent(rate)));
        }
        match head.gap() {
            Some(0) => reply = reply.para(&COV_REACHED),
            Some(gap) => reply = reply.para(Msg::new(&COV_GAP).arg("gap", gap)),
            None => {}
        }
        // How the unit's unconfirmed members can be reached now: read from people (through
        // an index), so shown for one unit's view of at most REACH_LINE_MAX unconfirmed
        // members (a commune or a district), not for a province or the whole country, where
        // it would take longer than the answer may (`/members unreachable` still lists them).
        if let Some(code) = scope.code()
            && head.members > head.confirmed
            && head.members - head.confirmed <= REACH_LINE_MAX
        {
            let reach = self.store.reach_of(code, &self.reach_cuts()).await?;
            reply = reply.para(reach_msg(&reach));
        }
        if view.is_country {
            // People who skipped the unit question count nowhere yet: show them apart.
            let (members, confirmed) = self.store.people_without_unit().await?;
            if members > 0 {
                reply = reply.para(
                    Msg::new(&COV_NO_UNIT_PEOPLE)
                        .arg("members", members)
                        .arg("confirmed", confirmed),
                );
            }
        }
        let here = scope.action_code();
        if view.children.is_empty() {
            reply = reply.para(&COV_NO_CHILDREN);
        } else {
            let pager = Pager::new(view.children.len(), PAGE, page);
            reply = reply.para(
                Msg::new(&COV_CHILDREN)
                    .arg("count", view.children.len())
                    .arg("page", pager.page + 1)
                    .arg("pages", pager.pages),
            );
            let slice: Vec<(usize, &Row)> = view
                .children
                .iter()
                .enumerate()
                .skip(pager.offset())
                .take(PAGE)
                .collect();
            let lines: Vec<String> = slice
                .iter()
                .map(|(i, r)| render(locale, &row(i + 1, r)))
                .collect();
            reply = reply.para(Msg::new(&COV_TABLE).arg("rows", lines.join("\n")));
            let drill: Vec<Button> = slice
                .iter()
                .filter(|(_, r)| r.has_children)
                .filter_map(|(_, r)| {
                    let code = UnitCode::parse(&r.figures.code).ok()?;
                    Some(Button::action(
                        Msg::new(&BTN_COV_OPEN).arg("unit", r.figures.name.clone()),
                        Action::Coverage(Some(code), 0),
                    ))
                })
                .collect();
            for pair in drill.chunks(2) {
                reply = reply.row(pair.to_vec());
            }
            reply = reply.row(pager.nav(
                Msg::new(&BTN_COV_PREV),
                Msg::new(&BTN_COV_NEXT),
                |page| Action::Coverage(here.clone(), page),
            ));
        }
        // A leader of several units can switch between them.
        let led = self.store.led_units(ctx.person.id).await?;
        if led.len() > 1 {
            let mut others = Vec::new();
            for code in led.iter().filter(|c| Some(*c) != scope.code()).take(4) {
                if let Ok(unit) = UnitCode::parse(code) {
                    others.push(Button::action(
                        Msg::new(&BTN_COV_OPEN).arg("unit", self.unit_name(code).await?),
                        Action::Coverage(Some(unit), 0),
                    ));
                }
            }
            for pair in others.chunks(2) {
                reply = reply.row(pair.to_vec());
            }
        }
        let mut bottom = Vec::new();
        if !view.is_country {
            let up = match &view.parent {
                Some(p) if self.may_act_on(ctx, p).await? => {
                    Some(Action::Coverage(Some(p.clone()), 0))
                }
                None if ctx.admin_scope() == Some(None) => Some(Action::Coverage(None, 0)),
                _ => None,
            };
            if let Some(up) = up {
                bottom.push(Button::action(Msg::new(&BTN_COV_UP), up));
            }
        }
        bottom.push(Button::action(
            Msg::new(&BTN_COV_CHART),
            Action::Chart(here.clone()),
        ));
        bottom.push(Button::action(
            Msg::new(&BTN_COV_EXPORT),
            Action::Export(here),
        ));
        Ok(reply.row(bottom))
    }
}

/// The unconfirmed members by how they can be reached now.
pub(super) fn reach_msg(r: &crate::coverage::reach::ReachCounts) -> Msg {
    Msg::new(&COV_REACH)
        .arg("free", r.free)
        .arg("billed", r.billed)
        .arg("unreachable", r.unreachable)
}

fn header(name: &str, row: &Row) -> Msg {
    let f = &row.figures;
    match f.coverage() {
        Some(c) => Msg::new(&COV_HEADER)
            .arg("unit", name)
            .arg("rate", percent(c))
            .arg("target", percent(f.target))
            .arg("trend", row.trend.as_str()),
        None => Msg::new(&COV_HEADER_NO_POP)
            .arg("unit", name)
            .arg("installs", f.installs())
            .arg("trend", row.trend.as_str()),
    }
}

fn counts(f: &Figures) -> Msg {
    let msg = match f.population {
        Some(p) => Msg::new(&COV_COUNTS).arg("population", p),
        None => Msg::new(&COV_COUNTS_NO_POP),
    };
    msg.arg("members", f.members)
        .arg("confirmed", f.confirmed)
        .arg("verified", f.verified)
        .arg("selfconfirmed", f.self_confirmed())
        .arg("reported", f.reported)
}

fn row(rank: usize, r: &Row) -> Msg {
    let f = &r.figures;
    match f.coverage() {
        Some(c) => Msg::new(&COV_ROW)
            .arg("rank", rank)
            .arg("unit", f.name.clone())
            .arg("rate", percent(c))
            .arg("trend", r.trend.as_str())
            .arg(
                "under",
                if f.under_target() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
            ),
        None => Msg::new(&COV_ROW_NO_POP)
            .arg("rank", rank)
            .arg("unit", f.name.clone())
            .arg("installs", f.installs())
            .arg("trend", r.trend.as_str()),
    }
}
