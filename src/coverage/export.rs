//! Export rows and localised headers for the renderers in [`crate::reports::export`], shared
//! by `/export` in the chat and `bluezone-bot report` on the command line.

use std::collections::HashMap;

use anyhow::Result;
use chrono::Days;
use chrono_tz::Tz;

use super::figures::{Figures, coverage_of};
use super::keys::*;
use super::reach::{ReachCounts, ReachCuts};
use super::snapshot::{day_key, parse_day, today};
use crate::domain::{Locale, UnitCode};
use crate::i18n::{Msg, render};
use crate::reports::export::{ExportHeaders, ExportRow, HistoryRow};
use crate::store::Store;

/// Days of history in the second sheet.
pub const HISTORY_DAYS: u64 = 30;

/// An export ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The unit and every unit below it, in tree order (all units for the country).
    pub rows: Vec<ExportRow>,
    /// The daily history of the unit and its children over [`HISTORY_DAYS`] days.
    pub history: Vec<HistoryRow>,
    /// Headers in the reader's language.
    pub headers: ExportHeaders,
    /// The unit's name (or "whole country"), for captions and file names.
    pub unit_name: String,
    /// The unit's code, or `all`.
    pub file_stem: String,
}

/// The output formats of `bluezone-bot report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Excel workbook.
    Xlsx,
    /// CSV (UTF-8 with a byte-order mark).
    Csv,
    /// An aligned text table.
    Text,
}

impl Format {
    /// Parses `xlsx`, `csv` or `text`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "xlsx" => Some(Format::Xlsx),
            "csv" => Some(Format::Csv),
            "text" | "txt" => Some(Format::Text),
            _ => None,
        }
    }
}

/// Localised headers.
pub fn headers(locale: Locale, unit_name: &str, date: &str) -> ExportHeaders {
    let r = |k| render(locale, &Msg::new(k));
    ExportHeaders {
        sheet_figures: r(&EXPORT_SHEET_FIGURES),
        sheet_history: r(&EXPORT_SHEET_HISTORY),
        figures: [
            r(&EXPORT_COL_CODE),
            r(&EXPORT_COL_UNIT),
            r(&EXPORT_COL_LEVEL),
            r(&EXPORT_COL_POPULATION),
            r(&EXPORT_COL_MEMBERS),
            r(&EXPORT_COL_CONFIRMED),
            r(&EXPORT_COL_VERIFIED),
            r(&EXPORT_COL_REPORTED),
            r(&EXPORT_COL_COVERAGE),
            r(&EXPORT_COL_TARGET),
            r(&EXPORT_COL_GAP),
            r(&EXPORT_COL_REACH_FREE),
            r(&EXPORT_COL_REACH_BILLED),
            r(&EXPORT_COL_REACH_NONE),
        ],
        history: [
            r(&EXPORT_COL_DAY),
            r(&EXPORT_COL_CODE),
            r(&EXPORT_COL_UNIT),
            r(&EXPORT_COL_MEMBERS),
            r(&EXPORT_COL_CONFIRMED),
            r(&EXPORT_COL_VERIFIED),
            r(&EXPORT_COL_REPORTED),
            r(&EXPORT_COL_COVERAGE),
        ],
        title: render(
            locale,
            &Msg::new(&EXPORT_TITLE)
                .arg("unit", unit_name)
                .arg("date", date),
        ),
    }
}

/// One export row from a unit's figures.
pub fn export_row(f: &Figures, level: String) -> ExportRow {
    ExportRow {
        code: f.code.clone(),
        unit: f.name.clone(),
        level,
        population: f.population,
        members: f.members,
        confirmed: f.confirmed,
        verified: f.verified,
        reported: f.reported,
        coverage: f.coverage(),
        target: f.target,
        gap: f.gap(),
        reach_free: None,
        reach_billed: None,
        reach_none: None,
    }
}

/// Builds the export of `code`'s subtree (every unit when `None`); `None` for an unknown unit.
/// With `cuts`, each unit's unconfirmed members are counted by how they can be reached now
/// (one grouped query over the subtree's unconfirmed members, summed up the tree).
pub async fn build(
    store: &Store,
    code: Option<&UnitCode>,
    campaign_target: f64,
    tz: Tz,
    locale: Locale,
    cuts: Option<&ReachCuts>,
) -> Result<Option<Export>> {
    let units = store.subtree(code).await?;
    if units.is_empty() && code.is_some() {
        return Ok(None);
    }
    let unit_name = match code.and_then(|c| units.iter().find(|u| &u.code == c)) {
        Some(u) => u.name.clone(),
        None => render(locale, &Msg::new(&COV_COUNTRY)),
    };
    let mut levels: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(units.len());
    for u in &units {
        let level = levels
            .entry(u.kind.clone())
            .or_insert_with(|| render(locale, &Msg::new(&UNIT_LEVEL).arg("kind", u.kind.as_str())))
            .clone();
        rows.push(export_row(&Figures::of_unit(u, campaign_target), level));
    }
    if let Some(cuts) = cuts {
        let own = store.reach_by_unit(code, cuts).await?;
        let parents: HashMap<&str, Option<&str>> = units
            .iter()
            .map(|u| {
                (
                    u.code.as_str(),
                    u.parent_code.as_ref().map(UnitCode::as_str),
                )
            })
            .collect();
        let mut sub: HashMap<&str, ReachCounts> = HashMap::new();
        for (unit, counts) in &own {
            // Add the unit's own counts to it and every ancestor inside the export.
            let mut at = parents.get_key_value(unit.as_str()).map(|(k, _)| *k);
            while let Some(c) = at {
                sub.entry(c).or_default().plus(counts);
                at = parents.get(c).copied().flatten();
            }
        }
        for row in &mut rows {
            let r = sub.get(row.code.as_str()).copied().unwrap_or_default();
            row.reach_free = Some(r.free);
            row.reach_billed = Some(r.billed);
            row.reach_none = Some(r.unreachable);
        }
    }
    // History: the unit and its children (the top units for the country).
    let shown: Vec<&crate::store::Unit> = units
        .iter()
        .filter(|u| match code {
            Some(c) => &u.code == c || u.parent_code.as_ref() == Some(c),
            None => u.parent_code.is_none(),
        })
        .collect();
    let codes: Vec<&str> = shown.iter().map(|u| u.code.as_str()).collect();
    let day = today(store, tz);
    let from = day
        .checked_sub_days(Days::new(HISTORY_DAYS - 1))
        .unwrap_or(day);
    let by_code: HashMap<&str, &&crate::store::Unit> =
        shown.iter().map(|u| (u.code.as_str(), u)).collect();
    let mut history = Vec::new();
    for s in store.snapshot_history(&codes, &day_key(from)).await? {
        let (Some(day), Some(u)) = (parse_day(&s.day), by_code.get(s.unit_code.as_str())) else {
            continue;
        };
        history.push(HistoryRow {
            day,
            code: u.code.to_string(),
            unit: u.name.clone(),
            members: s.totals.members,
            confirmed: s.totals.confirmed,
            verified: s.totals.verified,
            reported: s.totals.reported,
            coverage: coverage_of(s.totals.installs(), u.population),
        });
    }
    Ok(Some(Export {
        rows,
        history,
        headers: headers(locale, &unit_name, &day_key(day)),
        unit_name,
        file_stem: code
            .map_or("all", UnitCode::as_str)
            .replace(['/', '\\', '.'], "_"),
    }))
}

/// Renders an export in `format`.
pub fn render_export(export: &Export, format: Format) -> Result<Vec<u8>> {
    use crate::reports::export as r;
    Ok(match format {
        Format::Xlsx => r::to_xlsx(&export.rows, &export.history, &export.headers)?,
        Format::Csv => r::to_csv(&export.rows, &export.headers)?,
        Format::Text => r::to_text(&export.rows, &export.headers).into_bytes(),
    })
}
