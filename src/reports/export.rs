//! Coverage figures exported as XLSX, CSV or a plain-text table.
//!
//! * [`to_xlsx`] – workbook with two sheets: the figures (title row, bold
//!   header row with frozen panes and an autofilter, coverage and target as
//!   exact fractions in numeric cells formatted `0.00%`) and the daily history.
//! * [`to_csv`] – UTF-8 with a byte-order mark so Excel reads Vietnamese
//!   names correctly; coverage and target as percentages with six
//!   significant digits (`11.0912`, `0.0209182`), never rounded to nothing;
//!   blank cells for missing values.
//! * [`to_text`] – aligned table for a terminal, columns sized by character
//!   count (not bytes); percentages with two decimals (`11.09`).
//!
//! Every header, sheet name and title comes from [`ExportHeaders`]; only
//! numbers and dates are formatted here.

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

/// One administrative unit's current figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// Administrative code of the unit.
    pub code: String,
    /// Unit name.
    pub unit: String,
    /// Level name (province, district, commune…), already localised.
    pub level: String,
    /// Population, if known.
    pub population: Option<i64>,
    /// Members who joined through the bot.
    pub members: i64,
    /// Members who confirmed installing Bluezone.
    pub confirmed: i64,
    /// Installations verified (e.g. by screenshot).
    pub verified: i64,
    /// Installations reported by officials.
    pub reported: i64,
    /// Coverage as a fraction; `None` without population.
    pub coverage: Option<f64>,
    /// Target coverage as a fraction.
    pub target: f64,
    /// People still needed to reach the target; `None` without population.
    pub gap: Option<i64>,
    /// Members who have not confirmed and can be messaged now for free; `None` when not
    /// computed.
    pub reach_free: Option<i64>,
    /// Members who have not confirmed and can be messaged now at a cost.
    pub reach_billed: Option<i64>,
    /// Members who have not confirmed and cannot be messaged now (to visit in person).
    pub reach_none: Option<i64>,
}

/// One unit's figures on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The day.
    pub day: NaiveDate,
    /// Administrative code of the unit.
    pub code: String,
    /// Unit name.
    pub unit: String,
    /// Members who joined through the bot.
    pub members: i64,
    /// Members who confirmed installing Bluezone.
    pub confirmed: i64,
    /// Installations verified.
    pub verified: i64,
    /// Installations reported by officials.
    pub reported: i64,
    /// Coverage as a fraction; `None` without population.
    pub coverage: Option<f64>,
}

/// Localised headers, sheet names and title (already rendered by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportHeaders {
    /// Name of the figures sheet (sanitised to Excel's rules).
    pub sheet_figures: String,
    /// Name of the history sheet (sanitised to Excel's rules).
    pub sheet_history: String,
    /// Columns: code, unit, level, population, members, confirmed, verified,
    /// reported, coverage %, target, gap, and the unconfirmed members reachable free,
    /// reachable at a cost, unreachable.
    pub figures: [String; 14],
    /// Columns: day, code, unit, members, confirmed, verified, reported,
    /// coverage %.
    pub history: [String; 8],
    /// Title printed above the figures table in the workbook.
    pub title: String,
}

/// One cell of the figures table, typed for the different outputs.
enum Cell<'a> {
    Text(&'a str),
    Int(Option<i64>),
    /// A fraction shown as a percentage.
    Pct(Option<f64>),
}

fn figure_cells(r: &ExportRow) -> [Cell<'_>; 14] {
    [
        Cell::Text(&r.code),
        Cell::Text(&r.unit),
        Cell::Text(&r.level),
        Cell::Int(r.population),
        Cell::Int(Some(r.members)),
        Cell::Int(Some(r.confirmed)),
        Cell::Int(Some(r.verified)),
        Cell::Int(Some(r.reported)),
        Cell::Pct(r.coverage),
        Cell::Pct(Some(r.target)),
        Cell::Int(r.gap),
        Cell::Int(r.reach_free),
        Cell::Int(r.reach_billed),
        Cell::Int(r.reach_none),
    ]
}

impl Cell<'_> {
    /// Plain rendering for the text table (and column widths): percentages
    /// with two decimals and no sign, blanks for missing values.
    fn plain(&self) -> String {
        match self {
            Cell::Text(s) => (*s).to_owned(),
            Cell::Int(v) => v.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Pct(v) => v.map(|v| format!("{:.2}", v * 100.0)).unwrap_or_default(),
        }
    }

    /// Rendering for a CSV cell: percentages with [`CSV_SIGNIFICANT`] significant digits
    /// (a number for whoever computes with the file, not a rounded label); text that a
    /// spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return first)
    /// is prefixed with `'` so it stays text.
    fn csv(&self) -> String {
        match self {
            Cell::Pct(v) => v
                .map(|v| significant(v * 100.0, CSV_SIGNIFICANT))
                .unwrap_or_default(),
            Cell::Text(_) => {
                let plain = self.plain();
                if plain.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    format!("'{plain}")
                } else {
                    plain
                }
            }
            Cell::Int(_) => self.plain(),
        }
    }

    fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

/// Significant digits of a percentage in the CSV.
const CSV_SIGNIFICANT: i32 = 6;

/// `x` with `digits` significant digits in plain decimal notation, trailing zeros dropped
/// (`0.0209182`, `11.09`, `60`).
fn significant(x: f64, digits: i32) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 20) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Makes `name` a valid, non-empty Excel sheet name (no `[]:*?/\`, at most
/// 31 characters, no leading/trailing apostrophe).
fn sheet_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    let cleaned = cleaned.trim().trim_matches('\'').to_owned();
    if cleaned.is_empty() || cleaned.eq_ignore_ascii_case("history") {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// Column width (in Excel character units) fitting `texts`.
fn col_width<'a>(texts: impl Iterator<Item = &'a str>) -> f64 {
    let max = texts.map(|t| t.chars().count()).max().unwrap_or(0);
    (max as f64 + 2.0).clamp(8.0, 50.0)
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell<'_>,
    pct_fmt: &Format,
) -> Result<()> {
    match cell {
        Cell::Text(s) => {
            ws.write_string(row, col, *s)?;
        }
        Cell::Int(Some(v)) => {
            ws.write_number(row, col, *v as f64)?;
        }
        Cell::Pct(Some(v)) => {
            ws.write_number_with_format(row, col, *v, pct_fmt)?;
        }
        Cell::Int(None) | Cell::Pct(None) => {}
    }
    Ok(())
}

/// Builds the XLSX workbook (figures sheet and history sheet) in memory.
pub fn to_xlsx(
    rows: &[ExportRow],
    history: &[HistoryRow],
    headers: &ExportHeaders,
) -> Result<Vec<u8>> {
    let bold = Format::new().set_bold();
    let title_fmt = Format::new().set_bold().set_font_size(14);
    let pct_fmt = Format::new().set_num_format("0.00%");
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");

    let mut wb = Workbook::new();

    // Sheet 1: title, header, figures.
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name(&headers.sheet_figures, "Sheet1"))?;
    ws.write_string_with_format(0, 0, &headers.title, &title_fmt)?;
    for (c, h) in headers.figures.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = 2 + i as u32;
        for (c, cell) in figure_cells(r).iter().enumerate() {
            write_cell(ws, row, c as u16, cell, &pct_fmt)?;
        }
    }
    for c in 0..headers.figures.len() {
        let cells: Vec<String> = rows.iter().map(|r| figure_cells(r)[c].plain()).collect();
        let width = col_width(
            std::iter::once(headers.figures[c].as_str()).chain(cells.iter().map(String::as_str)),
        );
        ws.set_column_width(c as u16, width)?;
    }
    ws.set_freeze_panes(2, 0)?;
    ws.autofilter(
        1,
        0,
        1 + rows.len() as u32,
        headers.figures.len() as u16 - 1,
    )?;

    // Sheet 2: history.
    let ws = wb.add_worksheet();
    let mut hist_name = sheet_name(&headers.sheet_history, "Sheet2");
    if hist_name.to_lowercase() == sheet_name(&headers.sheet_figures, "Sheet1").to_lowercase() {
        hist_name = "Sheet2".to_owned();
    }
    ws.set_name(hist_name)?;
    for (c, h) in headers.history.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (i, h) in history.iter().enumerate() {
        let row = 1 + i as u32;
        let date =
            ExcelDateTime::from_ymd(h.day.year() as u16, h.day.month() as u8, h.day.day() as u8)
                .with_context(|| format!("date {} out of Excel's range", h.day))?;
        ws.write_datetime_with_format(row, 0, &date, &date_fmt)?;
        let cells = [
            Cell::Text(&h.code),
            Cell::Text(&h.unit),
            Cell::Int(Some(h.members)),
            Cell::Int(Some(h.confirmed)),
            Cell::Int(Some(h.verified)),
            Cell::Int(Some(h.reported)),
            Cell::Pct(h.coverage),
        ];
        for (c, cell) in cells.iter().enumerate() {
            write_cell(ws, row, 1 + c as u16, cell, &pct_fmt)?;
        }
    }
    ws.set_column_width(
        0,
        col_width(std::iter::once(headers.history[0].as_str())).max(12.0),
    )?;
    ws.set_column_width(
        1,
        col_width(
            std::iter::once(headers.history[1].as_str())
                .chain(history.iter().map(|h| h.code.as_str())),
        ),
    )?;
    ws.set_column_width(
        2,
        col_width(
            std::iter::once(headers.history[2].as_str())
                .chain(history.iter().map(|h| h.unit.as_str())),
        ),
    )?;
    for c in 3..headers.history.len() {
        ws.set_column_width(
            c as u16,
            col_width(std::iter::once(headers.history[c].as_str())),
        )?;
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, history.len() as u32, headers.history.len() as u16 - 1)?;

    wb.save_to_buffer().context("writing the XLSX workbook")
}

/// Builds a UTF-8 CSV (with BOM) of the figures: header row, then one row per
/// unit; coverage and target in percent with six significant digits.
pub fn to_csv(rows: &[ExportRow], headers: &ExportHeaders) -> Result<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&headers.figures)?;
        for r in rows {
            w.write_record(figure_cells(r).iter().map(Cell::csv))?;
        }
        w.flush().context("writing CSV")?;
    }
    Ok(out)
}

/// Renders the figures as an aligned plain-text table: text columns
/// left-aligned, numbers right-aligned, two spaces between columns.
pub fn to_text(rows: &[ExportRow], headers: &ExportHeaders) -> String {
    let body: Vec<Vec<(String, bool)>> = rows
        .iter()
        .map(|r| {
            figure_cells(r)
                .iter()
                .map(|c| (c.plain(), c.is_numeric()))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..headers.figures.len())
        .map(|c| {
            body.iter()
                .map(|r| r[c].0.chars().count())
                .chain(std::iter::once(headers.figures[c].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    let mut push_line = |cells: &mut dyn Iterator<Item = (&str, bool)>| {
        let mut line = String::new();
        for (c, (text, right)) in cells.enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[c].saturating_sub(text.chars().count()));
            if right {
                line.push_str(&pad);
                line.push_str(text);
            } else {
                line.push_str(text);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    let numeric_cols: Vec<bool> = match rows.first() {
        Some(r) => figure_cells(r).iter().map(Cell::is_numeric).collect(),
        None => vec![false; headers.figures.len()],
    };
    push_line(
        &mut headers
            .figures
            .iter()
            .zip(&numeric_cols)
            .map(|(h, n)| (h.as_str(), *n)),
    );
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    push_line(&mut rule.iter().map(|s| (s.as_str(), false)));
    for r in &body {
        push_line(&mut r.iter().map(|(s, n)| (s.as_str(), *n)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};

    fn headers() -> ExportHeaders {
        ExportHeaders {
            sheet_figures: "Số liệu".into(),
            sheet_history: "Lịch sử".into(),
            figures: [
                "Mã",
                "Đơn vị",
                "Cấp",
                "Dân số",
                "Thành viên",
                "Xác nhận",
                "Đã kiểm tra",
                "Báo cáo",
                "Độ phủ %",
                "Mục tiêu",
                "Còn thiếu",
                "Nhắn miễn phí",
                "Nhắn mất phí",
                "Không nhắn được",
            ]
            .map(String::from),
            history: [
                "Ngày",
                "Mã",
                "Đơn vị",
                "Thành viên",
                "Xác nhận",
                "Đã kiểm tra",
                "Báo cáo",
                "Độ phủ %",
            ]
            .map(String::from),
            title: "Độ phủ Bluezone — Tỉnh Long An — 2020-08-20".into(),
        }
    }

    fn rows() -> Vec<ExportRow> {
        vec![
            ExportRow {
                code: "80".into(),
                unit: "Tỉnh Long An".into(),
                level: "Tỉnh".into(),
                population: Some(1_688_547),
                members: 200_000,
                confirmed: 197_600,
                verified: 150_000,
                reported: 10_000,
                coverage: Some(0.1171),
                target: 0.4,
                gap: Some(477_819),
                reach_free: Some(10),
                reach_billed: Some(2),
                reach_none: Some(3),
            },
            ExportRow {
                code: "794".into(),
                unit: "Thành phố Tân An".into(),
                level: "Thành phố".into(),
                population: None,
                members: 12,
                confirmed: 10,
                verified: 3,
                reported: 0,
                coverage: None,
                target: 0.4,
                gap: None,
                reach_free: Some(10),
                reach_billed: Some(2),
                reach_none: Some(3),
            },
            ExportRow {
                code: "27787".into(),
                unit: "Xã Mỹ Lộc".into(),
                level: "Xã".into(),
                population: Some(10_000),
                members: 4_500,
                confirmed: 4_200,
                verified: 4_000,
                reported: 0,
                coverage: Some(0.42),
                target: 0.4,
                gap: Some(0),
                reach_free: Some(10),
                reach_billed: Some(2),
                reach_none: Some(3),
            },
        ]
    }

    fn history() -> Vec<HistoryRow> {
        let d = NaiveDate::from_ymd_opt(2020, 8, 20).unwrap();
        vec![
            HistoryRow {
                day: d,
                code: "80".into(),
                unit: "Tỉnh Long An".into(),
                members: 200_000,
                confirmed: 197_600,
                verified: 150_000,
                reported: 10_000,
                coverage: Some(0.1171),
            },
            HistoryRow {
                day: d.pred_opt().unwrap(),
                code: "794".into(),
                unit: "Huyện Đức Hòa".into(),
                members: 7,
                confirmed: 5,
                verified: 1,
                reported: 0,
                coverage: None,
            },
        ]
    }

    #[test]
    fn xlsx_round_trip() {
        let bytes = to_xlsx(&rows(), &history(), &headers()).unwrap();
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(wb.sheet_names(), vec!["Số liệu", "Lịch sử"]);

        let s = wb.worksheet_range("Số liệu").unwrap();
        assert_eq!(s.start(), Some((0, 0)));
        let cell = |r: u32, c: u32| s.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(
            cell(0, 0),
            Data::String("Độ phủ Bluezone — Tỉnh Long An — 2020-08-20".into())
        );
        assert_eq!(cell(1, 1), Data::String("Đơn vị".into()));
        assert_eq!(cell(1, 10), Data::String("Còn thiếu".into()));
        assert_eq!(cell(2, 0), Data::String("80".into()));
        assert_eq!(cell(2, 1), Data::String("Tỉnh Long An".into()));
        assert_eq!(cell(2, 3), Data::Float(1_688_547.0));
        assert_eq!(cell(2, 4), Data::Float(200_000.0));
        assert_eq!(cell(2, 7), Data::Float(10_000.0));
        assert_eq!(cell(2, 8), Data::Float(0.1171));
        assert_eq!(cell(2, 9), Data::Float(0.4));
        assert_eq!(cell(2, 10), Data::Float(477_819.0));
        // Unit without population: blank population, coverage and gap.
        assert_eq!(cell(3, 1), Data::String("Thành phố Tân An".into()));
        assert_eq!(cell(3, 3), Data::Empty);
        assert_eq!(cell(3, 8), Data::Empty);
        assert_eq!(cell(3, 10), Data::Empty);
        assert_eq!(cell(3, 4), Data::Float(12.0));
        assert_eq!(cell(4, 1), Data::String("Xã Mỹ Lộc".into()));
        assert_eq!(cell(4, 10), Data::Float(0.0));
        assert_eq!(s.height(), 5);

        let h = wb.worksheet_range("Lịch sử").unwrap();
        let hc = |r: u32, c: u32| h.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(hc(0, 0), Data::String("Ngày".into()));
        assert_eq!(hc(0, 7), Data::String("Độ phủ %".into()));
        match hc(1, 0) {
            // 2020-08-20 is Excel serial day 44063.
            Data::DateTime(dt) => assert_eq!(dt.as_f64(), 44063.0),
            other => panic!("expected a date, got {other:?}"),
        }
        assert_eq!(hc(1, 2), Data::String("Tỉnh Long An".into()));
        assert_eq!(hc(1, 3), Data::Float(200_000.0));
        assert_eq!(hc(1, 7), Data::Float(0.1171));
        assert_eq!(hc(2, 2), Data::String("Huyện Đức Hòa".into()));
        assert_eq!(hc(2, 7), Data::Empty);
        assert_eq!(h.height(), 3);
    }

    #[test]
    fn sheet_names_are_sanitised() {
        assert_eq!(sheet_name("a/b:c", "X"), "a_b_c");
        assert_eq!(sheet_name("", "X"), "X");
        assert_eq!(sheet_name(&"Đ".repeat(40), "X").chars().count(), 31);
        let mut h = headers();
        h.sheet_figures = "Dữ liệu [x]".into();
        h.sheet_history = "Dữ liệu [x]".into();
        let bytes = to_xlsx(&[], &[], &h).unwrap();
        let wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(wb.sheet_names(), vec!["Dữ liệu _x_", "Sheet2"]);
    }

    #[test]
    fn csv_round_trip() {
        let bytes = to_csv(&rows(), &headers()).unwrap();
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "BOM missing");
        let mut rdr = csv::Reader::from_reader(&bytes[3..]);
        let hdr = rdr.headers().unwrap().clone();
        assert_eq!(hdr.iter().collect::<Vec<_>>(), headers().figures.to_vec());
        let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0].iter().collect::<Vec<_>>(),
            vec![
                "80",
                "Tỉnh Long An",
                "Tỉnh",
                "1688547",
                "200000",
                "197600",
                "150000",
                "10000",
                "11.71",
                "40",
                "477819",
                "10",
                "2",
                "3"
            ]
        );
        assert_eq!(
            recs[1].iter().collect::<Vec<_>>(),
            vec![
                "794",
                "Thành phố Tân An",
                "Thành phố",
                "",
                "12",
                "10",
                "3",
                "0",
                "",
                "40",
                "",
                "10",
                "2",
                "3"
            ]
        );
        assert_eq!(&recs[2][8], "42");
    }

    #[test]
    fn csv_rates_keep_their_significant_digits() {
        let mut small = rows();
        // 38 installs in a district of 181,660 people.
        small[0].coverage = Some(38.0 / 181_660.0);
        small[0].target = 0.6;
        let bytes = to_csv(&small, &headers()).unwrap();
        let mut rdr = csv::Reader::from_reader(&bytes[3..]);
        let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(&recs[0][8], "0.0209182");
        assert_eq!(&recs[0][9], "60");
        assert_eq!(significant(11.090_000_000_000_002, 6), "11.09");
        assert_eq!(significant(100.0, 6), "100");
        assert_eq!(significant(0.0, 6), "0");
        assert_eq!(significant(123_456.7, 6), "123457");
    }

    #[test]
    fn csv_text_never_becomes_a_formula() {
        let mut evil = rows();
        evil[0].unit = "=HYPERLINK(\"http://x\",\"y\")".into();
        evil[0].code = "-80".into();
        evil[1].unit = "@SUM(A1)".into();
        let bytes = to_csv(&evil, &headers()).unwrap();
        let mut rdr = csv::Reader::from_reader(&bytes[3..]);
        let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(&recs[0][0], "'-80");
        assert_eq!(&recs[0][1], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(&recs[1][1], "'@SUM(A1)");
        // Numbers are untouched.
        assert_eq!(&recs[0][4], "200000");
    }

    #[test]
    fn text_table_is_aligned() {
        let t = to_text(&rows(), &headers());
        for r in rows() {
            assert!(t.contains(&r.unit), "missing {}", r.unit);
        }
        assert!(t.contains("11.71"));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + 3);
        // The unit column starts at the same character offset on every line,
        // and the right-aligned last column ends at the same offset.
        let unit_col = |l: &str| {
            let idx = l.find(' ').unwrap();
            l[idx..].chars().take_while(|c| *c == ' ').count() + l[..idx].chars().count()
        };
        let starts: Vec<usize> = lines.iter().map(|l| unit_col(l)).collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]), "{t}");
        // Rows with a gap value end at the same char column as the header rule.
        let ends: Vec<usize> = [lines[1], lines[2], lines[4]]
            .iter()
            .map(|l| l.chars().count())
            .collect();
        assert!(ends.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
