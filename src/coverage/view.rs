//! One screen of `/coverage`: a unit (or the whole country) and its children, each with the
//! trend against yesterday's snapshot. Reads the unit rows and at most one snapshot row per
//! unit shown, so its cost does not depend on how many people there are.

use anyhow::Result;
use chrono_tz::Tz;

use super::figures::{Figures, Totals, Trend, sort_by_coverage};
use super::snapshot::{day_before, day_key, today};
use crate::domain::UnitCode;
use crate::store::Store;

/// A unit's figures and how they moved since yesterday.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The figures over the unit's subtree.
    pub figures: Figures,
    /// Against yesterday's snapshot.
    pub trend: Trend,
    /// Whether units lie below it (a drill-down button makes sense).
    pub has_children: bool,
}

/// The unit shown and its children, sorted by coverage (lowest first).
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageView {
    /// The unit itself (for the country: the sum of the top units, with an empty code).
    pub head: Row,
    /// The unit's parent, for an "up" button; `None` at the top.
    pub parent: Option<UnitCode>,
    /// Whether this is the whole country rather than one unit.
    pub is_country: bool,
    /// The children, lowest coverage first.
    pub children: Vec<Row>,
}

/// Loads the view of `code`, or of the whole country when `None`. `None` when the unit is
/// unknown.
pub async fn load(
    store: &Store,
    code: Option<&UnitCode>,
    campaign_target: f64,
    tz: Tz,
) -> Result<Option<CoverageView>> {
    let head_unit = match code {
        Some(c) => match store.unit(c).await? {
            Some(u) => Some(u),
            None => return Ok(None),
        },
        None => None,
    };
    let children = store.children_opening(code).await?;
    let mut codes: Vec<&str> = children.iter().map(|(u, _)| u.code.as_str()).collect();
    if let Some(c) = code {
        codes.push(c.as_str());
    }
    let yesterday = day_key(day_before(today(store, tz)));
    let before = store.snapshots_on(&yesterday, &codes).await?;
    let mut rows: Vec<Row> = children
        .iter()
        .map(|(u, opens)| {
            let figures = Figures::of_unit(u, campaign_target);
            Row {
                trend: figures.trend(before.get(u.code.as_str()).copied()),
                has_children: *opens,
                figures,
            }
        })
        .collect();
    let head = match &head_unit {
        Some(u) => {
            let figures = Figures::of_unit(u, campaign_target);
            Row {
                trend: figures.trend(before.get(u.code.as_str()).copied()),
                has_children: !rows.is_empty(),
                figures,
            }
        }
        None => {
            let parts: Vec<Figures> = rows.iter().map(|r| r.figures.clone()).collect();
            let figures = Figures::sum("", "", &parts, campaign_target);
            // Yesterday's country total, when every top unit has a snapshot.
            let then: Option<Totals> = if !children.is_empty()
                && children
                    .iter()
                    .all(|(u, _)| before.contains_key(u.code.as_str()))
            {
                Some(children.iter().fold(Totals::default(), |mut t, (u, _)| {
                    let b = before[u.code.as_str()];
                    t.members += b.members;
                    t.confirmed += b.confirmed;
                    t.verified += b.verified;
                    t.reported += b.reported;
                    t
                }))
            } else {
                None
            };
            Row {
                trend: figures.trend(then),
                has_children: !rows.is_empty(),
                figures,
            }
        }
    };
    let mut figs: Vec<Figures> = rows.iter().map(|r| r.figures.clone()).collect();
    sort_by_coverage(&mut figs);
    // Reorder the rows as the figures were sorted (codes are unique).
    let mut sorted = Vec::with_capacity(rows.len());
    for f in figs {
        if let Some(i) = rows.iter().position(|r| r.figures.code == f.code) {
            sorted.push(rows.swap_remove(i));
        }
    }
    Ok(Some(CoverageView {
        head,
        parent: head_unit.and_then(|u| u.parent_code),
        is_country: code.is_none(),
        children: sorted,
    }))
}
