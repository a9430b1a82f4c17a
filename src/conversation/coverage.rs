//! Leader and administrator commands about coverage: `/coverage`, `/chart`, `/export`,
//! `/report`, `/members` (the post-check) and `/invite`.
//!
//! Who may see what: an administrator any unit (and the whole country); a leader the units
//! they lead and everything below them. Every unit code that arrives, typed or in a button,
//! is checked again, so forged callback data cannot reach another branch.

use anyhow::Result;
use chrono::Days;

use super::engine::{Ctx, Engine};
use super::keys::{COV_NO_UNIT_PEOPLE, MEMBERS_EMPTY, NO_UNITS_HINT};
use super::reply::Attachment;
use super::{Action, Button, Reply, Turn};
use crate::coverage::export::{Format, build, render_export};
use crate::coverage::keys::*;
use crate::coverage::snapshot::{day_key, parse_day, today};
use crate::coverage::{Figures, Row, coverage_of, percent, view};
use crate::domain::{StartPayload, UnitCode};
use crate::i18n::{Msg, render};
use crate::reports::chart::{BarDatum, ChartLabels, TrendPoint, coverage_chart_png};
use crate::reports::poster::{PosterText, invitation_poster_png};
use crate::store::coverage::{ReportOutcome, VerifyOutcome};

/// Children per page of `/coverage`.
const PAGE: usize = 10;
/// Members per page of `/members`.
const MEMBERS_PAGE: usize = 8;
/// Days in the chart's trend.
const TREND_DAYS: u64 = 30;
/// The largest number one `/report` may add or remove.
const MAX_REPORT: i64 = 1_000_000;

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
                if ctx.is_admin || self.store.leads(ctx.person.id, &code).await? {
                    Ok(Ok(Scope::Unit(code)))
                } else {
                    Ok(Err(Reply::to_sender(&COV_NOT_YOURS)))
                }
            }
            None if ctx.is_admin && allow_country => Ok(Ok(Scope::Country)),
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
            let pages = view.children.len().div_ceil(PAGE).max(1);
            let page = (page as usize).min(pages - 1);
            reply = reply.para(
                Msg::new(&COV_CHILDREN)
                    .arg("count", view.children.len())
                    .arg("page", page + 1)
                    .arg("pages", pages),
            );
            let slice: Vec<(usize, &Row)> = view
                .children
                .iter()
                .enumerate()
                .skip(page * PAGE)
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
            let mut nav = Vec::new();
            if page > 0 {
                nav.push(Button::action(
                    Msg::new(&BTN_COV_PREV),
                    Action::Coverage(here.clone(), page as u32 - 1),
                ));
            }
            if page + 1 < pages {
                nav.push(Button::action(
                    Msg::new(&BTN_COV_NEXT),
                    Action::Coverage(here.clone(), page as u32 + 1),
                ));
            }
            reply = reply.row(nav);
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
                Some(p) if ctx.is_admin || self.store.leads(ctx.person.id, p).await? => {
                    Some(Action::Coverage(Some(p.clone()), 0))
                }
                None if ctx.is_admin => Some(Action::Coverage(None, 0)),
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

    /// `/chart [CODE]` and the chart button: the children's coverage as bars with the target
    /// line, and the unit's trend over 30 days, as a photo.
    pub(super) async fn chart_cmd(&self, ctx: &Ctx<'_>, arg: Option<&str>) -> Result<Turn> {
        let scope = match self.scope(ctx, arg, true, "chart").await? {
            Ok(s) => s,
            Err(reply) => return Ok(Turn::reply(reply)),
        };
        let locale = ctx.locale();
        let tz = self.campaign_tz();
        let Some(view) = view::load(&self.store, scope.code(), self.campaign_target(), tz).await?
        else {
            return Ok(Turn::reply(Reply::to_sender(&COV_NO_UNITS)));
        };
        let head = view.head.figures.clone();
        let name = if view.is_country {
            render(locale, &Msg::new(&COV_COUNTRY))
        } else {
            head.name.clone()
        };
        let bars: Vec<BarDatum> = view
            .children
            .iter()
            .map(|r| BarDatum {
                label: r.figures.name.clone(),
                coverage: r.figures.coverage(),
            })
            .collect();
        // The trend: the unit's snapshots (summed over the top units for the country), with
        // today's point taken from the live counters.
        let codes: Vec<String> = match scope.code() {
            Some(c) => vec![c.to_string()],
            None => view
                .children
                .iter()
                .map(|r| r.figures.code.clone())
                .collect(),
        };
        let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let day = today(&self.store, tz);
        let from = day
            .checked_sub_days(Days::new(TREND_DAYS - 1))
            .unwrap_or(day);
        let mut installs: std::collections::BTreeMap<chrono::NaiveDate, i64> =
            std::collections::BTreeMap::new();
        for s in self
            .store
            .snapshot_history(&code_refs, &day_key(from))
            .await?
        {
            if let Some(d) = parse_day(&s.day) {
                *installs.entry(d).or_default() += s.totals.installs();
            }
        }
        installs.insert(day, head.installs());
        let trend: Vec<TrendPoint> = (0..TREND_DAYS)
            .filter_map(|i| from.checked_add_days(Days::new(i)))
            .map(|d| TrendPoint {
                day: d,
                coverage: installs
                    .get(&d)
                    .and_then(|n| coverage_of(*n, head.population)),
            })
            .collect();
        let labels = ChartLabels {
            title: render(locale, &Msg::new(&CHART_TITLE).arg("unit", name.clone())),
            bars_caption: render(locale, &Msg::new(&CHART_BARS)),
            trend_caption: render(
                locale,
                &Msg::new(&CHART_TREND).arg("days", TREND_DAYS as i64),
            ),
            target_label: render(locale, &Msg::new(&CHART_TARGET)),
            no_data: render(locale, &Msg::new(&CHART_NO_DATA)),
        };
        let target = head.target;
        let png =
            tokio::task::spawn_blocking(move || coverage_chart_png(&bars, &trend, target, &labels))
                .await??;
        Ok(Turn::reply(
            Reply::to_sender(Msg::new(&CHART_CAPTION).arg("unit", name))
                .attach(Attachment::Photo(png)),
        ))
    }

    /// `/export [CODE]` and the export button: the subtree's figures as xlsx and csv.
    pub(super) async fn export_cmd(&self, ctx: &Ctx<'_>, arg: Option<&str>) -> Result<Turn> {
        let scope = match self.scope(ctx, arg, true, "export").await? {
            Ok(s) => s,
            Err(reply) => return Ok(Turn::reply(reply)),
        };
        let tz = self.campaign_tz();
        let Some(export) = build(
            &self.store,
            scope.code(),
            self.campaign_target(),
            tz,
            ctx.locale(),
        )
        .await?
        else {
            return Ok(Turn::reply(Reply::to_sender(&COV_NO_UNITS)));
        };
        let date = day_key(today(&self.store, tz));
        let stem = format!("coverage_{}_{date}", export.file_stem);
        let unit = export.unit_name.clone();
        let (xlsx, csv) = tokio::task::spawn_blocking(move || -> Result<_> {
            Ok((
                render_export(&export, Format::Xlsx)?,
                render_export(&export, Format::Csv)?,
            ))
        })
        .await??;
        let caption = Msg::new(&EXPORT_CAPTION).arg("unit", unit);
        Ok(Turn::replies(vec![
            Reply::to_sender(caption.clone()).attach(Attachment::Document {
                filename: format!("{stem}.xlsx"),
                bytes: xlsx,
            }),
            Reply::to_sender(caption).attach(Attachment::Document {
                filename: format!("{stem}.csv"),
                bytes: csv,
            }),
        ]))
    }

    /// `/report N [note]` (the leader's only unit) or `/report CODE N [note]`: installs done
    /// in person. A negative N corrects; a unit's reported total never goes below zero.
    pub(super) async fn report_cmd(&self, ctx: &Ctx<'_>, args: &str) -> Result<Turn> {
        let led = self.store.led_units(ctx.person.id).await?;
        if !ctx.is_admin && led.is_empty() {
            return Ok(Turn::reply(Reply::to_sender(&COV_NOT_LEADER)));
        }
        let usage = || Ok(Turn::reply(Reply::to_sender(&REPORT_USAGE)));
        let (first, rest) = split_word(args);
        if first.is_empty() {
            return usage();
        }
        let (second, after_second) = split_word(rest);
        // `/report CODE N [note]` when the first word is not a number, or when it is a known
        // unit code followed by a number; otherwise `/report N [note]`.
        let code_form = match (parse_amount(first), parse_amount(second)) {
            (None, _) => true,
            (Some(_), Some(_)) => match UnitCode::parse(first) {
                Ok(code) => self.store.unit(&code).await?.is_some(),
                Err(_) => false,
            },
            (Some(_), None) => false,
        };
        let (unit, amount, note) = if code_form {
            let Some(amount) = parse_amount(second) else {
                return usage();
            };
            match self.scope(ctx, Some(first), false, "report").await? {
                Ok(Scope::Unit(code)) => (code, amount, after_second),
                Ok(Scope::Country) => return usage(),
                Err(reply) => return Ok(Turn::reply(reply)),
            }
        } else {
            let Some(amount) = parse_amount(first) else {
                return usage();
            };
            match led.as_slice() {
                [only] => (only.clone(), amount, rest),
                [] => return usage(),
                many => {
                    return Ok(Turn::reply(Reply::to_sender(
                        Msg::new(&REPORT_WHICH_UNIT).arg("units", many.join(", ")),
                    )));
                }
            }
        };
        if amount == 0 {
            return Ok(Turn::reply(Reply::to_sender(&REPORT_ZERO)));
        }
        if amount.unsigned_abs() > MAX_REPORT.unsigned_abs() {
            return usage();
        }
        let name = self.unit_name(&unit).await?;
        let outcome = self
            .store
            .report_installs(&unit, ctx.person.id, amount, note)
            .await?;
        let reply = match outcome {
            ReportOutcome::Recorded { total } => {
                let coverage = match self.store.unit(&unit).await? {
                    Some(u) => {
                        let f = Figures::of_unit(&u, self.campaign_target());
                        f.coverage()
                            .map_or_else(|| f.installs().to_string(), percent)
                    }
                    None => String::new(),
                };
                Msg::new(&REPORT_DONE)
                    .arg("unit", name)
                    .arg("amount", amount)
                    .arg("total", total)
                    .arg("coverage", coverage)
            }
            ReportOutcome::WouldGoNegative { total } => Msg::new(&REPORT_NEGATIVE)
                .arg("unit", name)
                .arg("amount", amount)
                .arg("total", total),
        };
        Ok(Turn::reply(Reply::to_sender(reply)))
    }

    /// `/members [CODE]`: the post-check list.
    pub(super) async fn members_cmd(&self, ctx: &Ctx<'_>, arg: Option<&str>) -> Result<Turn> {
        match self.scope(ctx, arg, false, "members").await? {
            Ok(Scope::Unit(code)) => Ok(Turn::reply(self.members_page(ctx, &code, 0).await?)),
            Ok(Scope::Country) => Ok(Turn::reply(Reply::to_sender(
                Msg::new(&COV_NEED_UNIT).arg("command", "members"),
            ))),
            Err(reply) => Ok(Turn::reply(reply)),
        }
    }

    /// A page button of the post-check list.
    pub(super) async fn members_button(
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

    async fn members_page(&self, ctx: &Ctx<'_>, code: &UnitCode, page: u32) -> Result<Reply> {
        let Some(unit) = self.store.unit(code).await? else {
            return Ok(Reply::to_sender(
                Msg::new(&COV_UNKNOWN_UNIT).arg("code", code),
            ));
        };
        // Maintained counters give the number; only the page is read from people.
        let count = (unit.sub_members - unit.sub_confirmed).max(0) as usize;
        if unit.sub_members <= 0 {
            let link = self.deep_link(ctx.platform(), &StartPayload::Unit(unit.code.to_string()));
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
        let pages = count.div_ceil(MEMBERS_PAGE).max(1);
        let page = (page as usize).min(pages - 1);
        let list = self
            .store
            .pending_members(code, (page * MEMBERS_PAGE) as i64, MEMBERS_PAGE as i64)
            .await?;
        let locale = ctx.locale();
        let lines: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                render(
                    locale,
                    &Msg::new(&MEMBERS_ROW)
                        .arg("rank", page * MEMBERS_PAGE + i + 1)
                        .arg("name", display(&m.display_name, m.id))
                        .arg("unit", m.unit_name.clone()),
                )
            })
            .collect();
        let mut reply = Reply::to_sender(
            Msg::new(&MEMBERS_HEADER)
                .arg("unit", unit.name.clone())
                .arg("count", count)
                .arg("page", page + 1)
                .arg("pages", pages),
        )
        .para(Msg::new(&COV_TABLE).arg("rows", lines.join("\n")));
        let buttons: Vec<Button> = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Button::action(
                    Msg::new(&BTN_VERIFY).arg("rank", page * MEMBERS_PAGE + i + 1),
                    Action::Verify(m.id),
                )
            })
            .collect();
        for chunk in buttons.chunks(4) {
            reply = reply.row(chunk.to_vec());
        }
        let here = UnitCode::parse(code).map_err(anyhow::Error::msg)?;
        let mut nav = Vec::new();
        if page > 0 {
            nav.push(Button::action(
                Msg::new(&BTN_COV_PREV),
                Action::Members(here.clone(), page as u32 - 1),
            ));
        }
        if page + 1 < pages {
            nav.push(Button::action(
                Msg::new(&BTN_COV_NEXT),
                Action::Members(here, page as u32 + 1),
            ));
        }
        Ok(reply.row(nav))
    }

    /// A verify button: the member must be in the leader's branch.
    pub(super) async fn verify_button(&self, ctx: &Ctx<'_>, id: i64) -> Result<Turn> {
        let Some(member) = self.store.person(id).await? else {
            return Ok(self.stale_button(ctx));
        };
        let allowed = match &member.unit_code {
            Some(unit) => ctx.is_admin || self.store.leads(ctx.person.id, unit).await?,
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

    /// `/invite [CODE]`: the unit's deep link and a printable A4 poster with its QR code.
    pub(super) async fn invite_cmd(&self, ctx: &Ctx<'_>, arg: Option<&str>) -> Result<Turn> {
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
        let link = self.deep_link(ctx.platform(), &StartPayload::Unit(code.to_string()));
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

/// The first word and the rest, trimmed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (s, ""),
    }
}

/// A signed whole number (`12`, `+12`, `-3`).
fn parse_amount(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || digits == "-" {
        return None;
    }
    digits.parse().ok()
}

/// A member's name for lists; `#id` when the platform gave none.
fn display(name: &str, id: i64) -> String {
    if name.trim().is_empty() {
        format!("#{id}")
    } else {
        name.chars().take(64).collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_arguments_parse() {
        assert_eq!(
            split_word(" 12  at the post office "),
            ("12", "at the post office")
        );
        assert_eq!(split_word("12"), ("12", ""));
        assert_eq!(parse_amount("12"), Some(12));
        assert_eq!(parse_amount("+12"), Some(12));
        assert_eq!(parse_amount("-3"), Some(-3));
        assert_eq!(parse_amount("-"), None);
        assert_eq!(parse_amount("794"), Some(794));
        assert_eq!(parse_amount("x1"), None);
        assert_eq!(display("  ", 7), "#7");
    }
}
