//! The store hands out parsed rows: a person's platform, language, unit, flags and state are
//! values of their own types past the store, and a damaged row is an error that names the
//! row and the bad value, never a panic and never a wrong value passed on.

use std::sync::Arc;

use bluezone_bot::clock::{ManualClock, SharedClock};
use bluezone_bot::domain::{Locale, Platform, State};
use bluezone_bot::startup::SAMPLE_UNITS;
use bluezone_bot::store::Store;
use bluezone_bot::units_csv;
use sqlx::Connection;

use crate::helpers::{TestDb, unit_code};

/// Runs one statement behind the store's back, as a hand edit or a bug elsewhere would.
async fn damage(db: &TestDb, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("a raw connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .expect("the damage");
    conn.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_parsed_at_the_store_and_damaged_rows_are_errors() {
    crate::helpers::init_tracing();
    let db = TestDb::new().await.expect("a database");
    let clock: SharedClock = Arc::new(ManualClock::at(1_600_000_000_000));
    let store = Store::connect(&db.url, clock).await.expect("connect");
    store.migrate().await.expect("migrate");
    units_csv::import_text(&store, "long_an.csv", SAMPLE_UNITS)
        .await
        .expect("units");
    let (p, _) = store
        .touch_person(Platform::Zalo, "z1", "z1", "Hoa", Locale::En)
        .await
        .expect("a person");
    assert_eq!(p.platform, Platform::Zalo);
    assert_eq!(p.locale, Locale::En);
    assert_eq!(p.state, State::Idle);
    assert!(!p.started && !p.opted_out && !p.unreachable);
    store
        .save_state(p.id, &State::AwaitingUnitSearch)
        .await
        .expect("state");
    store
        .set_person_unit(p.id, Some(&unit_code("794")))
        .await
        .expect("unit");
    store.set_opted_out(p.id, true).await.expect("opt out");
    let p = store.person(p.id).await.expect("read").expect("the person");
    assert_eq!(p.state, State::AwaitingUnitSearch);
    assert_eq!(p.unit_code, Some(unit_code("794")));
    assert!(p.started && p.opted_out && !p.unreachable);

    let id = p.id;
    let cases = [
        (
            format!("UPDATE people SET platform = 'icq' WHERE id = {id}"),
            "unknown platform \"icq\"",
        ),
        (
            format!("UPDATE people SET platform = 'zalo', opted_out = 7 WHERE id = {id}"),
            "opted_out is 7, not 0 or 1",
        ),
        (
            format!("UPDATE people SET opted_out = 0, locale = 'fr' WHERE id = {id}"),
            "unknown locale \"fr\"",
        ),
    ];
    for (sql, why) in cases {
        damage(&db, &sql).await;
        let err = store
            .person(id)
            .await
            .expect_err("a damaged row is an error");
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("person {id} in the database is damaged")) && text.contains(why),
            "{text}"
        );
        // Every way of reading the person says so.
        assert!(store.person_by_ref_code(&p.ref_code).await.is_err());
    }
    // Repaired, it reads again.
    damage(
        &db,
        &format!("UPDATE people SET locale = 'vi' WHERE id = {id}"),
    )
    .await;
    let p = store.person(id).await.expect("read").expect("the person");
    assert_eq!(p.locale, Locale::Vi);
    store.close().await;
    db.drop_db().await;
}
