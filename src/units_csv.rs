//! The unit file format: a header `code,name,parent_code,level` and an optional `population`
//! column, as in `data/`. Every problem is reported as `file:line: reason`; an import with
//! any problem writes nothing.

use std::path::Path;

use anyhow::{Result, bail};

use crate::domain::{UnitCode, UnitKind};
use crate::store::{ImportSummary, Store, UnitRow};

/// Reads and checks a unit file. Errors are `(line, reason)` pairs.
pub fn parse(text: &str) -> Result<Vec<UnitRow>, Vec<(usize, String)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![(1, format!("unreadable header: {e}"))]),
    };
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let expected = ["code", "name", "parent_code", "level"];
    if names.len() < 4
        || names[..4] != expected
        || (names.len() == 5 && names[4] != "population")
        || names.len() > 5
    {
        return Err(vec![(
            1,
            "header must be code,name,parent_code,level with an optional population column".into(),
        )]);
    }
    let width = names.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push((
                    e.position().map_or(line, |p| p.line() as usize),
                    format!("unreadable row: {e}"),
                ));
                continue;
            }
        };
        let line = record.position().map_or(line, |p| p.line() as usize);
        if record.len() != width {
            errors.push((
                line,
                format!("expected {width} columns, found {}", record.len()),
            ));
            continue;
        }
        let code = match UnitCode::parse(&record[0]) {
            Ok(c) => c,
            Err(e) => {
                errors.push((line, e));
                continue;
            }
        };
        let name = record[1].split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 200 {
            errors.push((line, "name must be 1 to 200 characters".into()));
            continue;
        }
        let parent = record[2].trim();
        let parent_code = if parent.is_empty() {
            None
        } else {
            match UnitCode::parse(parent) {
                Ok(p) => Some(p.to_string()),
                Err(e) => {
                    errors.push((line, format!("parent: {e}")));
                    continue;
                }
            }
        };
        let Some(kind) = UnitKind::parse(&record[3]) else {
            errors.push((line, format!("unknown level {:?}", record[3].trim())));
            continue;
        };
        let population = if width == 5 && !record[4].trim().is_empty() {
            match record[4].trim().replace(['_', ' '], "").parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    errors.push((line, format!("bad population {:?}", record[4].trim())));
                    continue;
                }
            }
        } else {
            None
        };
        rows.push(UnitRow {
            code: code.to_string(),
            name,
            parent_code,
            kind: kind.as_str().to_string(),
            population,
            line,
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Imports a unit file into the store: all of it, or nothing.
pub async fn import_file(store: &Store, path: &Path) -> Result<ImportSummary> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    import_text(store, &path.display().to_string(), &text).await
}

/// Imports unit rows from text; `name` prefixes error lines.
pub async fn import_text(store: &Store, name: &str, text: &str) -> Result<ImportSummary> {
    let rows = parse(text).map_err(|errs| format_errors(name, &errs))?;
    store
        .import_units(&rows)
        .await
        .map_err(|errs| format_errors(name, &errs))
}

fn format_errors(name: &str, errors: &[(usize, String)]) -> anyhow::Error {
    let mut text = String::new();
    for (line, reason) in errors.iter().take(50) {
        text.push_str(&format!("{name}:{line}: {reason}\n"));
    }
    if errors.len() > 50 {
        text.push_str(&format!("… and {} more errors\n", errors.len() - 50));
    }
    text.push_str("nothing was imported");
    anyhow::anyhow!(text)
}

/// Fails unless the file exists (for a friendly CLI message).
pub fn check_exists(path: &Path) -> Result<()> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_with_and_without_population() {
        let rows = parse("code,name,parent_code,level,population\n80,Tỉnh Long An,,province,1688547\n794,Thành phố  Tân An,80,district,\n")
            .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].population, Some(1_688_547));
        assert_eq!(rows[1].name, "Thành phố Tân An");
        assert_eq!(rows[1].parent_code.as_deref(), Some("80"));
        assert_eq!(rows[1].line, 3);
        let rows =
            parse("\u{feff}code,name,parent_code,level\n01,Hà Nội,,province\n").expect("valid");
        assert_eq!(rows[0].population, None);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let errs = parse("code,name,parent_code,level,population\n80,A,,province,x\n81,B,,planet,1\n82,C,,province\n8 3,D,,province,1\n")
            .expect_err("invalid");
        let lines: Vec<usize> = errs.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![2, 3, 4, 5], "{errs:?}");
        assert!(errs[0].1.contains("population"));
        assert!(errs[1].1.contains("level"));
        assert!(errs[2].1.contains("columns"));
        assert!(parse("id,name\n1,a\n").is_err());
    }
}
