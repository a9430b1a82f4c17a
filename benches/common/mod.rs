//! What the benchmarks share: their settings from the environment, peak memory from /proc,
//! and a fresh database for one run. Each bench includes it with `mod common;` and uses what
//! it needs.

#![allow(dead_code)]

use anyhow::{Context, Result};
use sqlx::Connection;

/// `k` from the environment as a number, else `default`.
pub fn env_u64(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `k` from the environment as a number, else `default`.
pub fn env_f64(k: &str, default: f64) -> f64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory (VmHWM) of process `pid` (`"self"`: this one), in MB.
pub fn peak_rss_mb_of(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Peak resident memory of this process, in MB.
pub fn peak_rss_mb() -> f64 {
    peak_rss_mb_of("self")
}

/// A fresh database for one run: a temporary SQLite file, or a new database on a
/// PostgreSQL server, dropped by [`Db::drop_db`].
pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The server and the database's name, to drop it afterwards.
    pub pg: Option<(String, String)>,
}

impl Db {
    /// A new database on the PostgreSQL server of `DATABASE_URL`, else a temporary SQLite
    /// file; `prefix` starts its name.
    pub async fn fresh(prefix: &str) -> Result<Db> {
        match std::env::var("DATABASE_URL") {
            Ok(server) if server.starts_with("postgres") => Db::on_server(&server, prefix).await,
            _ => {
                let dir = tempfile::tempdir()?;
                Ok(Db {
                    url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                    _dir: Some(dir),
                    pg: None,
                })
            }
        }
    }

    /// A new database on the PostgreSQL server `server`.
    pub async fn on_server(server: &str, prefix: &str) -> Result<Db> {
        let name = format!("{prefix}_{}", rand::random::<u32>());
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .with_context(|| format!("connecting to {server} (is PostgreSQL running?)"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = url::Url::parse(server)?;
        url.set_path(&format!("/{name}"));
        Ok(Db {
            url: url.to_string(),
            _dir: None,
            pg: Some((server.to_string(), name)),
        })
    }

    /// `postgres` or `sqlite`.
    pub fn kind(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Drops a PostgreSQL database (a SQLite file goes with its folder).
    pub async fn drop_db(self) {
        if let Some((server, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(server).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}
