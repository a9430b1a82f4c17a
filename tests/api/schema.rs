//! `migrations/sqlite` and `migrations/postgres` must define the same schema. Both sets are
//! applied to real databases (a temporary SQLite file, and a fresh PostgreSQL database when
//! `BLUEZONE_TEST_POSTGRES_URL` is set) and the catalogs are compared after normalising what
//! legitimately differs: `INTEGER PRIMARY KEY AUTOINCREMENT` and `BIGSERIAL PRIMARY KEY` are
//! both an auto-assigned 64-bit id, SQLite's `INTEGER`/`BIGINT` and PostgreSQL's `bigint` are
//! both 64-bit integers, and PostgreSQL's `'vi'::text` default is SQLite's `'vi'`.

use std::collections::BTreeSet;
use std::sync::Arc;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::store::Store;
use sqlx::Connection;

use crate::helpers::{PG_ENV, TestDb};

/// One fact of a schema, as a line that reads well in a failure message.
type Facts = BTreeSet<String>;

/// A row of SQLite's `PRAGMA index_xinfo`: seqno, cid, name, desc, collation, key.
type IndexXinfo = (i64, i64, Option<String>, i64, Option<String>, i64);

/// A SQLite column's declared type, named as [`pg_type`] names PostgreSQL's. Every SQLite
/// integer is 64-bit, whatever its declared name.
fn sqlite_type(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    match t.as_str() {
        "integer" | "bigint" | "int" | "int8" => "int64".into(),
        "double precision" | "real" | "double" | "float" => "float64".into(),
        "text" | "varchar" => "text".into(),
        "boolean" | "bool" => "boolean".into(),
        "blob" => "bytes".into(),
        other => other.into(),
    }
}

/// A PostgreSQL column's type from its `udt_name`: `int8` is 64-bit, `int4` is not (a
/// PostgreSQL `INTEGER` where SQLite stores 64 bits is a difference worth failing on).
fn pg_type(udt: &str) -> String {
    match udt {
        "int8" => "int64".into(),
        "int4" => "int32".into(),
        "int2" => "int16".into(),
        "float8" => "float64".into(),
        "float4" => "float32".into(),
        "text" | "varchar" => "text".into(),
        "bool" => "boolean".into(),
        "bytea" => "bytes".into(),
        other => other.into(),
    }
}

/// A default expression without PostgreSQL's casts and parentheses (`'vi'::text` → `'vi'`,
/// `'-1'::bigint` and `(-1)` → `-1`).
fn norm_default(expr: &str) -> String {
    let mut e = expr.trim().to_string();
    loop {
        let before = e.clone();
        if let Some(at) = e.rfind("::") {
            let tail = &e[at + 2..];
            if tail
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '_')
            {
                let numeric = matches!(
                    tail,
                    "bigint" | "integer" | "smallint" | "numeric" | "double precision" | "real"
                );
                e.truncate(at);
                // PostgreSQL writes a negative number as a cast string: `'-1'::bigint`.
                let quoted = e.len() >= 2 && e.starts_with('\'') && e.ends_with('\'');
                if numeric && quoted && e[1..e.len() - 1].parse::<f64>().is_ok() {
                    e = e[1..e.len() - 1].to_string();
                }
            }
        }
        if e.starts_with('(') && e.ends_with(')') {
            e = e[1..e.len() - 1].to_string();
        }
        e = e.trim().to_string();
        if e == before {
            return e;
        }
    }
}

/// A column fact. Primary-key columns are not null on both databases (SQLite's pragma says
/// otherwise for a TEXT key, a historical quirk, but the code never writes one).
fn column_fact(
    table: &str,
    name: &str,
    ty: &str,
    not_null: bool,
    default: Option<&str>,
    pk: bool,
) -> String {
    format!(
        "{table}.{name}: {ty}{}{}{}",
        if not_null || pk { " not null" } else { "" },
        if pk { " primary key" } else { "" },
        default.map(|d| format!(" default {d}")).unwrap_or_default(),
    )
}

/// An index fact: named for `CREATE INDEX`, unnamed for the index behind a UNIQUE constraint
/// (the databases name those differently).
fn index_fact(
    table: &str,
    name: Option<&str>,
    unique: bool,
    partial: bool,
    columns: &[String],
) -> String {
    format!(
        "{table} {}index {}({}){}",
        if unique { "unique " } else { "" },
        name.unwrap_or("<constraint>"),
        columns.join(", "),
        if partial { " partial" } else { "" },
    )
}

async fn sqlite_schema(url: &str) -> Facts {
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .expect("sqlite connects");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut facts = Facts::new();
    for (table,) in &tables {
        facts.insert(format!("table {table}"));
        let columns: Vec<(i64, String, String, i64, Option<String>, i64)> = sqlx::query_as(
            sqlx::AssertSqlSafe(format!("PRAGMA table_info(\"{table}\")")),
        )
        .fetch_all(&mut conn)
        .await
        .expect("table_info");
        let pk_columns = columns.iter().filter(|c| c.5 > 0).count();
        for (_, name, declared, not_null, default, pk) in &columns {
            // Only a lone INTEGER PRIMARY KEY is SQLite's auto-assigned rowid.
            let rowid = *pk > 0 && pk_columns == 1 && declared.eq_ignore_ascii_case("INTEGER");
            let default = if rowid {
                Some("autoincrement".to_string())
            } else {
                default.as_deref().map(norm_default)
            };
            facts.insert(column_fact(
                table,
                name,
                &sqlite_type(declared),
                *not_null != 0,
                default.as_deref(),
                *pk > 0,
            ));
        }
        let indexes: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(
            format!("PRAGMA index_list(\"{table}\")"),
        ))
        .fetch_all(&mut conn)
        .await
        .expect("index_list");
        for (_, index, unique, origin, partial) in &indexes {
            if origin == "pk" {
                continue; // the primary key is a column fact
            }
            let keys: Vec<IndexXinfo> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "PRAGMA index_xinfo(\"{index}\")"
            )))
            .fetch_all(&mut conn)
            .await
            .expect("index_xinfo");
            let columns: Vec<String> = keys
                .iter()
                .filter(|k| k.5 == 1)
                .map(|(_, _, name, desc, _, _)| {
                    let name = name.clone().unwrap_or_else(|| "<expression>".into());
                    if *desc != 0 {
                        format!("{name} DESC")
                    } else {
                        name
                    }
                })
                .collect();
            let name = (origin == "c").then_some(index.as_str());
            facts.insert(index_fact(
                table,
                name,
                *unique != 0,
                *partial != 0,
                &columns,
            ));
        }
    }
    conn.close().await.expect("closed");
    facts
}

/// The key columns of `CREATE [UNIQUE] INDEX … USING btree (a, b DESC) [WHERE …]`.
fn pg_index_columns(def: &str) -> Vec<String> {
    let Some(open) = def
        .find(" USING ")
        .and_then(|at| def[at..].find('(').map(|o| at + o))
    else {
        return vec![def.to_string()];
    };
    let mut depth = 0;
    let mut end = def.len();
    for (i, c) in def[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    def[open + 1..end]
        .split(',')
        .map(|c| c.trim().trim_end_matches(" ASC").to_string())
        .collect()
}

async fn postgres_schema(url: &str) -> Facts {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("postgres connects");
    let mut facts = Facts::new();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    for (table,) in &tables {
        facts.insert(format!("table {table}"));
    }
    let pk: BTreeSet<(String, String)> = sqlx::query_as::<_, (String, String)>(
        "SELECT tc.table_name::text, kcu.column_name::text \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
         WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .expect("primary keys")
    .into_iter()
    .collect();
    let columns: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, udt_name::text, is_nullable::text, \
                column_default::text \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    for (table, name, ty, nullable, default) in &columns {
        let default = default.as_deref().map(|d| {
            if d.starts_with("nextval(") {
                "autoincrement".to_string()
            } else {
                norm_default(d)
            }
        });
        facts.insert(column_fact(
            table,
            name,
            &pg_type(ty),
            nullable == "NO",
            default.as_deref(),
            pk.contains(&(table.clone(), name.clone())),
        ));
    }
    let indexes: Vec<(String, String, bool, bool, bool, bool, String)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary, \
                ix.indpred IS NOT NULL, \
                EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid \
                        AND c.conrelid = ix.indrelid AND c.contype IN ('p', 'u')), \
                pg_get_indexdef(ix.indexrelid) \
         FROM pg_index ix \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND t.relname NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    for (table, index, unique, primary, partial, constraint, def) in &indexes {
        if *primary {
            continue; // the primary key is a column fact
        }
        let name = (!constraint).then_some(index.as_str());
        facts.insert(index_fact(
            table,
            name,
            *unique,
            *partial,
            &pg_index_columns(def),
        ));
    }
    conn.close().await.expect("closed");
    facts
}

/// Applies the service's own migrations to `url`.
async fn migrate(url: &str) {
    let store = Store::connect(url, Arc::new(SystemClock))
        .await
        .expect("connect");
    store.migrate().await.expect("migrations apply");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    crate::helpers::init_tracing();
    let dir = tempfile::tempdir().expect("dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("schema.db").display());
    migrate(&sqlite_url).await;
    let sqlite = sqlite_schema(&sqlite_url).await;
    // The catalog was read, ids included.
    assert!(sqlite.contains("table people"), "{sqlite:#?}");
    assert!(
        sqlite.contains("people.id: int64 not null primary key default autoincrement"),
        "{sqlite:#?}"
    );
    assert!(
        sqlite
            .iter()
            .any(|f| f.starts_with("people unique index <constraint>(")),
        "{sqlite:#?}"
    );

    if std::env::var(PG_ENV).map_or(true, |v| v.trim().is_empty()) {
        eprintln!("{PG_ENV} is not set: the PostgreSQL schema is compared in the PostgreSQL run");
        return;
    }
    let pg = TestDb::new().await.expect("a PostgreSQL database");
    assert!(pg.is_postgres());
    migrate(&pg.url).await;
    let postgres = postgres_schema(&pg.url).await;
    pg.drop_db().await;

    let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<&String> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations drifted apart\n  only in migrations/sqlite:\n    {}\n  only in migrations/postgres:\n    {}",
        only_sqlite
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n    "),
        only_postgres
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n    "),
    );
}

#[test]
fn normalising_keeps_real_differences() {
    assert_eq!(sqlite_type("INTEGER"), pg_type("int8"));
    assert_eq!(sqlite_type("BIGINT"), pg_type("int8"));
    assert_ne!(sqlite_type("INTEGER"), pg_type("int4"));
    assert_eq!(sqlite_type("DOUBLE PRECISION"), pg_type("float8"));
    assert_eq!(norm_default("'vi'::text"), "'vi'");
    assert_eq!(
        norm_default("'{\"step\":\"idle\"}'::text"),
        "'{\"step\":\"idle\"}'"
    );
    assert_eq!(norm_default("(-1)"), "-1");
    assert_eq!(norm_default("'-1'::bigint"), "-1");
    assert_eq!(norm_default("'-1'::text"), "'-1'");
    assert_eq!(norm_default("0"), "0");
    assert_eq!(
        pg_index_columns(
            "CREATE INDEX outbox_claim ON public.outbox USING btree (platform, is_group DESC, id)"
        ),
        vec!["platform", "is_group DESC", "id"]
    );
    assert_eq!(
        pg_index_columns("CREATE UNIQUE INDEX x ON public.t USING btree (a) WHERE (b IS NULL)"),
        vec!["a"]
    );
}

/// The outbox's reads that no account narrows go through an index, not through every row
/// ever sent: the depth (the unfinished rows, per platform and status) and a broadcast's
/// figures. Its indexes are partial, so a query must repeat their condition, or imply it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_reads_go_through_its_partial_indexes() {
    crate::helpers::init_tracing();
    let db = TestDb::new().await.expect("db");
    migrate(&db.url).await;
    // Each query and the index it must use.
    let reads = [
        (
            "SELECT platform, status, COUNT(*) FROM outbox \
             WHERE status IN ('queued', 'sending') GROUP BY platform, status",
            "outbox_chat_order",
        ),
        (
            "SELECT status, COUNT(*) FROM outbox WHERE broadcast_id = $1 GROUP BY status",
            "outbox_broadcast",
        ),
        (
            "SELECT COUNT(*) FROM outbox WHERE broadcast_id = $1 AND status = 'sending'",
            "outbox_broadcast",
        ),
    ];
    for (sql, index) in reads {
        let plan = match db.is_postgres() {
            false => {
                let mut conn = sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("sqlite");
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                        .bind(1_i64)
                        .fetch_all(&mut conn)
                        .await
                        .expect("plan");
                rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
            }
            true => {
                // The plan a prepared statement gets for any parameter, with a table scan
                // priced out (the table is empty here).
                let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("pg");
                for set in [
                    "SET enable_seqscan = off",
                    "SET plan_cache_mode = force_generic_plan",
                ] {
                    sqlx::query(set).execute(&mut conn).await.expect("set");
                }
                let prepare = match sql.contains("$1") {
                    true => format!("PREPARE q(bigint) AS {sql}"),
                    false => format!("PREPARE q AS {sql}"),
                };
                sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
                    .execute(&mut conn)
                    .await
                    .expect("prepare");
                let execute = match sql.contains("$1") {
                    true => "EXPLAIN EXECUTE q(1)",
                    false => "EXPLAIN EXECUTE q",
                };
                let rows: Vec<(String,)> = sqlx::query_as(execute)
                    .fetch_all(&mut conn)
                    .await
                    .expect("plan");
                rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
            }
        };
        assert!(plan.contains(index), "{sql}\nshould use {index}:\n{plan}");
    }
    db.drop_db().await;
}
