//! Administrative units: the tree, search, import and the coverage counters.
//!
//! Each unit keeps its own members' counters and the same counters summed over its subtree,
//! updated in the same transaction as the change that moves them, so reading the coverage of
//! the whole country is a read of 64 rows, never a count over people.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use sqlx::{AssertSqlSafe, FromRow};

use super::people::unit_code;
use super::{Store, Tx};
use crate::domain::{UnitCode, fold};

/// A unit with its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// GSO or custom code.
    pub code: UnitCode,
    /// Full name ("Huyện Đức Hòa").
    pub name: String,
    /// The parent's code; none for a top unit.
    pub parent_code: Option<UnitCode>,
    /// province, district, commune, agency, business, union, other.
    pub kind: String,
    /// Census population, when known.
    pub population: Option<i64>,
    /// A coverage target that overrides the campaign's.
    pub target: Option<f64>,
    /// 0 for a top unit.
    pub depth: i64,
    /// `/80/794/27694/`: the codes from the top, for subtree queries.
    pub path: String,
    /// The unit's own members.
    pub members: i64,
    /// The unit's own members who confirmed.
    pub confirmed: i64,
    /// The unit's own confirmations checked in person.
    pub verified: i64,
    /// Installs reported in person for the unit.
    pub reported: i64,
    /// `members` over the subtree.
    pub sub_members: i64,
    /// `confirmed` over the subtree.
    pub sub_confirmed: i64,
    /// `verified` over the subtree.
    pub sub_verified: i64,
    /// `reported` over the subtree.
    pub sub_reported: i64,
}

/// A `units` row as stored; it never leaves the store: [`Unit::try_from`] parses its codes.
#[derive(FromRow)]
struct UnitStored {
    code: String,
    name: String,
    parent_code: Option<String>,
    kind: String,
    population: Option<i64>,
    target: Option<f64>,
    depth: i64,
    path: String,
    members: i64,
    confirmed: i64,
    verified: i64,
    reported: i64,
    sub_members: i64,
    sub_confirmed: i64,
    sub_verified: i64,
    sub_reported: i64,
}

impl TryFrom<UnitStored> for Unit {
    type Error = anyhow::Error;

    fn try_from(row: UnitStored) -> Result<Unit> {
        let parsed = (|| {
            Ok::<_, anyhow::Error>((
                unit_code(&row.code)?,
                row.parent_code.as_deref().map(unit_code).transpose()?,
            ))
        })();
        let (code, parent_code) =
            parsed.with_context(|| format!("unit {:?} in the database is damaged", row.code))?;
        Ok(Unit {
            code,
            name: row.name,
            parent_code,
            kind: row.kind,
            population: row.population,
            target: row.target,
            depth: row.depth,
            path: row.path,
            members: row.members,
            confirmed: row.confirmed,
            verified: row.verified,
            reported: row.reported,
            sub_members: row.sub_members,
            sub_confirmed: row.sub_confirmed,
            sub_verified: row.sub_verified,
            sub_reported: row.sub_reported,
        })
    }
}

/// Parses fetched rows.
fn parse_units(rows: Vec<UnitStored>) -> Result<Vec<Unit>> {
    rows.into_iter().map(Unit::try_from).collect()
}

const UNIT_COLUMNS: &str = "code, name, parent_code, kind, population, target, depth, path, \
     members, confirmed, verified, reported, sub_members, sub_confirmed, sub_verified, sub_reported";

/// [`UNIT_COLUMNS`] of the table named `alias` in a query.
fn unit_columns_of(alias: &str) -> String {
    UNIT_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of an import file, already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Parent code, if any.
    pub parent_code: Option<String>,
    /// Kind name.
    pub kind: String,
    /// Population, if given.
    pub population: Option<i64>,
    /// The file line the row came from, for error messages.
    pub line: usize,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Units that were new.
    pub inserted: usize,
    /// Units that existed and were updated.
    pub updated: usize,
}

/// The ancestors of a path, nearest last, including the unit itself.
pub fn path_codes(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl Store {
    /// One unit.
    pub async fn unit(&self, code: &UnitCode) -> Result<Option<Unit>> {
        let sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE code = $1");
        sqlx::query_as::<_, UnitStored>(AssertSqlSafe(sql))
            .bind(code.as_str())
            .fetch_optional(self.pool())
            .await?
            .map(Unit::try_from)
            .transpose()
    }

    /// The units directly below `code` (or the top units when `None`), by name.
    pub async fn children(&self, code: Option<&UnitCode>) -> Result<Vec<Unit>> {
        let sql = match code {
            Some(_) => format!(
                "SELECT {UNIT_COLUMNS} FROM units WHERE parent_code = $1 ORDER BY name_folded, code"
            ),
            None => format!(
                "SELECT {UNIT_COLUMNS} FROM units WHERE parent_code IS NULL ORDER BY name_folded, code"
            ),
        };
        let q = sqlx::query_as::<_, UnitStored>(AssertSqlSafe(sql));
        let q = match code {
            Some(c) => q.bind(c.to_string()),
            None => q,
        };
        parse_units(q.fetch_all(self.pool()).await?)
    }

    /// The units directly below `code` (or the top units when `None`), by name, each with
    /// whether units are below it (it opens rather than being chosen): one statement.
    pub async fn children_opening(&self, code: Option<&UnitCode>) -> Result<Vec<(Unit, bool)>> {
        #[derive(FromRow)]
        struct Opening {
            #[sqlx(flatten)]
            unit: UnitStored,
            opens: i64,
        }
        let below = match code {
            Some(_) => "u.parent_code = $1",
            None => "u.parent_code IS NULL",
        };
        let sql = format!(
            "SELECT {}, CAST(CASE WHEN EXISTS (SELECT 1 FROM units c WHERE c.parent_code = u.code) \
             THEN 1 ELSE 0 END AS BIGINT) AS opens FROM units u WHERE {below} \
             ORDER BY u.name_folded, u.code",
            unit_columns_of("u")
        );
        let q = sqlx::query_as::<_, Opening>(AssertSqlSafe(sql));
        let q = match code {
            Some(c) => q.bind(c.to_string()),
            None => q,
        };
        q.fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|row| Ok((Unit::try_from(row.unit)?, row.opens != 0)))
            .collect()
    }

    /// Whether any unit is imported. Once there are units there always are (units are
    /// imported, never deleted), so a yes is remembered and not asked again: every `/start`
    /// asks.
    pub async fn has_units(&self) -> Result<bool> {
        if self.units_seen() {
            return Ok(true);
        }
        // Stops at the first row; COUNT(*) of the table reads them all (a country has 11,000
        // communes).
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM units LIMIT 1) AS one")
                .fetch_one(self.pool())
                .await?;
        // Only an import writes units, in a transaction of its own: what is seen here is
        // committed.
        if n != 0 {
            self.set_units_seen();
        }
        Ok(n != 0)
    }

    /// How many units there are.
    pub async fn unit_count(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM units")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// Every unit in `code`'s subtree (or all units), in tree order.
    pub async fn subtree(&self, code: Option<&UnitCode>) -> Result<Vec<Unit>> {
        match code {
            Some(code) => {
                let Some(root) = self.unit(code).await? else {
                    return Ok(Vec::new());
                };
                let sql =
                    format!("SELECT {UNIT_COLUMNS} FROM units WHERE path LIKE $1 ORDER BY path");
                parse_units(
                    sqlx::query_as::<_, UnitStored>(AssertSqlSafe(sql))
                        .bind(format!("{}%", root.path))
                        .fetch_all(self.pool())
                        .await?,
                )
            }
            None => {
                let sql = format!("SELECT {UNIT_COLUMNS} FROM units ORDER BY path");
                parse_units(
                    sqlx::query_as::<_, UnitStored>(AssertSqlSafe(sql))
                        .fetch_all(self.pool())
                        .await?,
                )
            }
        }
    }

    /// Units whose folded name contains every word of `query` (diacritics and case ignored),
    /// closest to the top first, at most `limit`.
    ///
    /// With `under`, only that unit and the units below it are found (an account's root).
    pub async fn search_units(
        &self,
        query: &str,
        limit: i64,
        under: Option<&UnitCode>,
    ) -> Result<Vec<Unit>> {
        let folded = fold(query);
        let words: Vec<&str> = folded
            .split(' ')
            .filter(|w| !w.is_empty())
            .take(6)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE 1 = 1");
        for i in 0..words.len() {
            sql.push_str(&format!(" AND name_folded LIKE ${}", i + 1));
        }
        if under.is_some() {
            // The root's own path is a prefix of every path below it.
            sql.push_str(&format!(
                " AND substr(path, 1, length((SELECT r.path FROM units r WHERE r.code = ${n}))) \
                 = (SELECT r.path FROM units r WHERE r.code = ${n})",
                n = words.len() + 3
            ));
        }
        // Names holding the whole query as typed come first ("tan an" -> "Tân An" before "Tân Hưng").
        sql.push_str(&format!(
            " ORDER BY CASE WHEN name_folded LIKE ${} THEN 0 ELSE 1 END, depth, name_folded, code LIMIT ${}",
            words.len() + 1,
            words.len() + 2
        ));
        let mut q = sqlx::query_as::<_, UnitStored>(AssertSqlSafe(sql));
        for w in &words {
            let escaped = w.replace(['%', '_'], "");
            q = q.bind(format!("%{escaped}%"));
        }
        let phrase = words.join(" ").replace(['%', '_'], "");
        let mut q = q.bind(format!("%{phrase}%")).bind(limit);
        if let Some(root) = under {
            q = q.bind(root.as_str());
        }
        parse_units(q.fetch_all(self.pool()).await?)
    }

    /// Whether `code` is `ancestor` or lies below it.
    pub async fn unit_within(&self, code: &UnitCode, ancestor: &UnitCode) -> Result<bool> {
        Ok(match self.unit(code).await? {
            Some(u) => path_codes(&u.path).contains(&ancestor.as_str()),
            None => false,
        })
    }

    /// Sets or clears a unit's own coverage target.
    pub async fn set_unit_target(&self, code: &UnitCode, target: Option<f64>) -> Result<bool> {
        let r = sqlx::query("UPDATE units SET target = $1, updated_at = $2 WHERE code = $3")
            .bind(target)
            .bind(self.now())
            .bind(code.as_str())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// On PostgreSQL, holds off counter updates (confirmations, moves) until an import or a
    /// recount that rewrites subtree totals commits, so none is overwritten. SQLite's write
    /// transactions are exclusive already.
    async fn lock_units(&self, tx: &mut Tx) -> Result<()> {
        if self.backend() == super::Backend::Postgres {
            sqlx::query("LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Imports parsed rows in one transaction: new units are inserted, known ones updated,
    /// never duplicated. Rows are checked first (duplicate codes, unknown parents, cycles);
    /// any error is reported as `line: reason` and nothing is written.
    pub async fn import_units(
        &self,
        rows: &[UnitRow],
    ) -> Result<ImportSummary, Vec<(usize, String)>> {
        let existing = self
            .all_parents()
            .await
            .map_err(|e| vec![(0, format!("{e:#}"))])?;
        let mut errors = Vec::new();
        let mut parents: HashMap<String, Option<String>> = existing.clone();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for row in rows {
            if let Some(first) = seen.insert(&row.code, row.line) {
                errors.push((
                    row.line,
                    format!("duplicate code {} (first on line {first})", row.code),
                ));
            }
            parents.insert(row.code.clone(), row.parent_code.clone());
        }
        for row in rows {
            if let Some(p) = &row.parent_code {
                if !parents.contains_key(p) {
                    errors.push((row.line, format!("unknown parent {p}")));
                } else if p == &row.code {
                    errors.push((row.line, format!("unit {} is its own parent", row.code)));
                }
            }
        }
        if !errors.is_empty() {
            errors.sort();
            return Err(errors);
        }
        let paths = match compute_paths(&parents) {
            Ok(p) => p,
            Err(code) => {
                let line = rows.iter().find(|r| r.code == code).map_or(0, |r| r.line);
                return Err(vec![(
                    line,
                    format!("unit {code} is part of a parent cycle"),
                )]);
            }
        };
        self.write_import(rows, &existing, &paths)
            .await
            .map_err(|e| vec![(0, format!("{e:#}"))])
    }

    async fn all_parents(&self) -> Result<HashMap<String, Option<String>>> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT code, parent_code FROM units")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn write_import(
        &self,
        rows: &[UnitRow],
        existing: &HashMap<String, Option<String>>,
        paths: &HashMap<String, String>,
    ) -> Result<ImportSummary> {
        let now = self.now();
        let mut tx = self.begin().await?;
        self.lock_units(&mut tx).await?;
        // Parents first, so foreign keys hold row by row.
        let mut ordered: Vec<&UnitRow> = rows.iter().collect();
        ordered.sort_by_key(|r| paths.get(&r.code).map_or(0, |p| path_codes(p).len()));
        const BATCH: usize = 400;
        for chunk in ordered.chunks(BATCH) {
            let mut sql = String::from(
                "INSERT INTO units (code, name, name_folded, parent_code, kind, population, depth, path, updated_at) VALUES ",
            );
            sql.push_str(&super::values_rows(
                chunk.len(),
                9,
                "({1},{2},{3},{4},{5},{6},{7},{8},{9})",
            ));
            sql.push_str(
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_folded = excluded.name_folded, \
                 parent_code = excluded.parent_code, kind = excluded.kind, \
                 population = COALESCE(excluded.population, units.population), \
                 depth = excluded.depth, path = excluded.path, updated_at = excluded.updated_at",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                let path = paths.get(&r.code).cloned().unwrap_or_default();
                let depth = path_codes(&path).len() as i64 - 1;
                q = q
                    .bind(r.code.clone())
                    .bind(r.name.clone())
                    .bind(fold(&r.name))
                    .bind(r.parent_code.clone())
                    .bind(r.kind.clone())
                    .bind(r.population)
                    .bind(depth)
                    .bind(path)
                    .bind(now);
            }
            q.execute(&mut *tx).await.context("writing units")?;
        }
        // Units already stored below a moved unit get their new paths too.
        let moved: Vec<&String> = rows
            .iter()
            .filter(|r| existing.get(&r.code).is_some_and(|p| p != &r.parent_code))
            .map(|r| &r.code)
            .collect();
        if !moved.is_empty() {
            for (code, path) in paths {
                if rows.iter().any(|r| &r.code == code) {
                    continue;
                }
                let depth = path_codes(path).len() as i64 - 1;
                sqlx::query(
                    "UPDATE units SET path = $1, depth = $2 WHERE code = $3 AND path <> $1",
                )
                .bind(path.clone())
                .bind(depth)
                .bind(code.clone())
                .execute(&mut *tx)
                .await?;
            }
        }
        recompute_totals(&mut tx).await?;
        tx.commit().await?;
        let inserted = rows
            .iter()
            .filter(|r| !existing.contains_key(&r.code))
            .count();
        Ok(ImportSummary {
            inserted,
            updated: rows.len() - inserted,
        })
    }

    /// Adds to a unit's own counters and to the subtree counters of it and every unit above it.
    pub async fn adjust_counters(tx: &mut Tx, unit_code: &str, delta: Counters) -> Result<()> {
        Store::adjust_counters_many(tx, &[(unit_code, delta)]).await
    }

    /// Several [`Store::adjust_counters`] in one go (a person moving between units). Every
    /// row is updated once, in code order, so concurrent transactions on PostgreSQL lock unit
    /// rows in the same order and cannot deadlock on the shared ancestors.
    pub async fn adjust_counters_many(tx: &mut Tx, changes: &[(&str, Counters)]) -> Result<()> {
        // code -> (own delta, subtree delta)
        let mut rows: std::collections::BTreeMap<String, (Counters, Counters)> =
            std::collections::BTreeMap::new();
        for (unit_code, delta) in changes {
            if *delta == Counters::default() {
                continue;
            }
            let path: Option<(String,)> = sqlx::query_as("SELECT path FROM units WHERE code = $1")
                .bind(unit_code.to_string())
                .fetch_optional(&mut **tx)
                .await?;
            let Some((path,)) = path else {
                bail!("unknown unit {unit_code}");
            };
            rows.entry(unit_code.to_string()).or_default().0.add(*delta);
            for code in path_codes(&path) {
                rows.entry(code.to_string()).or_default().1.add(*delta);
            }
        }
        for (code, (own, sub)) in rows {
            if own == Counters::default() && sub == Counters::default() {
                continue;
            }
            sqlx::query(
                "UPDATE units SET members = members + $1, confirmed = confirmed + $2, \
                 verified = verified + $3, reported = reported + $4, \
                 sub_members = sub_members + $5, sub_confirmed = sub_confirmed + $6, \
                 sub_verified = sub_verified + $7, sub_reported = sub_reported + $8 WHERE code = $9",
            )
            .bind(own.members)
            .bind(own.confirmed)
            .bind(own.verified)
            .bind(own.reported)
            .bind(sub.members)
            .bind(sub.confirmed)
            .bind(sub.verified)
            .bind(sub.reported)
            .bind(code)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Recounts every unit's own counters from the people table and rebuilds the subtree
    /// totals. The counters are maintained on every change; this is the repair tool
    /// (`bluezone-bot units recount`) and the check the tests use.
    pub async fn recount_units(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        self.lock_units(&mut tx).await?;
        sqlx::query(
            "UPDATE units SET \
             members = (SELECT COUNT(*) FROM people p WHERE p.unit_code = units.code AND p.linked_to IS NULL), \
             confirmed = (SELECT COUNT(*) FROM people p WHERE p.unit_code = units.code AND p.linked_to IS NULL AND p.confirmed_at IS NOT NULL), \
             verified = (SELECT COUNT(*) FROM people p WHERE p.unit_code = units.code AND p.linked_to IS NULL AND p.verified_at IS NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        recompute_totals(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Changes to a unit's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Members.
    pub members: i64,
    /// Confirmed installs.
    pub confirmed: i64,
    /// Verified installs.
    pub verified: i64,
    /// Installs reported in person.
    pub reported: i64,
}

impl Counters {
    fn add(&mut self, other: Counters) {
        self.members += other.members;
        self.confirmed += other.confirmed;
        self.verified += other.verified;
        self.reported += other.reported;
    }
}

/// code, parent_code, depth, the four own counters, the four subtree totals.
type CounterRow = (
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// Rebuilds every unit's subtree totals from the own counters, bottom up, writing only the
/// rows that change.
async fn recompute_totals(tx: &mut Tx) -> Result<()> {
    let rows: Vec<CounterRow> = sqlx::query_as(
        "SELECT code, parent_code, depth, members, confirmed, verified, reported, \
             sub_members, sub_confirmed, sub_verified, sub_reported FROM units",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut totals: HashMap<&str, [i64; 4]> = rows
        .iter()
        .map(|r| (r.0.as_str(), [r.3, r.4, r.5, r.6]))
        .collect();
    let mut by_depth: Vec<&CounterRow> = rows.iter().collect();
    by_depth.sort_by_key(|r| std::cmp::Reverse(r.2));
    for r in &by_depth {
        if let Some(parent) = &r.1 {
            let own = totals.get(r.0.as_str()).copied().unwrap_or_default();
            if let Some(p) = totals.get_mut(parent.as_str()) {
                for i in 0..4 {
                    p[i] += own[i];
                }
            }
        }
    }
    for r in &rows {
        let t = totals.get(r.0.as_str()).copied().unwrap_or_default();
        if t != [r.7, r.8, r.9, r.10] {
            sqlx::query(
                "UPDATE units SET sub_members = $1, sub_confirmed = $2, sub_verified = $3, sub_reported = $4 WHERE code = $5",
            )
            .bind(t[0])
            .bind(t[1])
            .bind(t[2])
            .bind(t[3])
            .bind(r.0.clone())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Materialised paths for every unit; `Err(code)` names a unit in a parent cycle.
fn compute_paths(
    parents: &HashMap<String, Option<String>>,
) -> Result<HashMap<String, String>, String> {
    let mut paths: HashMap<String, String> = HashMap::with_capacity(parents.len());
    for code in parents.keys() {
        if paths.contains_key(code) {
            continue;
        }
        let mut chain = vec![code.clone()];
        let mut cur = code.clone();
        let prefix = loop {
            match parents.get(&cur).cloned().flatten() {
                None => break String::from("/"),
                Some(p) => {
                    if let Some(known) = paths.get(&p) {
                        break known.clone();
                    }
                    if chain.contains(&p) || chain.len() > parents.len() {
                        return Err(code.clone());
                    }
                    chain.push(p.clone());
                    cur = p;
                }
            }
        };
        let mut path = prefix;
        for c in chain.iter().rev() {
            path.push_str(c);
            path.push('/');
            paths.insert(c.clone(), path.clone());
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_parents_and_cycles_are_found() {
        let mut parents = HashMap::new();
        parents.insert("80".to_string(), None);
        parents.insert("794".to_string(), Some("80".to_string()));
        parents.insert("27694".to_string(), Some("794".to_string()));
        let paths = compute_paths(&parents).expect("no cycle");
        assert_eq!(paths["27694"], "/80/794/27694/");
        assert_eq!(paths["80"], "/80/");
        parents.insert("a".to_string(), Some("b".to_string()));
        parents.insert("b".to_string(), Some("a".to_string()));
        assert!(compute_paths(&parents).is_err());
    }
}
