//! Coverage tables: daily snapshots of the subtree counters, the audit trail of installs
//! reported in person, and the post-check (members who have not confirmed, verification).

use std::collections::HashMap;

use anyhow::{Context, Result};
use sqlx::AssertSqlSafe;

use super::Store;
use super::units::Counters;
use crate::coverage::Totals;
use crate::coverage::reach::{ReachClass, ReachCounts, ReachCuts};
use crate::domain::{PersonId, Platform, UnitCode};
use crate::reach::Contact;

/// What a `/report` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Recorded; the unit's own reported total is now this.
    Recorded {
        /// The unit's own reported installs after the report.
        total: i64,
    },
    /// Refused: the unit's own reported total would go below zero. It stays at this.
    WouldGoNegative {
        /// The unit's own reported installs, unchanged.
        total: i64,
    },
}

/// One row of the install report audit trail.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstallReport {
    /// The unit reported for.
    pub unit_code: String,
    /// The leader who reported.
    pub person_id: i64,
    /// Installs added (negative for a correction).
    pub amount: i64,
    /// The leader's note.
    pub note: String,
    /// The unit's own reported total after this report.
    pub total_after: i64,
    /// When.
    pub created_at: i64,
}

/// A member who has not confirmed, for the post-check list.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMember {
    /// The person.
    pub id: i64,
    /// The name the platform shows.
    pub display_name: String,
    /// The platform.
    pub platform: Platform,
    /// Their unit's name.
    pub unit_name: String,
}

/// What marking a member verified did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Verified now (and confirmed, if they had not confirmed yet).
    Verified {
        /// Whether this also confirmed them.
        confirmed_now: bool,
    },
    /// They were verified before.
    AlreadyVerified,
    /// No such member (or a linked account, which does not count).
    Unknown,
}

/// One unit's counters on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    /// The unit.
    pub unit_code: String,
    /// `YYYY-MM-DD` in the campaign's time zone.
    pub day: String,
    /// The subtree totals.
    pub totals: Totals,
}

type SnapRow = (String, String, i64, i64, i64, i64);

/// unit_code, confirmed_at, verified_at, linked_to.
type PlaceRow = (Option<String>, Option<i64>, Option<i64>, Option<i64>);

impl Store {
    /// Writes (or rewrites) every unit's snapshot for `day` from the maintained counters, in
    /// one statement. Returns the number of rows written.
    pub async fn write_snapshot(&self, day: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "INSERT INTO snapshots (unit_code, day, members, confirmed, verified, reported) \
             SELECT code, $1, sub_members, sub_confirmed, sub_verified, sub_reported FROM units WHERE 1 = 1 \
             ON CONFLICT (unit_code, day) DO UPDATE SET members = excluded.members, \
             confirmed = excluded.confirmed, verified = excluded.verified, reported = excluded.reported",
        )
        .bind(day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// The snapshots of `codes` on `day`, by code.
    pub async fn snapshots_on(&self, day: &str, codes: &[&str]) -> Result<HashMap<String, Totals>> {
        let mut out = HashMap::new();
        for chunk in codes.chunks(200) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT unit_code, day, members, confirmed, verified, reported FROM snapshots \
                 WHERE day = $1 AND unit_code IN ({})",
                marks.join(",")
            );
            let mut q = sqlx::query_as::<_, SnapRow>(AssertSqlSafe(sql)).bind(day.to_string());
            for c in chunk {
                q = q.bind(c.to_string());
            }
            for r in q.fetch_all(self.pool()).await? {
                out.insert(r.0.clone(), totals(&r));
            }
        }
        Ok(out)
    }

    /// The snapshots of `codes` from `from_day` on, oldest first.
    pub async fn snapshot_history(
        &self,
        codes: &[&str],
        from_day: &str,
    ) -> Result<Vec<SnapshotRow>> {
        let mut out = Vec::new();
        for chunk in codes.chunks(200) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT unit_code, day, members, confirmed, verified, reported FROM snapshots \
                 WHERE day >= $1 AND unit_code IN ({}) ORDER BY day, unit_code",
                marks.join(",")
            );
            let mut q = sqlx::query_as::<_, SnapRow>(AssertSqlSafe(sql)).bind(from_day.to_string());
            for c in chunk {
                q = q.bind(c.to_string());
            }
            for r in q.fetch_all(self.pool()).await? {
                out.push(SnapshotRow {
                    unit_code: r.0.clone(),
                    day: r.1.clone(),
                    totals: totals(&r),
                });
            }
        }
        out.sort_by(|a, b| (&a.day, &a.unit_code).cmp(&(&b.day, &b.unit_code)));
        Ok(out)
    }

    /// Adds `amount` installs done in person to `unit_code`'s reported count (a negative
    /// amount is a correction), with an audit row, in one transaction. The unit's own total
    /// never goes below zero: such a report is refused and nothing is written.
    pub async fn report_installs(
        &self,
        unit_code: &UnitCode,
        person: PersonId,
        amount: i64,
        note: &str,
    ) -> Result<ReportOutcome> {
        let mut tx = self.begin().await?;
        // Apply first (the counters lock unit rows in code order, like every other writer),
        // then check: a total below zero rolls everything back.
        Store::adjust_counters(
            &mut tx,
            unit_code.as_str(),
            Counters {
                reported: amount,
                ..Counters::default()
            },
        )
        .await?;
        let (total,): (i64,) = sqlx::query_as("SELECT reported FROM units WHERE code = $1")
            .bind(unit_code.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if total < 0 {
            tx.rollback().await?;
            return Ok(ReportOutcome::WouldGoNegative {
                total: total - amount,
            });
        }
        let note: String = note.chars().take(500).collect();
        sqlx::query(
            "INSERT INTO install_reports (unit_code, person_id, amount, note, total_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(unit_code.as_str())
        .bind(person)
        .bind(amount)
        .bind(note)
        .bind(total)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ReportOutcome::Recorded { total })
    }

    /// The audit trail of a unit's reports, newest first.
    pub async fn install_reports(
        &self,
        unit_code: &UnitCode,
        limit: i64,
    ) -> Result<Vec<InstallReport>> {
        Ok(sqlx::query_as::<_, InstallReport>(
            "SELECT unit_code, person_id, amount, note, total_after, created_at FROM install_reports \
             WHERE unit_code = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(unit_code.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// One page of the members of `unit_code`'s subtree who have not confirmed, oldest first.
    /// Their number is `sub_members - sub_confirmed` on the unit (no count here).
    pub async fn pending_members(
        &self,
        unit_code: &UnitCode,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<PendingMember>> {
        let Some(unit) = self.unit(unit_code).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT p.id, p.display_name, p.platform, u.name AS unit_name FROM people p \
             JOIN units u ON u.code = p.unit_code \
             WHERE u.path LIKE $1 AND p.confirmed_at IS NULL AND p.linked_to IS NULL \
             ORDER BY p.id LIMIT $2 OFFSET $3",
        )
        .bind(format!("{}%", unit.path))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, display_name, platform, unit_name)| {
                Ok(PendingMember {
                    platform: super::people::platform(&platform)
                        .with_context(|| format!("person {id} in the database is damaged"))?,
                    id,
                    display_name,
                    unit_name,
                })
            })
            .collect()
    }

    /// Marks a member verified by leader `by` after checking their phone. Verifying someone
    /// who had not confirmed confirms them too. Counters move in the same transaction.
    pub async fn verify_member(&self, id: PersonId, by: PersonId) -> Result<VerifyOutcome> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE people SET verified_at = verified_at WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let row: Option<PlaceRow> = sqlx::query_as(
            "SELECT unit_code, confirmed_at, verified_at, linked_to FROM people WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((unit, confirmed, verified, linked)) = row else {
            return Ok(VerifyOutcome::Unknown);
        };
        if linked.is_some() {
            return Ok(VerifyOutcome::Unknown);
        }
        if verified.is_some() {
            return Ok(VerifyOutcome::AlreadyVerified);
        }
        sqlx::query(
            "UPDATE people SET verified_at = $1, verified_by = $2, \
             confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $3",
        )
        .bind(now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let confirmed_now = confirmed.is_none();
        if let Some(unit) = unit {
            Store::adjust_counters(
                &mut tx,
                &unit,
                Counters {
                    confirmed: i64::from(confirmed_now),
                    verified: 1,
                    ..Counters::default()
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(VerifyOutcome::Verified { confirmed_now })
    }
}

fn totals(r: &SnapRow) -> Totals {
    Totals {
        members: r.2,
        confirmed: r.3,
        verified: r.4,
        reported: r.5,
    }
}

/// A member who cannot be reached now, for the list of people to visit in person.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreachableMember {
    /// The person (the primary account).
    pub id: i64,
    /// The name the platform shows.
    pub display_name: String,
    /// The primary account's platform.
    pub platform: Platform,
    /// Their unit's code.
    pub unit_code: String,
    /// Their unit's name.
    pub unit_name: String,
    /// What the primary account's row says about reaching them.
    pub contact: Contact,
}

/// The SQL class (0 free, 1 billed, 2 unreachable) of the account row aliased `a`, under
/// `cuts`; the cut-off times are bound from `$first` on and pushed onto `binds`. The same
/// decision as [`crate::reach::classify`] (tested against it in [`crate::coverage::reach`]).
fn class_sql(a: &str, cuts: &ReachCuts, first: usize, binds: &mut Vec<i64>) -> String {
    let mut next = first;
    let mut bind = |v: i64, binds: &mut Vec<i64>| {
        binds.push(v);
        let mark = format!("${next}");
        next += 1;
        mark
    };
    let mut sql = format!(
        "CAST(CASE WHEN {a}.opted_out <> 0 OR {a}.unreachable <> 0 OR {a}.started = 0 THEN 2"
    );
    for cut in &cuts.cuts {
        // Platform names are this program's own constants, never input.
        let name = cut.platform.as_str();
        match cut.free_since {
            None => sql.push_str(&format!(" WHEN {a}.platform = '{name}' THEN 0")),
            Some(free) => {
                let f = bind(free, binds);
                let billed = match cut.billed_since {
                    Some(b) => format!(" WHEN {a}.last_inbound_at >= {} THEN 1", bind(b, binds)),
                    None => String::new(),
                };
                sql.push_str(&format!(
                    " WHEN {a}.platform = '{name}' THEN \
                     (CASE WHEN {a}.last_inbound_at >= {f} THEN 0{billed} ELSE 2 END)"
                ));
            }
        }
    }
    sql.push_str(" ELSE 0 END AS BIGINT)");
    sql
}

/// The members of `unit`'s subtree (of every unit when `None`) who have not confirmed:
/// primary accounts only. `$1` is the unit's path when there is one.
fn pending_where(m: &str, unit: Option<&str>) -> String {
    let scope = match unit {
        Some(_) => format!(
            "{m}.unit_code IN (SELECT code FROM units WHERE substr(path, 1, length($1)) = $1)"
        ),
        None => format!("{m}.unit_code IS NOT NULL"),
    };
    format!("{scope} AND {m}.confirmed_at IS NULL AND {m}.linked_to IS NULL")
}

/// member unit, own class, best class over its linked accounts.
type LinkRow = (String, i64, i64);

/// id, display_name, platform, unit code, unit name, opted_out, unreachable, started,
/// last_inbound_at.
type UnreachableRow = (i64, String, String, String, String, i64, i64, i64, i64);

impl Store {
    /// The path of `unit`, `Ok(None)` when there is no such unit.
    async fn unit_path(&self, unit: &UnitCode) -> Result<Option<String>> {
        Ok(self.unit(unit).await?.map(|u| u.path))
    }

    /// How the members of `unit`'s subtree (of every unit when `None`) who have not confirmed
    /// can be reached now, counted per unit they belong to (not summed up the tree). A person
    /// with linked accounts counts once, in the cheapest class any of their accounts is in.
    /// Reads the unconfirmed members of the subtree (through the `people_reach` index), so a
    /// caller keeps it to one unit's view or an export.
    pub async fn reach_by_unit(
        &self,
        unit: Option<&UnitCode>,
        cuts: &ReachCuts,
    ) -> Result<HashMap<String, ReachCounts>> {
        let path = match unit {
            Some(u) => match self.unit_path(u).await? {
                Some(p) => Some(p),
                None => return Ok(HashMap::new()),
            },
            None => None,
        };
        let first = if path.is_some() { 2 } else { 1 };
        let mut binds = Vec::new();
        let class_m = class_sql("m", cuts, first, &mut binds);
        let scope = pending_where("m", path.as_deref());
        let sql = format!(
            "SELECT m.unit_code, {class_m} AS reach_class, COUNT(*) FROM people m \
             WHERE {scope} GROUP BY m.unit_code, reach_class"
        );
        let mut q = sqlx::query_as::<_, (String, i64, i64)>(AssertSqlSafe(sql));
        if let Some(p) = &path {
            q = q.bind(p.clone());
        }
        for b in &binds {
            q = q.bind(*b);
        }
        let mut out: HashMap<String, ReachCounts> = HashMap::new();
        for (code, class, n) in q.fetch_all(self.pool()).await? {
            out.entry(code)
                .or_default()
                .add(ReachClass::from_sql(class), n);
        }
        // Members with linked accounts: reached on the cheapest one (few rows: only people
        // who linked accounts, found through the `people_linked` index).
        let mut binds = Vec::new();
        let class_m = class_sql("m", cuts, first, &mut binds);
        let next = first + binds.len();
        let class_a = class_sql("a", cuts, next, &mut binds);
        let sql = format!(
            "SELECT m.unit_code, {class_m} AS own_class, MIN({class_a}) AS best_class \
             FROM people a JOIN people m ON m.id = a.linked_to WHERE {scope} \
             GROUP BY m.id, m.unit_code, m.opted_out, m.unreachable, m.started, m.platform, \
             m.last_inbound_at"
        );
        let mut q = sqlx::query_as::<_, LinkRow>(AssertSqlSafe(sql));
        if let Some(p) = &path {
            q = q.bind(p.clone());
        }
        for b in &binds {
            q = q.bind(*b);
        }
        for (code, own, best) in q.fetch_all(self.pool()).await? {
            if best < own {
                let counts = out.entry(code).or_default();
                counts.add(ReachClass::from_sql(own), -1);
                counts.add(ReachClass::from_sql(best), 1);
            }
        }
        Ok(out)
    }

    /// [`Store::reach_by_unit`] summed over `unit`'s subtree.
    pub async fn reach_of(&self, unit: &UnitCode, cuts: &ReachCuts) -> Result<ReachCounts> {
        let mut total = ReachCounts::default();
        for c in self.reach_by_unit(Some(unit), cuts).await?.values() {
            total.plus(c);
        }
        Ok(total)
    }

    /// One page of the members of `unit`'s subtree who have not confirmed and cannot be
    /// reached now on any of their accounts (the people to visit in person), by id. Their
    /// number is [`ReachCounts::unreachable`] of [`Store::reach_of`].
    pub async fn unreachable_members(
        &self,
        unit: &UnitCode,
        cuts: &ReachCuts,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<UnreachableMember>> {
        let Some(path) = self.unit_path(unit).await? else {
            return Ok(Vec::new());
        };
        let mut binds = Vec::new();
        let class_m = class_sql("m", cuts, 4, &mut binds);
        let next = 4 + binds.len();
        let class_a = class_sql("a", cuts, next, &mut binds);
        let scope = pending_where("m", Some(&path));
        let sql = format!(
            "SELECT m.id, m.display_name, m.platform, u.code, u.name, m.opted_out, m.unreachable, \
             m.started, m.last_inbound_at FROM people m JOIN units u ON u.code = m.unit_code \
             WHERE {scope} AND {class_m} = 2 \
             AND NOT EXISTS (SELECT 1 FROM people a WHERE a.linked_to = m.id AND {class_a} < 2) \
             ORDER BY m.id LIMIT $2 OFFSET $3"
        );
        let mut q = sqlx::query_as::<_, UnreachableRow>(AssertSqlSafe(sql))
            .bind(path)
            .bind(limit)
            .bind(offset);
        for b in &binds {
            q = q.bind(*b);
        }
        q.fetch_all(self.pool())
            .await?
            .into_iter()
            .map(
                |(
                    id,
                    display_name,
                    platform,
                    unit_code,
                    unit_name,
                    opted,
                    unreach,
                    started,
                    last,
                )| {
                    let damaged = || format!("person {id} in the database is damaged");
                    Ok(UnreachableMember {
                        platform: super::people::platform(&platform).with_context(damaged)?,
                        contact: Contact {
                            last_inbound_at: last,
                            blocked: super::people::flag("unreachable", unreach)
                                .with_context(damaged)?
                                || !super::people::flag("started", started)
                                    .with_context(damaged)?,
                            opted_out: super::people::flag("opted_out", opted)
                                .with_context(damaged)?,
                        },
                        id,
                        display_name,
                        unit_code,
                        unit_name,
                    })
                },
            )
            .collect()
    }
}
