//! Finding a unit: search that ignores diacritics and case, and walking the tree with buttons.

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::keys::*;
use super::{Action, Button, Reply, State, Turn};
use crate::domain::{UnitCode, fold};
use crate::i18n::Msg;
use crate::store::Unit;

/// Units per page when browsing.
const PAGE: usize = 8;
/// Search results shown.
const MAX_RESULTS: i64 = 8;

impl Engine {
    /// A unit's name, or its code when it is gone.
    pub(super) async fn unit_name(&self, code: &str) -> Result<String> {
        Ok(self
            .store
            .unit(code)
            .await?
            .map_or_else(|| code.to_string(), |u| u.name))
    }

    /// Searches for a unit by name.
    pub(super) async fn search(&self, _ctx: &Ctx<'_>, query: &str) -> Result<(State, Turn)> {
        let query = query.trim();
        if fold(query).chars().filter(|c| c.is_alphanumeric()).count() < 2 {
            return Ok((
                State::AwaitingUnitSearch,
                Turn::reply(Reply::to_sender(&SEARCH_TOO_SHORT)),
            ));
        }
        let shown: String = query.chars().take(60).collect();
        let found = self.store.search_units(query, MAX_RESULTS).await?;
        if found.is_empty() {
            let reply = Reply::to_sender(Msg::new(&SEARCH_NONE).arg("query", shown)).row(vec![
                Button::action(Msg::new(&BTN_BROWSE_UNITS), Action::Browse(None, 0)),
            ]);
            return Ok((State::AwaitingUnitSearch, Turn::reply(reply)));
        }
        let mut reply = Reply::to_sender(
            Msg::new(&SEARCH_RESULTS)
                .arg("query", shown)
                .arg("count", found.len()),
        );
        for unit in &found {
            reply = reply.row(vec![self.unit_button(unit).await?]);
        }
        reply = reply.row(vec![Button::action(
            Msg::new(&BTN_BROWSE_UNITS),
            Action::Browse(None, 0),
        )]);
        Ok((State::AwaitingUnitSearch, Turn::reply(reply)))
    }

    /// A button that joins `unit`, labelled with its parent's name to tell namesakes apart.
    async fn unit_button(&self, unit: &Unit) -> Result<Button> {
        let label = match &unit.parent_code {
            Some(p) => Msg::new(&UNIT_LABEL_WITH_PARENT)
                .arg("unit", unit.name.clone())
                .arg("parent", self.unit_name(p).await?),
            None => Msg::new(&UNIT_LABEL_WITH_PARENT)
                .arg("unit", unit.name.clone())
                .arg("parent", unit.code.clone()),
        };
        Ok(Button::action(label, choose(unit)?))
    }

    /// One page of the units below `code` (the top units when `None`). Units with units
    /// below them open; the others are chosen at once.
    pub(super) async fn browse(&self, code: Option<&str>, page: u32) -> Result<Reply> {
        let parent = match code {
            Some(c) => match self.store.unit(c).await? {
                Some(u) => Some(u),
                None => {
                    return Ok(Reply::to_sender(&UNIT_UNKNOWN).row(vec![Button::action(
                        Msg::new(&BTN_BROWSE_UNITS),
                        Action::Browse(None, 0),
                    )]));
                }
            },
            None => None,
        };
        let children = self.store.children(code).await?;
        let pages = children.len().div_ceil(PAGE).max(1);
        let page = (page as usize).min(pages - 1);
        let mut reply = match &parent {
            Some(p) => Reply::to_sender(Msg::new(&BROWSE_UNDER).arg("unit", p.name.clone())),
            None => Reply::to_sender(&BROWSE_TOP),
        };
        if let Some(p) = &parent {
            reply = reply.row(vec![Button::action(
                Msg::new(&BTN_CHOOSE_THIS).arg("unit", p.name.clone()),
                choose(p)?,
            )]);
        }
        let codes: Vec<&str> = children.iter().map(|u| u.code.as_str()).collect();
        let with_children = self.store.codes_with_children(&codes).await?;
        for unit in children.iter().skip(page * PAGE).take(PAGE) {
            let action = if with_children.contains(&unit.code) {
                Action::Browse(Some(code_of(unit)?), 0)
            } else {
                choose(unit)?
            };
            reply = reply.row(vec![Button::action(
                Msg::new(&UNIT_LABEL_WITH_PARENT)
                    .arg("unit", unit.name.clone())
                    .arg("parent", unit.code.clone()),
                action,
            )]);
        }
        let here = match &parent {
            Some(p) => Some(code_of(p)?),
            None => None,
        };
        let mut nav = Vec::new();
        if page > 0 {
            nav.push(Button::action(
                Msg::new(&BTN_BACK_PAGE),
                Action::Browse(here.clone(), page as u32 - 1),
            ));
        }
        if page + 1 < pages {
            nav.push(Button::action(
                Msg::new(&BTN_MORE),
                Action::Browse(here.clone(), page as u32 + 1),
            ));
        }
        reply = reply.row(nav);
        let mut bottom = Vec::new();
        if let Some(p) = &parent {
            let up = match &p.parent_code {
                Some(pp) => Some(UnitCode::parse(pp).map_err(anyhow::Error::msg)?),
                None => None,
            };
            bottom.push(Button::action(Msg::new(&BTN_UP), Action::Browse(up, 0)));
        }
        bottom.push(Button::action(
            Msg::new(&BTN_SEARCH_UNIT),
            Action::SearchUnit,
        ));
        Ok(reply.row(bottom))
    }
}

fn code_of(unit: &Unit) -> Result<UnitCode> {
    UnitCode::parse(&unit.code).map_err(anyhow::Error::msg)
}

fn choose(unit: &Unit) -> Result<Action> {
    Ok(Action::ChooseUnit(code_of(unit)?))
}
