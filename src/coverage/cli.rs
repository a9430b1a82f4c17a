//! `bluezone-bot report`: the figures of a unit's subtree (or of every unit) as xlsx, csv or
//! a text table, to a file or standard output.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::export::{Format, build, render_export};
use super::reach::ReachCuts;
use super::snapshot;
use crate::config::Settings;
use crate::domain::{Locale, UnitCode};
use crate::platform::Platforms;
use crate::store::Store;

/// Writes the report. `format` is `xlsx`, `csv` or `text`; an xlsx needs `out`. With
/// `write_snapshot`, today's snapshot is written first (the history sheet then ends today).
pub async fn report(
    store: &Store,
    settings: &Settings,
    unit: Option<&str>,
    format: &str,
    out: Option<&Path>,
    lang: &str,
    write_snapshot: bool,
) -> Result<()> {
    let Some(format) = Format::parse(format) else {
        bail!("--format must be xlsx, csv or text");
    };
    let Some(locale) = Locale::parse(lang) else {
        bail!("--lang must be vi or en");
    };
    if format == Format::Xlsx && out.is_none() {
        bail!("an xlsx report needs --out FILE");
    }
    let tz = settings.campaign.tz()?;
    if write_snapshot {
        snapshot::write_today(store, tz).await?;
    }
    // A code that cannot be a unit's is reported like a missing unit.
    let code = match unit.map(UnitCode::parse) {
        Some(Ok(code)) => Some(code),
        Some(Err(_)) => bail!("unknown unit {}", unit.unwrap_or_default()),
        None => None,
    };
    let cuts = ReachCuts::new(&Platforms::new(settings), store.now());
    let Some(export) = build(
        store,
        code.as_ref(),
        settings.campaign.target,
        tz,
        locale,
        Some(&cuts),
    )
    .await?
    else {
        bail!("unknown unit {}", unit.unwrap_or_default());
    };
    if export.rows.is_empty() {
        bail!("no units (import some with `units import`)");
    }
    let bytes = render_export(&export, format)?;
    match out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout()
            .write_all(&bytes)
            .context("writing to standard output")?,
    }
    Ok(())
}
