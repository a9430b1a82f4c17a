//! Unit files: the national file, the Long An sample, bad files (reported as `file:line:
//! reason`, nothing written), and the real binary's `units import` and `chat`.

use crate::helpers::unit_code;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bluezone_bot::clock::SystemClock;
use bluezone_bot::startup::SAMPLE_UNITS;
use bluezone_bot::store::Store;
use bluezone_bot::units_csv;

use crate::helpers::{TestDb, init_tracing};

const NATIONAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vn_units_2020.csv");
const BIN: &str = env!("CARGO_BIN_EXE_bluezone-bot");

async fn fresh_store() -> (TestDb, Store) {
    init_tracing();
    let db = TestDb::new().await.expect("a test database");
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    (db, store)
}

async fn done(db: TestDb, store: Store) {
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_national_file_imports_and_reimports_without_duplicates() {
    let (db, store) = fresh_store().await;
    let path = std::path::Path::new(NATIONAL);
    let first = units_csv::import_file(&store, path).await.expect("import");
    assert_eq!(first.inserted, 11_384);
    assert_eq!(first.updated, 0);
    assert_eq!(store.unit_count().await.expect("count"), 11_384);
    let all = store.subtree(None).await.expect("all units");
    let count = |kind: &str| all.iter().filter(|u| u.kind == kind).count();
    assert_eq!(count("province"), 63);
    assert_eq!(count("district"), 707);
    assert_eq!(count("commune"), 10_614);
    let top = store.children(None).await.expect("top");
    assert_eq!(top.len(), 63);
    // A commune sits three levels down, with its path.
    let deepest = all.iter().map(|u| u.depth).max();
    assert_eq!(deepest, Some(2));

    let again = units_csv::import_file(&store, path)
        .await
        .expect("re-import");
    assert_eq!((again.inserted, again.updated), (0, 11_384));
    assert_eq!(store.unit_count().await.expect("count"), 11_384);
    done(db, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_without_populations_keeps_the_known_ones() {
    let (db, store) = fresh_store().await;
    units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("the sample");
    let before = store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("Long An");
    assert!(before.population.is_some());
    // The national file has no population column and contains Long An too.
    units_csv::import_file(&store, std::path::Path::new(NATIONAL))
        .await
        .expect("the national file");
    let after = store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("Long An");
    assert_eq!(after.population, before.population);
    // The bundled province populations complete the national tree, adding no unit.
    let count = store.unit_count().await.expect("count");
    let pops = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/units/provinces_population_2019.csv"
    );
    let s = units_csv::import_file(&store, std::path::Path::new(pops))
        .await
        .expect("the populations");
    assert_eq!((s.inserted, s.updated), (0, 63));
    assert_eq!(store.unit_count().await.expect("count"), count);
    let hanoi = store
        .unit(&unit_code("01"))
        .await
        .expect("read")
        .expect("Hà Nội");
    assert_eq!(hanoi.population, Some(8_053_663));
    let provinces = store.children(None).await.expect("provinces");
    let total: i64 = provinces.iter().filter_map(|u| u.population).sum();
    assert_eq!(total, 96_208_984);
    done(db, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_an_sample_has_populations_and_updates_in_place() {
    let (db, store) = fresh_store().await;
    let s = units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("import");
    let rows = SAMPLE_UNITS.lines().count() - 1;
    assert_eq!(s.inserted, rows);
    let long_an = store
        .unit(&unit_code("80"))
        .await
        .expect("read")
        .expect("Long An");
    assert_eq!(long_an.population, Some(1_688_547));
    assert_eq!(long_an.kind, "province");
    let tan_an = store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("Tân An");
    assert_eq!(tan_an.parent_code.as_deref(), Some("80"));
    assert_eq!(tan_an.population, Some(145_120));
    assert_eq!(tan_an.path, "/80/794/");
    // A re-import with a new name and population updates the row.
    let changed = "code,name,parent_code,level,population\n794,TP Tân An,80,district,150000\n";
    let s = units_csv::import_text(&store, "fix.csv", changed)
        .await
        .expect("update");
    assert_eq!((s.inserted, s.updated), (0, 1));
    let tan_an = store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("Tân An");
    assert_eq!(tan_an.name, "TP Tân An");
    assert_eq!(tan_an.population, Some(150_000));
    assert_eq!(store.unit_count().await.expect("count"), rows as i64);
    done(db, store).await;
}

const BAD_FILES: &[(&str, &str, usize, &str)] = &[
    (
        "unknown_parent.csv",
        "code,name,parent_code,level\n80,Tỉnh Long An,,province\n794,Tân An,99,district\n",
        3,
        "parent",
    ),
    (
        "duplicate.csv",
        "code,name,parent_code,level\n80,Tỉnh Long An,,province\n80,Again,,province\n",
        3,
        "duplicate",
    ),
    (
        "bad_number.csv",
        "code,name,parent_code,level,population\n80,Tỉnh Long An,,province,12\n794,Tân An,80,district,many\n",
        3,
        "population",
    ),
    (
        "columns.csv",
        "code,name,parent_code,level\n80,Tỉnh Long An,,province\n794,Tân An,80\n",
        3,
        "columns",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_report_file_line_reason_and_write_nothing() {
    let (db, store) = fresh_store().await;
    units_csv::import_text(&store, "long_an_2020.csv", SAMPLE_UNITS)
        .await
        .expect("sample");
    let before = store.unit_count().await.expect("count");
    let dir = tempfile::tempdir().expect("dir");
    for (name, text, line, reason) in BAD_FILES {
        // Each bad file also holds a good new unit, which must not be written.
        let text = format!("{text}99990,Xã Mới,80,commune\n").replace(
            "99990,Xã Mới,80,commune\n",
            if text.starts_with("code,name,parent_code,level,population") {
                "99990,Xã Mới,80,commune,1\n"
            } else {
                "99990,Xã Mới,80,commune\n"
            },
        );
        let path = dir.path().join(name);
        std::fs::write(&path, &text).expect("write");
        let err = units_csv::import_file(&store, &path)
            .await
            .expect_err(name)
            .to_string();
        let want = format!("{}:{line}: ", path.display());
        assert!(err.contains(&want), "{name}: {err}");
        assert!(err.to_lowercase().contains(reason), "{name}: {err}");
        assert_eq!(store.unit_count().await.expect("count"), before, "{name}");
        assert!(
            store
                .unit(&unit_code("99990"))
                .await
                .expect("read")
                .is_none()
        );
    }
    // The existing row was not touched by the duplicate file's first line.
    assert_eq!(
        store
            .unit(&unit_code("80"))
            .await
            .expect("read")
            .map(|u| u.name),
        Some("Tỉnh Long An".into())
    );
    done(db, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_a_bad_file_with_line_numbers() {
    let db = TestDb::new().await.expect("db");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "code,name,parent_code,level\n80,Tỉnh Long An,,province\n794,Tân An,80,planet\n795,X,80\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["units", "import"])
        .arg(&path)
        .env("DATABASE_URL", &db.url)
        .env_remove("TELOXIDE_TOKEN")
        .output()
        .expect("run the binary");
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.csv:3: "), "{stderr}");
    assert!(stderr.contains("bad.csv:4: "), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    // The good sample imports with one command.
    let out = Command::new(BIN)
        .args(["units", "import", "--sample"])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("units added"), "{stdout}");

    // A unit's own target: set, refused when out of range or unknown, reset.
    let target = |args: &[&str]| {
        Command::new(BIN)
            .args(["units", "target"])
            .args(args)
            .env("DATABASE_URL", &db.url)
            .output()
            .expect("run the binary")
    };
    let out = target(&["794", "70%"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in [
        &["794", "150%"][..],
        &["794", "0"],
        &["794", "lots"],
        &["99999", "70"],
    ] {
        let out = target(bad);
        assert!(!out.status.success(), "{bad:?} was accepted");
    }
    let store = Store::connect(&db.url, Arc::new(SystemClock))
        .await
        .expect("connect");
    let unit = store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("794");
    assert_eq!(unit.target, Some(0.7));
    assert!(target(&["794", "default"]).status.success());
    let unit = store
        .unit(&unit_code("794"))
        .await
        .expect("read")
        .expect("794");
    assert_eq!(unit.target, None);
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_chat_goes_through_the_journey() {
    let db = TestDb::new().await.expect("db");
    let mut child = Command::new(BIN)
        .arg("chat")
        .env("DATABASE_URL", &db.url)
        .env("LANG", "vi_VN.UTF-8")
        .env_remove("TELOXIDE_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    // /start is sent by itself; then: search, pick the first result, Android, "installed",
    // /status.
    let script = "tan an\n1\n1\n2\n/status\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    let out = child.wait_with_output().expect("the chat ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for want in [
        "Xin chào",
        "Thành phố Tân An (Tỉnh Long An)",
        "Bạn đã được ghi nhận thuộc đơn vị: Thành phố Tân An",
        "play.google.com/store/apps/details?id=com.mic.bluezone",
        "giả mạo",
        "Cảm ơn bạn đã cài Bluezone",
        "Đã cài Bluezone",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    db.drop_db().await;
}
