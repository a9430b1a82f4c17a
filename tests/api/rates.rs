//! Small coverage rates survive every output: 38 installs in a district of 181,660 people read
//! 0.02% in the chat, the daily digest and the chart labels, and the exports carry the exact
//! rate as a number (a percent-formatted numeric cell in the workbook, at least four
//! significant digits in the CSV), never a rounded string.

use crate::helpers::unit_code;
use std::io::{Cursor, Read};
use std::sync::Arc;

use bluezone_bot::config::Settings;
use bluezone_bot::domain::{Locale, Platform};
use bluezone_bot::outbox::Scheduler;
use bluezone_bot::platform::Outgoing;
use bluezone_bot::store::Store;
use calamine::{Data, Reader, Xlsx};
use fake_platforms::TgUser;
use tokio::sync::Notify;

use crate::coverage::make_leader;
use crate::helpers::{TestApp, spawn_app};

/// Leads Thị xã Kiến Tường (795).
const LEADER: i64 = 7801;
/// The district's population in the report.
const POPULATION: i64 = 181_660;
/// Its confirmed installs.
const INSTALLS: i64 = 38;

/// Gives 795 a population of 181,660 and 38 confirmed members.
async fn small_district(app: &TestApp) {
    bluezone_bot::units_csv::import_text(
        &app.store,
        "population.csv",
        &format!(
            "code,name,parent_code,level,population\n795,Thị xã Kiến Tường,80,district,{POPULATION}\n"
        ),
    )
    .await
    .expect("population");
    for i in 0..INSTALLS {
        let uid = (78_000 + i).to_string();
        let (p, _) = app
            .store
            .touch_person(Platform::Telegram, &uid, &uid, "Member", Locale::Vi)
            .await
            .expect("member");
        app.store
            .set_person_unit(p.id, Some(&unit_code("795")))
            .await
            .expect("unit");
        app.store.confirm_install(p.id).await.expect("confirm");
    }
    let unit = app.unit("795").await;
    assert_eq!(
        (unit.population, unit.sub_confirmed),
        (Some(POPULATION), INSTALLS)
    );
}

/// The messages queued for `chat`.
async fn queued_to(store: &Store, chat: i64) -> Vec<Outgoing> {
    store
        .outbox_payloads_to(Platform::Telegram, &chat.to_string())
        .await
        .expect("outbox")
        .into_iter()
        .filter_map(|p| serde_json::from_str(&p).ok())
        .collect()
}

/// The number format of cell `cell` (e.g. `I3`) on the workbook's first sheet, read from the
/// package itself: the cell's style index, that style's number format id, and its code
/// (built-in ids 9 and 10 are Excel's `0%` and `0.00%`).
fn number_format(xlsx: &[u8], cell: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).expect("a zip package");
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .read_to_string(&mut text)
            .expect("utf-8");
        text
    };
    let sheet = read("xl/worksheets/sheet1.xml");
    let styles = read("xl/styles.xml");
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = tag[start..].find('"')?;
        Some(tag[start..start + len].to_string())
    };
    let at = sheet
        .find(&format!("<c r=\"{cell}\""))
        .unwrap_or_else(|| panic!("no cell {cell}"));
    let tag = &sheet[at..at + sheet[at..].find('>').expect("a closed tag")];
    assert!(
        attr(tag, "t").is_none_or(|t| t == "n"),
        "{cell} is not numeric: {tag}"
    );
    let style: usize = attr(tag, "s").map_or(0, |s| s.parse().expect("a style index"));
    let xfs_at = styles.find("<cellXfs").expect("cellXfs");
    let xfs = &styles[xfs_at..xfs_at + styles[xfs_at..].find("</cellXfs>").expect("end")];
    let xf = xfs.split("<xf ").nth(1 + style).expect("the cell's style");
    let id = attr(&format!(" {xf}"), "numFmtId").expect("numFmtId");
    match id.as_str() {
        "9" => "0%".to_string(),
        "10" => "0.00%".to_string(),
        _ => styles
            .split("<numFmt ")
            .skip(1)
            .find(|f| attr(&format!(" {f}"), "numFmtId").as_deref() == Some(id.as_str()))
            .and_then(|f| attr(&format!(" {f}"), "formatCode"))
            .unwrap_or_else(|| format!("built-in {id}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_rate_reads_two_decimals_in_chat_and_digest() {
    let app = spawn_app().await;
    make_leader(&app.store, LEADER, "795").await;
    small_district(&app).await;
    let leader = TgUser::en(LEADER);

    let r = app.say(&leader, "/coverage", 1).await;
    let text = r[0].text();
    assert!(
        text.contains("Thị xã Kiến Tường: 0.02% installed"),
        "{text}"
    );
    assert!(!text.contains("0.0%"), "{text}");

    let settings = Settings::from_lookup(|k| match k {
        "BLUEZONE_DIGEST_AT" => Some("00:00".into()),
        "BLUEZONE_REMINDER_MAX" => Some("0".into()),
        _ => None,
    })
    .expect("settings");
    let scheduler = Scheduler::new(
        app.store.clone(),
        Arc::new(settings),
        Arc::new(Notify::new()),
    );
    assert_eq!(scheduler.tick().await.expect("tick").digests, 1);
    let digest = queued_to(&app.store, LEADER)
        .await
        .into_iter()
        .map(|m| m.body().to_string())
        .find(|b| b.contains("Daily report"))
        .expect("a digest");
    assert!(digest.contains("0.02%"), "{digest}");
    assert!(!digest.contains("0.0%"), "{digest}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_carry_the_exact_rate_as_a_number() {
    let app = spawn_app().await;
    make_leader(&app.store, LEADER, "795").await;
    small_district(&app).await;
    let leader = TgUser::en(LEADER);
    let r = app.say(&leader, "/export", 2).await;
    assert!(r.iter().all(|c| c.method == "sendDocument"), "{r:?}");
    let docs: Vec<(String, Vec<u8>)> = queued_to(&app.store, LEADER)
        .await
        .into_iter()
        .filter_map(|m| match m {
            Outgoing::Document {
                filename, bytes, ..
            } => Some((filename, bytes)),
            _ => None,
        })
        .collect();
    let exact = INSTALLS as f64 / POPULATION as f64;

    let (_, xlsx) = docs
        .iter()
        .find(|(n, _)| n.ends_with(".xlsx"))
        .expect("an xlsx");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.clone())).expect("a workbook");
    let figures = book.worksheet_range("Figures").expect("figures");
    let rows: Vec<Vec<Data>> = figures.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows[2][0], Data::String("795".into()));
    // Column I (coverage) of the unit's row (row 3): the exact fraction, shown as a percentage.
    assert_eq!(rows[2][8], Data::Float(exact));
    assert_eq!(number_format(xlsx, "I3"), "0.00%");
    assert_eq!(number_format(xlsx, "J3"), "0.00%", "the target column");

    let (_, csv) = docs
        .iter()
        .find(|(n, _)| n.ends_with(".csv"))
        .expect("a csv");
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let row = reader
        .records()
        .next()
        .expect("a row")
        .expect("a valid row");
    assert_eq!(&row[0], "795");
    let cell = &row[8];
    let digits = cell
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .trim_start_matches('0')
        .len();
    assert!(digits >= 4, "{cell} has {digits} significant digits");
    let percent: f64 = cell.parse().expect("a number");
    assert!(
        (percent - exact * 100.0).abs() < 1e-6,
        "{cell} is not {exact}"
    );
    app.finish().await;
}
