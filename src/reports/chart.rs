//! Coverage chart rendered to PNG.
//!
//! [`coverage_chart_png`] draws one 1200×1400 image with two panels:
//!
//! * **top** – one horizontal bar per child unit with its coverage in
//!   percent, a dashed vertical target line and the target label. Bars under
//!   the target are orange, bars at or over it green; units without a
//!   population are drawn as an empty outlined bar annotated with the
//!   caller's "no data" text.
//! * **bottom** – the coverage trend over the given days as a line chart with
//!   a dashed horizontal target line. Days without a value break the line
//!   (gaps); every known value is also marked with a dot, so a single point
//!   stays visible.
//!
//! **Many bars:** at most [`MAX_BARS`] bars are drawn. When more units are
//! given, the [`MAX_BARS`] units with the lowest known coverage are kept (the
//! ones that need attention), filled up with units without population data
//! only if fewer than [`MAX_BARS`] units have a known coverage. The kept bars
//! keep the caller's order and the bars caption gets a numeric
//! `" (shown/total)"` suffix. The label font shrinks with the row height.
//!
//! Every user-facing string comes from [`ChartLabels`]; only numbers
//! (percentages with two decimals, ISO dates on the time axis) are formatted
//! here. This module also owns the process-wide font registration used by
//! the other report renderers.

use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of the chart image in pixels.
pub const WIDTH: u32 = 1200;
/// Height of the chart image in pixels.
pub const HEIGHT: u32 = 1400;
/// Maximum number of bars drawn in the top panel.
pub const MAX_BARS: usize = 40;

/// Fewest bar rows the panel is divided into.
const MIN_ROWS: usize = 8;
/// Longest unit label (in characters) drawn next to a bar before truncation.
const MAX_LABEL_CHARS: usize = 32;

const BELOW_TARGET: RGBColor = RGBColor(230, 126, 34);
const AT_TARGET: RGBColor = RGBColor(39, 174, 96);
const TARGET_LINE: RGBColor = RGBColor(192, 57, 43);
const TREND_LINE: RGBColor = RGBColor(41, 128, 185);
const NO_DATA: RGBColor = RGBColor(150, 150, 150);
const TEXT: RGBColor = RGBColor(33, 33, 33);

/// One bar of the top panel: a child unit and its coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct BarDatum {
    /// Unit name shown next to the bar.
    pub label: String,
    /// Coverage as a fraction (0..1, may exceed 1); `None` when the unit has
    /// no population figure.
    pub coverage: Option<f64>,
}

/// One day of the trend panel.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// The day.
    pub day: NaiveDate,
    /// Coverage as a fraction on that day; `None` leaves a gap.
    pub coverage: Option<f64>,
}

/// Localised texts drawn on the chart (already rendered by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLabels {
    /// Title at the top of the image.
    pub title: String,
    /// Caption of the bar panel.
    pub bars_caption: String,
    /// Caption of the trend panel.
    pub trend_caption: String,
    /// Label of the target line; the target percentage is appended.
    pub target_label: String,
    /// Text for units or panels without data.
    pub no_data: String,
}

/// Registers the bundled DejaVu Sans fonts (regular and bold) as plotters'
/// `sans-serif` family, once per process.
pub(crate) fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = REGISTERED.get_or_init(|| {
        let regular: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        let bold: &'static [u8] = include_bytes!("../../assets/DejaVuSans-Bold.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, regular).is_ok()
            && plotters::style::register_font("sans-serif", FontStyle::Bold, bold).is_ok()
    });
    if *ok {
        Ok(())
    } else {
        Err(anyhow!("bundled DejaVu Sans fonts could not be registered"))
    }
}

/// Encodes a packed RGB8 buffer of `width`×`height` pixels as PNG.
pub(crate) fn encode_png(width: u32, height: u32, rgb: Vec<u8>) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| anyhow!("RGB buffer does not match {width}x{height}"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageOutputFormat::Png)
        .context("encoding PNG")?;
    Ok(out.into_inner())
}

/// Formats a fraction as a percentage with two decimals, e.g. `0.1109` → `11.09%`, so a
/// small rate (38 of 181,660 people) reads `0.02%` rather than `0.0%`.
fn pct(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

/// Shortens `s` to at most `max` characters, ending with `…` when cut.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Picks the bars to draw: all of them when there are at most [`MAX_BARS`],
/// otherwise the lowest known coverages (then units without data), kept in
/// the caller's order.
fn select_bars(bars: &[BarDatum]) -> Vec<&BarDatum> {
    if bars.len() <= MAX_BARS {
        return bars.iter().collect();
    }
    let mut idx: Vec<usize> = (0..bars.len()).collect();
    // Known coverages first, lowest first; then units without data.
    idx.sort_by(|&a, &b| match (bars[a].coverage, bars[b].coverage) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(&b),
    });
    idx.truncate(MAX_BARS);
    idx.sort_unstable();
    idx.into_iter().map(|i| &bars[i]).collect()
}

/// Renders the two-panel coverage chart and returns PNG bytes.
///
/// `target` is a fraction (e.g. `0.4` for 40 %). See the module docs for how
/// empty inputs, missing values and many bars are handled.
pub fn coverage_chart_png(
    bars: &[BarDatum],
    trend: &[TrendPoint],
    target: f64,
    labels: &ChartLabels,
) -> Result<Vec<u8>> {
    ensure_fonts()?;
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let body = root
            .margin(24, 0, 0, 0)
            .titled(
                &labels.title,
                ("sans-serif", 34, FontStyle::Bold).into_font().color(&TEXT),
            )
            .map_err(|e| anyhow!("{e}"))?;
        let (top, bottom) = body.split_vertically(830);
        draw_bars(&top, bars, target, labels).map_err(|e| anyhow!("bar panel: {e}"))?;
        draw_trend(&bottom, trend, target, labels).map_err(|e| anyhow!("trend panel: {e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    encode_png(WIDTH, HEIGHT, buf)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error + 'static>>;

/// Draws `text` centred in `area` (used for empty panels).
fn draw_centered(area: &Area<'_>, text: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let style = ("sans-serif", 28)
        .into_font()
        .color(&NO_DATA)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))?;
    Ok(())
}

fn caption_style() -> TextStyle<'static> {
    ("sans-serif", 26, FontStyle::Bold).into_font().color(&TEXT)
}

fn draw_bars(area: &Area<'_>, bars: &[BarDatum], target: f64, labels: &ChartLabels) -> DrawResult {
    let shown = select_bars(bars);
    let caption = if shown.len() < bars.len() {
        format!("{} ({}/{})", labels.bars_caption, shown.len(), bars.len())
    } else {
        labels.bars_caption.clone()
    };
    let area = area.titled(&caption, caption_style())?;
    if shown.is_empty() {
        return draw_centered(&area, &labels.no_data);
    }

    // At least MIN_ROWS rows so that a handful of bars stay bar-shaped; the
    // bars fill the rows from the top.
    let n = shown.len().max(MIN_ROWS);
    let max_cov = shown
        .iter()
        .filter_map(|b| b.coverage)
        .fold(target, f64::max);
    let x_max = (max_cov * 100.0 * 1.15).max(100.0);
    let label_area = 330;

    let mut chart = ChartBuilder::on(&area)
        .margin_top(30)
        .margin_left(10)
        .margin_right(40)
        .margin_bottom(5)
        .x_label_area_size(36)
        .y_label_area_size(label_area)
        .build_cartesian_2d(0f64..x_max, 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(11)
        .x_label_formatter(&|v| format!("{v:.0}%"))
        .x_label_style(("sans-serif", 16))
        .light_line_style(RGBColor(244, 244, 244))
        .draw()?;

    let plot_h = {
        let (_, y0) = chart.backend_coord(&(0.0, n as f64));
        let (_, y1) = chart.backend_coord(&(0.0, 0.0));
        (y1 - y0).max(1)
    };
    let row_px = plot_h as f64 / n as f64;
    let font_px = (row_px * 0.6).clamp(10.0, 20.0);
    let label_style = ("sans-serif", font_px)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let value_style = ("sans-serif", font_px)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));

    for (i, bar) in shown.iter().enumerate() {
        // First bar at the top.
        let y_hi = (n - i) as f64 - 0.15;
        let y_lo = (n - i - 1) as f64 + 0.15;
        let y_mid = (n - i) as f64 - 0.5;
        let (px, py) = chart.backend_coord(&(0.0, y_mid));
        area.draw_text(
            &truncate_chars(&bar.label, MAX_LABEL_CHARS),
            &label_style,
            (
                px - 8 - area.get_base_pixel().0,
                py - area.get_base_pixel().1,
            ),
        )?;
        match bar.coverage {
            Some(c) => {
                let colour = if c >= target { AT_TARGET } else { BELOW_TARGET };
                let x = c.max(0.0) * 100.0;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y_lo), (x, y_hi)],
                    colour.filled(),
                )))?;
                let (vx, vy) = chart.backend_coord(&(x, y_mid));
                area.draw_text(
                    &pct(c),
                    &value_style,
                    (
                        vx + 6 - area.get_base_pixel().0,
                        vy - area.get_base_pixel().1,
                    ),
                )?;
            }
            None => {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y_lo), (x_max * 0.98, y_hi)],
                    NO_DATA.stroke_width(1),
                )))?;
                let (vx, vy) = chart.backend_coord(&(0.0, y_mid));
                area.draw_text(
                    &labels.no_data,
                    &value_style.color(&NO_DATA),
                    (
                        vx + 8 - area.get_base_pixel().0,
                        vy - area.get_base_pixel().1,
                    ),
                )?;
            }
        }
    }

    let t = target * 100.0;
    chart.draw_series(DashedLineSeries::new(
        [(t, 0.0), (t, n as f64)],
        10,
        6,
        TARGET_LINE.stroke_width(3),
    ))?;
    let (tx, ty) = chart.backend_coord(&(t, n as f64));
    area.draw_text(
        &format!("{} {}", labels.target_label, pct(target)),
        &("sans-serif", 18, FontStyle::Bold)
            .into_font()
            .color(&TARGET_LINE)
            .pos(Pos::new(HPos::Center, VPos::Bottom)),
        (
            tx - area.get_base_pixel().0,
            ty - 6 - area.get_base_pixel().1,
        ),
    )?;
    Ok(())
}

fn draw_trend(
    area: &Area<'_>,
    trend: &[TrendPoint],
    target: f64,
    labels: &ChartLabels,
) -> DrawResult {
    let area = area.titled(&labels.trend_caption, caption_style())?;
    let mut points: Vec<&TrendPoint> = trend.iter().collect();
    points.sort_by_key(|p| p.day);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return draw_centered(&area, &labels.no_data);
    };
    let origin = first.day;
    let mut x_max = (last.day - origin).num_days();
    let mut x_min = 0i64;
    if x_max == 0 {
        x_min = -1;
        x_max = 1;
    }
    let max_cov = points
        .iter()
        .filter_map(|p| p.coverage)
        .fold(target, f64::max);
    let y_max = (max_cov * 100.0 * 1.15).max(100.0);

    let mut chart = ChartBuilder::on(&area)
        .margin_top(30)
        .margin_left(10)
        .margin_right(60)
        .margin_bottom(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_max, 0f64..y_max)?;
    let day_fmt = |d: &i64| {
        origin
            .checked_add_signed(chrono::Duration::days(*d))
            .map(|day| day.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_labels(7)
        .x_label_formatter(&day_fmt)
        .y_labels(11)
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style(("sans-serif", 16))
        .light_line_style(RGBColor(244, 244, 244))
        .draw()?;

    // Split into runs of consecutive known values; a `None` breaks the line.
    let mut runs: Vec<Vec<(i64, f64)>> = vec![Vec::new()];
    for p in &points {
        let x = (p.day - origin).num_days();
        match p.coverage {
            Some(c) => {
                if let Some(run) = runs.last_mut() {
                    run.push((x, c * 100.0));
                }
            }
            None => runs.push(Vec::new()),
        }
    }
    let known: Vec<(i64, f64)> = runs.iter().flatten().copied().collect();
    if known.is_empty() {
        let (w, h) = area.dim_in_pixel();
        area.draw_text(
            &labels.no_data,
            &("sans-serif", 28)
                .into_font()
                .color(&NO_DATA)
                .pos(Pos::new(HPos::Center, VPos::Center)),
            (w as i32 / 2, h as i32 / 2),
        )?;
    }
    for run in runs.iter().filter(|r| r.len() > 1) {
        chart.draw_series(LineSeries::new(
            run.iter().copied(),
            TREND_LINE.stroke_width(3),
        ))?;
    }
    chart.draw_series(
        known
            .iter()
            .map(|&(x, y)| Circle::new((x, y), 5, TREND_LINE.filled())),
    )?;

    let t = target * 100.0;
    chart.draw_series(DashedLineSeries::new(
        [(x_min, t), (x_max, t)],
        10,
        6,
        TARGET_LINE.stroke_width(3),
    ))?;
    // Label at the left end: trends usually rise, so the left is emptier.
    let (tx, ty) = chart.backend_coord(&(x_min, t));
    area.draw_text(
        &format!("{} {}", labels.target_label, pct(target)),
        &("sans-serif", 18, FontStyle::Bold)
            .into_font()
            .color(&TARGET_LINE)
            .pos(Pos::new(HPos::Left, VPos::Bottom)),
        (
            tx + 10 - area.get_base_pixel().0,
            ty - 8 - area.get_base_pixel().1,
        ),
    )?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks the PNG signature and returns the IHDR width and height.
    pub(crate) fn png_dims(png: &[u8]) -> (u32, u32) {
        assert!(png.len() > 33, "PNG too short");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "bad PNG signature");
        assert_eq!(&png[12..16], b"IHDR", "first chunk is not IHDR");
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        (w, h)
    }

    fn labels() -> ChartLabels {
        ChartLabels {
            title: "Độ phủ Bluezone — Tỉnh Long An".into(),
            bars_caption: "Theo đơn vị".into(),
            trend_caption: "30 ngày qua".into(),
            target_label: "Mục tiêu".into(),
            no_data: "Không có dữ liệu".into(),
        }
    }

    fn bars(n: usize) -> Vec<BarDatum> {
        (0..n)
            .map(|i| BarDatum {
                label: match i % 3 {
                    0 => format!("Thành phố Tân An {i}"),
                    1 => format!("Huyện Đức Hòa {i}"),
                    _ => format!("Xã Mỹ Lộc {i}"),
                },
                coverage: if i % 7 == 3 {
                    None
                } else {
                    Some((i as f64 * 0.037) % 1.1)
                },
            })
            .collect()
    }

    fn trend(n: usize) -> Vec<TrendPoint> {
        let start = NaiveDate::from_ymd_opt(2020, 7, 22).unwrap_or_default();
        (0..n)
            .map(|i| TrendPoint {
                day: start + chrono::Duration::days(i as i64),
                coverage: if i % 9 == 4 {
                    None
                } else {
                    Some(i as f64 / 60.0)
                },
            })
            .collect()
    }

    fn render(n_bars: usize, n_days: usize) -> Vec<u8> {
        let png = coverage_chart_png(&bars(n_bars), &trend(n_days), 0.4, &labels()).unwrap();
        assert_eq!(png_dims(&png), (WIDTH, HEIGHT));
        png
    }

    #[test]
    fn empty_inputs_give_valid_png() {
        render(0, 0);
    }

    #[test]
    fn one_bar_one_point() {
        render(1, 1);
    }

    #[test]
    fn fifteen_bars_thirty_days_with_gaps() {
        let b = bars(15);
        assert!(b.iter().any(|b| b.coverage.is_none()));
        render(15, 30);
    }

    #[test]
    fn many_bars_are_capped() {
        let png = render(188, 30);
        // Drawing 40 instead of 188 bars must differ from drawing 15.
        assert_ne!(png, render(15, 30));
    }

    #[test]
    fn all_none_values() {
        let b = vec![
            BarDatum {
                label: "Xã Mỹ Lộc".into(),
                coverage: None,
            };
            3
        ];
        let t: Vec<TrendPoint> = trend(5)
            .into_iter()
            .map(|p| TrendPoint {
                coverage: None,
                ..p
            })
            .collect();
        let png = coverage_chart_png(&b, &t, 0.4, &labels()).unwrap();
        assert_eq!(png_dims(&png), (WIDTH, HEIGHT));
    }

    #[test]
    fn data_changes_the_image() {
        let a = render(5, 10);
        let mut b = bars(5);
        b[0].coverage = Some(0.95);
        let other = coverage_chart_png(&b, &trend(10), 0.4, &labels()).unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn selection_keeps_lowest_in_caller_order() {
        let b = bars(188);
        let shown = select_bars(&b);
        assert_eq!(shown.len(), MAX_BARS);
        let max_shown = shown
            .iter()
            .filter_map(|b| b.coverage)
            .fold(f64::MIN, f64::max);
        let hidden_min = b
            .iter()
            .filter(|x| !shown.iter().any(|s| std::ptr::eq(*s, *x)))
            .filter_map(|b| b.coverage)
            .fold(f64::MAX, f64::min);
        assert!(max_shown <= hidden_min);
        assert!(shown.iter().all(|b| b.coverage.is_some()));
        // Caller order preserved.
        let pos: Vec<usize> = shown
            .iter()
            .map(|s| b.iter().position(|x| std::ptr::eq(x, *s)).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(select_bars(&bars(15)).len(), 15);
    }

    #[test]
    fn truncation_counts_chars() {
        assert_eq!(truncate_chars("Đức Hòa", 10), "Đức Hòa");
        assert_eq!(truncate_chars("Thành phố Tân An", 6), "Thành…");
        assert_eq!(pct(0.1171), "11.71%");
    }

    #[test]
    fn bar_labels_keep_small_rates_visible() {
        // 38 installs in a district of 181,660 people: the label a bar gets.
        assert_eq!(pct(38.0 / 181_660.0), "0.02%");
        assert_eq!(pct(0.1109), "11.09%");
    }

    #[test]
    #[ignore = "writes preview images to target/ for manual inspection"]
    fn write_previews() {
        std::fs::write("target/chart_15.png", render(15, 30)).unwrap();
        std::fs::write("target/chart_188.png", render(188, 30)).unwrap();
        std::fs::write("target/chart_1.png", render(1, 1)).unwrap();
        std::fs::write("target/chart_0.png", render(0, 0)).unwrap();
    }
}
