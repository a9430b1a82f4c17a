//! The spend ledger: reservations against a budget never take it past the budget, even when
//! many are made at once (several senders, several replicas), and a released reservation
//! can be spent again.

use std::sync::Arc;

use bluezone_bot::clock::{ManualClock, SharedClock};
use bluezone_bot::store::Store;

use crate::helpers::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_never_exceed_the_budget() {
    crate::helpers::init_tracing();
    let db = TestDb::new().await.expect("a database");
    let clock: SharedClock = Arc::new(ManualClock::at(1_600_000_000_000));
    let store = Store::connect(&db.url, clock).await.expect("connect");
    store.migrate().await.expect("migrate");
    // 200 reservations of 55 at once against a budget of 1,000: 18 fit (990).
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.reserve_spend("zalo", "2026-11", 55, 1_000).await
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.expect("task").expect("reserve") {
            granted += 1;
        }
    }
    assert_eq!(granted, 18);
    assert_eq!(store.spent("zalo", "2026-11").await.expect("spent"), 990);
    // Another period and another account have budgets of their own.
    assert!(
        store
            .reserve_spend("zalo", "2026-12", 55, 1_000)
            .await
            .expect("reserve")
    );
    assert!(
        store
            .reserve_spend("zalo-2", "2026-11", 55, 1_000)
            .await
            .expect("reserve")
    );
    // A released reservation is spent again; a release never goes below zero.
    store
        .release_spend("zalo", "2026-11", 55)
        .await
        .expect("release");
    assert_eq!(store.spent("zalo", "2026-11").await.expect("spent"), 935);
    assert!(
        store
            .reserve_spend("zalo", "2026-11", 55, 1_000)
            .await
            .expect("reserve")
    );
    assert!(
        !store
            .reserve_spend("zalo", "2026-11", 55, 1_000)
            .await
            .expect("reserve")
    );
    store
        .release_spend("zalo", "2027-01", 55)
        .await
        .expect("release");
    assert_eq!(store.spent("zalo", "2027-01").await.expect("spent"), 0);
    store.close().await;
    db.drop_db().await;
}
