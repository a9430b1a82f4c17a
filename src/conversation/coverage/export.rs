//! `/chart` and `/export`: a unit's coverage as a picture (bars for its children against the
//! target line, and a 30-day trend) and as a file (xlsx, csv or text).

use anyhow::Result;
use chrono::Days;

use crate::conversation::engine::{Ctx, Engine};
use crate::conversation::reply::Attachment;
use crate::conversation::{Reply, Turn};
use crate::coverage::export::{Format, build, render_export};
use crate::coverage::keys::*;
use crate::coverage::snapshot::{day_key, parse_day, today};
use crate::coverage::{coverage_of, view};
use crate::i18n::{Msg, render};
use crate::reports::chart::{BarDatum, ChartLabels, TrendPoint, coverage_chart_png};

/// Days in the chart's trend.
const TREND_DAYS: u64 = 30;

impl Engine {
    /// `/chart [CODE]` and the chart button: the children's coverage as bars with the target
    /// line, and the unit's trend over 30 days, as a photo.
    pub(in crate::conversation) async fn chart_cmd(
        &self,
        ctx: &Ctx<'_>,
        arg: Option<&str>,
    ) -> Result<Turn> {
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
    pub(in crate::conversation) async fn export_cmd(
        &self,
        ctx: &Ctx<'_>,
        arg: Option<&str>,
    ) -> Result<Turn> {
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
            Some(&self.reach_cuts()),
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
}
