//! Coverage in the chat: `/coverage`, `/report`, `/members`, `/export`, `/chart`, `/invite`,
//! and `bluezone-bot report`: the figures match the database, leaders stay inside their
//! branch, reports never go negative, exports read back.

use crate::helpers::unit_code;
use std::io::Cursor;

use bluezone_bot::clock::ManualClock;
use bluezone_bot::coverage::snapshot;
use bluezone_bot::domain::{Locale, Platform};
use bluezone_bot::platform::Outgoing;
use bluezone_bot::store::Store;
use calamine::{Data, Reader, Xlsx};
use fake_platforms::TgUser;

use crate::helpers::{Options, TestApp, spawn_app_with};

const ADMIN: i64 = 7001;
/// Leads Thành phố Tân An (794), which holds Phường 1 (27694).
const TAN_AN_LEADER: i64 = 7002;
/// Leads Thị xã Kiến Tường (795), another branch.
const KIEN_TUONG_LEADER: i64 = 7003;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Makes `user` a leader of `unit` (English speaking).
pub(crate) async fn make_leader(store: &Store, user: i64, unit: &str) -> i64 {
    let id = user.to_string();
    let (p, _) = store
        .touch_person(Platform::Telegram, &id, &id, "Leader", Locale::En)
        .await
        .expect("person");
    let token = store
        .create_invitation(&unit_code(unit), "test", 7)
        .await
        .expect("invitation");
    store
        .redeem_invitation(&token, p.id)
        .await
        .expect("redeem")
        .expect("a fresh invitation");
    p.id
}

/// `n` members in `unit`, the first `confirmed` of them confirmed. Returns their ids.
async fn members(store: &Store, first_id: i64, n: i64, confirmed: i64, unit: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let uid = (first_id + i).to_string();
        let (p, _) = store
            .touch_person(
                Platform::Telegram,
                &uid,
                &uid,
                &format!("Member {uid}"),
                Locale::Vi,
            )
            .await
            .expect("member");
        store
            .set_person_unit(p.id, Some(&unit_code(unit)))
            .await
            .expect("unit");
        if i < confirmed {
            store.confirm_install(p.id).await.expect("confirm");
        }
        ids.push(p.id);
    }
    ids
}

async fn app_with_leaders(clock: Option<ManualClock>) -> TestApp {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        clock,
        ..Options::default()
    })
    .await;
    make_leader(&app.store, TAN_AN_LEADER, "794").await;
    make_leader(&app.store, KIEN_TUONG_LEADER, "795").await;
    app
}

/// The documents queued for `user`, decoded from the outbox.
async fn documents_to(app: &TestApp, user: i64) -> Vec<(String, Vec<u8>)> {
    app.store
        .outbox_payloads_to(Platform::Telegram, &user.to_string())
        .await
        .expect("outbox")
        .into_iter()
        .filter_map(|p| match serde_json::from_str::<Outgoing>(&p).ok()? {
            Outgoing::Document {
                filename, bytes, ..
            } => Some((filename, bytes)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_rolls_up_and_leaders_stay_in_their_branch() {
    let app = app_with_leaders(None).await;
    members(&app.store, 100, 3, 2, "27694").await;
    members(&app.store, 200, 2, 1, "795").await;
    let tan_an = app.unit("794").await;
    assert_eq!((tan_an.sub_members, tan_an.sub_confirmed), (3, 2));
    let province = app.unit("80").await;
    assert_eq!((province.sub_members, province.sub_confirmed), (5, 3));

    let leader = TgUser::en(TAN_AN_LEADER);
    let r = app.say(&leader, "/coverage", 1).await;
    let text = r[0].text();
    assert!(text.contains("Thành phố Tân An"), "{text}");
    assert!(text.contains("Members 3 · confirmed 2"), "{text}");
    assert!(text.contains("population 145120"), "{text}");
    // 60% of 145,120 is 87,072; two are installed.
    assert!(text.contains("87070 more installs"), "{text}");
    assert!(text.contains("Members who confirmed: 66.67%"), "{text}");
    // Communes have no population: sorted by installs, fewest first, so Phường 1 is last.
    let next = app.press(&leader, &r[0], "Next", 1).await;
    assert!(
        next[0].text().contains("14. Phường 1: 2 installs"),
        "{}",
        next[0].text()
    );

    // Another branch, the province above, and forged buttons are refused.
    for ask in [
        "/coverage 795",
        "/coverage 80",
        "/export 795",
        "/chart 795",
        "/members 795",
    ] {
        let r = app.say(&leader, ask, 1).await;
        assert!(
            r[0].text().contains("only see and manage"),
            "{ask}: {}",
            r[0].text()
        );
    }
    let r = app.press_data(&leader, &r[0], "cov:795:0", 1).await;
    assert!(
        r[0].text().contains("only see and manage"),
        "{}",
        r[0].text()
    );
    let r = app.press_data(&leader, &r[0], "cov::0", 1).await;
    assert!(r[0].text().contains("Thành phố Tân An"), "{}", r[0].text());
    // Down into the leader's own commune is fine.
    let r = app.say(&leader, "/coverage 27694", 1).await;
    assert!(r[0].text().contains("Phường 1"), "{}", r[0].text());

    // A citizen is not a leader.
    let citizen = TgUser::en(7999);
    let r = app.say(&citizen, "/coverage", 1).await;
    assert!(r[0].text().contains("for unit leaders"), "{}", r[0].text());

    // The administrator sees the whole country, pages and drills down.
    let admin = TgUser::en(ADMIN);
    let r = app.say(&admin, "/coverage", 1).await;
    assert!(r[0].text().contains("Whole country"), "{}", r[0].text());
    assert!(
        r[0].text().contains("Members 5 · confirmed 3"),
        "{}",
        r[0].text()
    );
    let r = app.press(&admin, &r[0], "Tỉnh Long An", 1).await;
    assert!(r[0].text().contains("15 units below"), "{}", r[0].text());
    assert!(r[0].text().contains("(page 1/2)"), "{}", r[0].text());
    let r = app.press(&admin, &r[0], "Next", 1).await;
    assert!(r[0].text().contains("(page 2/2)"), "{}", r[0].text());
    assert!(r[0].text().contains("11. "), "{}", r[0].text());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_add_correct_and_never_go_negative() {
    let app = app_with_leaders(None).await;
    let leader = TgUser::en(TAN_AN_LEADER);
    let r = app.say(&leader, "/report 12 post office", 1).await;
    assert!(
        r[0].text()
            .contains("Recorded 12 installs for Thành phố Tân An"),
        "{}",
        r[0].text()
    );
    assert!(r[0].text().contains("so far: 12"), "{}", r[0].text());
    let r = app.say(&leader, "/report -3 correction", 1).await;
    assert!(r[0].text().contains("so far: 9"), "{}", r[0].text());
    let r = app.say(&leader, "/report -20 too many", 1).await;
    assert!(r[0].text().contains("Not recorded"), "{}", r[0].text());
    assert_eq!(app.unit("794").await.reported, 9);
    // A unit below: CODE N.
    let r = app.say(&leader, "/report 27694 4 bank", 1).await;
    assert!(r[0].text().contains("for Phường 1"), "{}", r[0].text());
    // Another branch, zero and garbage.
    let r = app.say(&leader, "/report 795 5", 1).await;
    assert!(
        r[0].text().contains("only see and manage"),
        "{}",
        r[0].text()
    );
    let r = app.say(&leader, "/report 0", 1).await;
    assert!(r[0].text().contains("must not be 0"), "{}", r[0].text());
    let r = app.say(&leader, "/report lots", 1).await;
    assert!(r[0].text().contains("Usage: /report"), "{}", r[0].text());

    let u = app.unit("794").await;
    assert_eq!((u.reported, u.sub_reported), (9, 13));
    assert_eq!(app.unit("80").await.sub_reported, 13);
    assert_eq!(app.unit("795").await.sub_reported, 0);
    let trail = app
        .store
        .install_reports(&unit_code("794"), 10)
        .await
        .expect("trail");
    let amounts: Vec<(i64, i64, &str)> = trail
        .iter()
        .map(|r| (r.amount, r.total_after, r.note.as_str()))
        .collect();
    assert_eq!(
        amounts,
        vec![(-3, 9, "correction"), (12, 12, "post office")]
    );
    // Counted in the coverage: (0 confirmed + 13 reported) of 145,120.
    let r = app.say(&leader, "/coverage", 1).await;
    assert!(
        r[0].text().contains("reported in person 13"),
        "{}",
        r[0].text()
    );
    // A recount from people keeps reported figures.
    app.store.recount_units().await.expect("recount");
    assert_eq!(app.unit("794").await.sub_reported, 13);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_post_check_verifies_and_confirms() {
    let app = app_with_leaders(None).await;
    let ids = members(&app.store, 300, 3, 1, "27694").await;
    let other = members(&app.store, 400, 1, 0, "795").await;
    let leader = TgUser::en(TAN_AN_LEADER);
    let r = app.say(&leader, "/members", 1).await;
    assert!(
        r[0].text().contains("2 members have not confirmed"),
        "{}",
        r[0].text()
    );
    assert!(r[0].text().contains("Member 301"), "{}", r[0].text());
    assert!(!r[0].text().contains("Member 300"), "{}", r[0].text());
    // Verifying someone who had not confirmed confirms them too.
    let list = r[0].clone();
    let r = app.press(&leader, &list, "✅ 1", 1).await;
    assert!(
        r[0].text().contains("counted as installed"),
        "{}",
        r[0].text()
    );
    let r = app.press(&leader, &list, "✅ 1", 1).await;
    assert!(r[0].text().contains("verified already"), "{}", r[0].text());
    let u = app.unit("27694").await;
    assert_eq!((u.members, u.confirmed, u.verified), (3, 2, 1));
    assert_eq!(app.unit("80").await.sub_verified, 1);
    let p = app
        .store
        .person(ids[1])
        .await
        .expect("read")
        .expect("member");
    assert!(p.verified_at.is_some() && p.confirmed_at.is_some());
    // Verifying a self-confirmed member adds only the verification.
    let r = app
        .press_data(&leader, &list, &format!("ver:{}", ids[0]), 1)
        .await;
    assert!(
        r[0].text().contains("is marked verified."),
        "{}",
        r[0].text()
    );
    let u = app.unit("27694").await;
    assert_eq!((u.confirmed, u.verified), (2, 2));
    // A member of another branch cannot be verified with a forged button.
    let r = app
        .press_data(&leader, &list, &format!("ver:{}", other[0]), 1)
        .await;
    assert!(
        r[0].text().contains("only see and manage"),
        "{}",
        r[0].text()
    );
    assert_eq!(app.unit("795").await.verified, 0);
    // The counters match a recount from the people table.
    let before = app
        .store
        .subtree(Some(&unit_code("80")))
        .await
        .expect("units");
    app.store.recount_units().await.expect("recount");
    assert_eq!(
        app.store
            .subtree(Some(&unit_code("80")))
            .await
            .expect("units"),
        before
    );
    // Reports show verified and self-confirmed separately.
    let r = app.say(&leader, "/coverage", 1).await;
    assert!(
        r[0].text()
            .contains("checked in person 2, self-confirmed 0"),
        "{}",
        r[0].text()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_match_the_database_and_trends_compare_with_yesterday() {
    let clock = ManualClock::at(1_596_279_600_000); // 2020-08-01 18:00 in Vietnam
    let app = app_with_leaders(Some(clock.clone())).await;
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    // The app writes a snapshot when it starts: let it finish before the clock moves.
    let day1 = snapshot::day_key(snapshot::today(&app.store, tz));
    let deadline = std::time::Instant::now() + crate::helpers::WAIT;
    while app
        .store
        .snapshots_on(&day1, &["794"])
        .await
        .expect("snapshots")
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "no snapshot at start");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    members(&app.store, 500, 4, 2, "27694").await;
    app.store
        .set_unit_target(&unit_code("794"), Some(0.8))
        .await
        .expect("target");
    snapshot::write_today(&app.store, tz)
        .await
        .expect("snapshot");
    clock.advance_ms(DAY_MS);
    members(&app.store, 600, 1, 1, "27694").await;
    snapshot::write_today(&app.store, tz)
        .await
        .expect("snapshot");

    let leader = TgUser::en(TAN_AN_LEADER);
    let r = app.say(&leader, "/coverage", 1).await;
    assert!(r[0].text().contains("(target 80.00%) ▲"), "{}", r[0].text());
    let next = app.press(&leader, &r[0], "Next", 1).await;
    assert!(
        next[0].text().contains("Phường 1: 3 installs ▲"),
        "{}",
        next[0].text()
    );
    assert!(
        next[0].text().contains("Xã Lợi Bình Nhơn: 0 installs"),
        "{}",
        next[0].text()
    );

    let r = app.say(&leader, "/export", 2).await;
    assert!(r.iter().all(|c| c.method == "sendDocument"), "{r:?}");
    let docs = documents_to(&app, TAN_AN_LEADER).await;
    let (name, xlsx) = docs
        .iter()
        .find(|(n, _)| n.ends_with(".xlsx"))
        .expect("an xlsx");
    assert_eq!(name, "coverage_794_2020-08-02.xlsx");
    assert!(docs.iter().any(|(n, _)| n == "coverage_794_2020-08-02.csv"));
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.clone())).expect("a workbook");
    let sheets = book.sheet_names();
    assert_eq!(
        sheets,
        vec!["Figures".to_string(), "Daily history".to_string()]
    );
    let figures = book.worksheet_range("Figures").expect("figures");
    let rows: Vec<Vec<Data>> = figures.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows[1][0], Data::String("Code".into()));
    assert_eq!(rows[1][10], Data::String("Gap to target".into()));
    // The unit first, then its subtree, with the figures of the database.
    assert_eq!(rows[2][0], Data::String("794".into()));
    assert_eq!(rows[2][3], Data::Float(145_120.0));
    assert_eq!(rows[2][4], Data::Float(5.0));
    assert_eq!(rows[2][5], Data::Float(3.0));
    assert_eq!(rows[2][9], Data::Float(0.8));
    assert_eq!(rows[2][10], Data::Float((145_120.0f64 * 0.8).ceil() - 3.0));
    assert_eq!(
        rows.len(),
        2 + app
            .store
            .subtree(Some(&unit_code("794")))
            .await
            .expect("units")
            .len()
    );
    let history = book.worksheet_range("Daily history").expect("history");
    // Two days of the unit and its 14 communes, after the header.
    assert_eq!(history.rows().count(), 1 + 2 * 15);

    // The chart and the poster go out as photos.
    let r = app.say(&leader, "/chart", 1).await;
    assert_eq!(r[0].method, "sendPhoto");
    assert!(r[0].upload.as_ref().is_some_and(|u| u.size > 1000));
    let r = app.say(&leader, "/invite 27694", 1).await;
    assert_eq!(r[0].method, "sendPhoto");
    assert!(r[0].text().contains("start=u_27694"), "{}", r[0].text());
    let r = app.say(&leader, "/invite 795", 1).await;
    assert!(
        r[0].text().contains("only see and manage"),
        "{}",
        r[0].text()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pngs_have_the_promised_sizes() {
    use bluezone_bot::reports::chart::{BarDatum, ChartLabels, TrendPoint, coverage_chart_png};
    use bluezone_bot::reports::poster::{PosterText, invitation_poster_png};
    let labels = ChartLabels {
        title: "Tỷ lệ cài đặt: Tỉnh Long An".into(),
        bars_caption: "Tỷ lệ theo đơn vị".into(),
        trend_caption: "Diễn biến".into(),
        target_label: "Chỉ tiêu".into(),
        no_data: "Chưa có số liệu".into(),
    };
    let bars = vec![
        BarDatum {
            label: "Huyện Đức Hòa".into(),
            coverage: Some(0.42),
        },
        BarDatum {
            label: "Xã Mỹ Thạnh Đông".into(),
            coverage: None,
        },
    ];
    let day = chrono::NaiveDate::from_ymd_opt(2020, 8, 1).expect("day");
    let trend = vec![TrendPoint {
        day,
        coverage: Some(0.3),
    }];
    let png = coverage_chart_png(&bars, &trend, 0.6, &labels).expect("chart");
    let img = image::load_from_memory(&png).expect("a PNG");
    assert_eq!((img.width(), img.height()), (1200, 1400));
    let text = PosterText {
        heading: "Hãy cài đặt Bluezone!".into(),
        unit_name: "Phường 1".into(),
        lines: [
            "Quét mã QR".into(),
            "Mở cuộc trò chuyện".into(),
            "Bấm".into(),
        ],
        link_caption: "Hoặc mở:".into(),
    };
    let png = invitation_poster_png("https://t.me/bot?start=u_27694", &text).expect("poster");
    let img = image::load_from_memory(&png).expect("a PNG");
    // A4 at 150 dpi.
    assert_eq!((img.width(), img.height()), (1240, 1754));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_report_reads_back() {
    let app = app_with_leaders(None).await;
    members(&app.store, 700, 2, 2, "27694").await;
    app.store
        .report_installs(&unit_code("794"), 1, 5, "test")
        .await
        .expect("report");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("r.xlsx");
    let db = app.db.as_ref().expect("db").url.clone();
    let bin = env!("CARGO_BIN_EXE_bluezone-bot");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("DATABASE_URL", &db)
            .env_remove("TELOXIDE_TOKEN")
            .output()
            .expect("the binary runs")
    };
    let o = run(&[
        "report",
        "--unit",
        "794",
        "--format",
        "xlsx",
        "--out",
        out.to_str().expect("path"),
        "--lang",
        "en",
        "--snapshot",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut book: Xlsx<_> = calamine::open_workbook(&out).expect("a workbook");
    let figures = book.worksheet_range("Figures").expect("figures");
    let row: Vec<Data> = figures.rows().nth(2).expect("a row").to_vec();
    assert_eq!(row[0], Data::String("794".into()));
    assert_eq!(row[5], Data::Float(2.0));
    assert_eq!(row[7], Data::Float(5.0));
    let o = run(&["report", "--unit", "794", "--format", "csv"]);
    assert!(o.status.success());
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.contains("794,Thành phố Tân An,"), "{csv}");
    let o = run(&["report", "--unit", "nope", "--format", "text"]);
    assert!(!o.status.success());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_country_pages_and_drills_down() {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        no_units: true,
        ..Options::default()
    })
    .await;
    let national = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vn_units_2020.csv");
    bluezone_bot::units_csv::import_file(&app.store, std::path::Path::new(national))
        .await
        .expect("the national file");
    members(&app.store, 900, 2, 1, "27694").await;
    let admin = TgUser::en(ADMIN);
    let r = app.say(&admin, "/coverage", 1).await;
    let text = r[0].text();
    assert!(
        text.contains("Whole country: 1 install (no population figure)"),
        "{text}"
    );
    assert!(text.contains("63 units below"), "{text}");
    assert!(text.contains("(page 1/7)"), "{text}");
    let r = app.say(&admin, "/coverage 80", 1).await;
    assert!(r[0].text().contains("15 units below"), "{}", r[0].text());
    let r = app.say(&admin, "/coverage 794", 1).await;
    assert!(r[0].text().contains("14 units below"), "{}", r[0].text());
    let r = app.press(&admin, &r[0], "Next", 1).await;
    assert!(
        r[0].text().contains("14. Phường 1: 1 install"),
        "{}",
        r[0].text()
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reports_add_up_and_stop_at_zero() {
    use bluezone_bot::store::coverage::ReportOutcome;
    let app = app_with_leaders(None).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = app.store.clone();
        // Reports on a commune and on its district at once (shared ancestors).
        let unit = if i % 2 == 0 { "27694" } else { "794" };
        tasks.push(tokio::spawn(async move {
            store.report_installs(&unit_code(unit), 1, 3, "rush").await
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.expect("task").expect("report"),
            ReportOutcome::Recorded { .. }
        ));
    }
    assert_eq!(app.unit("794").await.sub_reported, 60);
    assert_eq!(app.unit("80").await.sub_reported, 60);
    // Ten corrections of -4 against 30: seven succeed, three are refused.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .report_installs(&unit_code("27694"), 1, -4, "fix")
                .await
        }));
    }
    let mut refused = 0;
    for t in tasks {
        if let ReportOutcome::WouldGoNegative { total } = t.await.expect("task").expect("report") {
            assert!((0..4).contains(&total), "{total}");
            refused += 1;
        }
    }
    assert_eq!(refused, 3);
    let u = app.unit("27694").await;
    assert_eq!((u.reported, u.sub_reported), (2, 2));
    assert_eq!(app.unit("80").await.sub_reported, 32);
    assert_eq!(
        app.store
            .install_reports(&unit_code("27694"), 100)
            .await
            .expect("trail")
            .len(),
        17
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_an_empty_unit_get_the_invitation_not_a_celebration() {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        ..Options::default()
    })
    .await;
    let admin = TgUser::en(ADMIN);
    let r = app.say(&admin, "/members 794", 1).await;
    let text = r[0].text();
    assert!(text.contains("has no members yet"), "{text}");
    assert!(text.contains("/invite 794"), "{text}");
    assert!(text.contains("start=u_794"), "{text}");
    assert!(!text.contains("🎉"), "{text}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_units_admins_are_told_what_to_run_and_citizens_get_the_guide() {
    let app = spawn_app_with(Options {
        admins: vec![ADMIN],
        no_units: true,
        ..Options::default()
    })
    .await;
    let admin = TgUser::en(ADMIN);
    let r = app.say(&admin, "/coverage", 1).await;
    assert!(
        r[0].text().contains("bluezone-bot units import --sample"),
        "{}",
        r[0].text()
    );
    let citizen = TgUser::en(7050);
    let r = app.say(&citizen, "/start", 2).await;
    assert!(
        r[1].text().contains("Which kind of phone"),
        "{}",
        r[1].text()
    );
    assert!(r.iter().all(|c| !c.text().contains("Which unit")));
    let r = app.say(&citizen, "Tan An", 1).await;
    assert!(!r[0].text().contains("No unit found"), "{}", r[0].text());
    app.finish().await;
}

/// One started member of `unit` on `platform`, last heard from now (on the app's clock).
async fn reach_member(store: &Store, platform: Platform, uid: &str, unit: &str) -> i64 {
    let (p, _) = store
        .touch_person(platform, uid, uid, &format!("Reach {uid}"), Locale::Vi)
        .await
        .expect("member");
    store
        .save_state(p.id, &bluezone_bot::domain::State::Idle)
        .await
        .expect("started");
    // save_state stamps the activity, not the inbound time: touch again to keep it.
    store
        .touch_person(platform, uid, uid, &format!("Reach {uid}"), Locale::Vi)
        .await
        .expect("member");
    store
        .set_person_unit(p.id, Some(&unit_code(unit)))
        .await
        .expect("unit");
    p.id
}

/// Reachability of unconfirmed members: Telegram always free, Messenger inside/outside 24 h,
/// Zalo under 48 h, 48 h–7 d (billed only with a budget) and over 7 days, blocked and opted
/// out people, a linked person reached on their cheapest account; `/coverage`, `/members`,
/// `/members unreachable` and the export agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_counts_reachability_and_lists_the_unreachable() {
    use bluezone_bot::coverage::reach::{ReachCounts, ReachCuts};
    use bluezone_bot::reach::ReachRules;
    const HOUR: i64 = 3600 * 1000;
    let base = chrono::Utc::now().timestamp_millis();
    let clock = ManualClock::at(base - 10 * DAY_MS);
    let p = crate::platform_fakes::spawn_platforms(Options {
        admins: vec![ADMIN],
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let store = &p.app.store;
    make_leader(store, TAN_AN_LEADER, "794").await;
    let unit = "27694";
    // 10 days ago.
    reach_member(store, Platform::Telegram, "t-old", unit).await; // free
    reach_member(store, Platform::Zalo, "z-10d", unit).await; // unreachable
    let done = reach_member(store, Platform::Zalo, "z-done", unit).await;
    store.confirm_install(done).await.expect("confirm"); // not counted
    clock.set_ms(base - 72 * HOUR);
    reach_member(store, Platform::Zalo, "z-72h", unit).await; // billed with a budget
    clock.set_ms(base - 30 * HOUR);
    reach_member(store, Platform::Messenger, "m-30h", unit).await; // unreachable
    let linked_primary = reach_member(store, Platform::Messenger, "m-linked", unit).await;
    clock.set_ms(base - 10 * HOUR);
    reach_member(store, Platform::Zalo, "z-10h", unit).await; // free
    clock.set_ms(base - 2 * HOUR);
    reach_member(store, Platform::Messenger, "m-2h", unit).await; // free
    clock.set_ms(base);
    reach_member(store, Platform::Telegram, "t-blocked", unit).await;
    store
        .mark_unreachable(Platform::Telegram, "t-blocked", "blocked")
        .await
        .expect("blocked");
    let opted = reach_member(store, Platform::Telegram, "t-opted", unit).await;
    store.set_opted_out(opted, true).await.expect("opted out");
    // The Messenger person outside the window also has a Telegram account: reached there.
    let (second, _) = store
        .touch_person(Platform::Telegram, "t-linked", "t-linked", "L", Locale::Vi)
        .await
        .expect("second account");
    store
        .save_state(second.id, &bluezone_bot::domain::State::Idle)
        .await
        .expect("started");
    let code = store
        .link_code_create(linked_primary, 600_000)
        .await
        .expect("code");
    store.link_redeem(second.id, &code).await.expect("linked");

    let zalo = |budget| ReachRules {
        free_ms: Some(48 * HOUR),
        billed_until_ms: Some(7 * 24 * HOUR),
        price: 55,
        monthly_budget: budget,
        paid_speed: None,
    };
    let messenger = ReachRules {
        free_ms: Some(24 * HOUR),
        ..ReachRules::ALWAYS_FREE
    };
    let cuts = |budget| {
        ReachCuts::from_rules(
            |pl| match pl {
                Platform::Zalo => zalo(budget),
                Platform::Messenger => messenger,
                _ => ReachRules::ALWAYS_FREE,
            },
            base,
        )
    };
    let counts = |free, billed, unreachable| ReachCounts {
        free,
        billed,
        unreachable,
    };
    // free: t-old, z-10h, m-2h, m-linked (via Telegram); unreachable: z-10d, m-30h,
    // t-blocked, t-opted, and z-72h unless a budget is set.
    let with_budget = store
        .reach_of(&unit_code("794"), &cuts(1_000_000))
        .await
        .expect("reach");
    assert_eq!(with_budget, counts(4, 1, 4));
    let without = store
        .reach_of(&unit_code("794"), &cuts(0))
        .await
        .expect("reach");
    assert_eq!(without, counts(4, 0, 5));
    let listed: Vec<String> = store
        .unreachable_members(&unit_code(unit), &cuts(0), 0, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.display_name)
        .collect();
    let mut expected: Vec<String> = ["z-10d", "z-72h", "m-30h", "t-blocked", "t-opted"]
        .iter()
        .map(|u| format!("Reach {u}"))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    let budgeted = store
        .unreachable_members(&unit_code(unit), &cuts(1_000_000), 0, 100)
        .await
        .expect("list");
    assert_eq!(budgeted.len(), 4);
    assert!(budgeted.iter().all(|m| m.display_name != "Reach z-72h"));

    // The chat, with the configured accounts (Zalo has no budget here: nothing billed).
    let leader = TgUser::en(TAN_AN_LEADER);
    let r = p.app.say(&leader, "/coverage 27694", 1).await;
    let text = r[0].text();
    assert!(
        text.contains(
            "Not confirmed yet: 4 reachable now for free · 0 reachable at a cost · 5 cannot be reached now"
        ),
        "{text}"
    );
    let r = p.app.say(&leader, "/members 794", 1).await;
    assert!(text_has(r[0].text(), "5 cannot be reached now"));
    let r = p
        .app
        .press(&leader, &r[0], "📵 Cannot be reached (5)", 1)
        .await;
    let text = r[0].text();
    assert!(
        text.contains("5 members have not confirmed and cannot be reached"),
        "{text}"
    );
    for name in &expected {
        assert!(text.contains(name.as_str()), "{name} missing: {text}");
    }
    for free in ["t-old", "z-10h", "m-2h", "m-linked", "z-done"] {
        assert!(!text.contains(&format!("Reach {free}")), "{free}: {text}");
    }
    assert!(
        text.contains("Reach t-blocked – Phường 1 (27694) – Telegram, blocked"),
        "{text}"
    );
    assert!(
        text.contains("Reach t-opted – Phường 1 (27694) – Telegram, asked for no messages"),
        "{text}"
    );
    assert!(
        text.contains("Reach m-30h – Phường 1 (27694) – Messenger, has not written"),
        "{text}"
    );
    assert!(text.contains("post offices, banks"), "{text}");
    let typed = p.app.say(&leader, "/members unreachable 794", 1).await;
    assert_eq!(typed[0].text(), text);

    // The export carries the three columns, summed up the tree.
    p.app.say(&leader, "/export 794", 2).await;
    let docs = documents_to(&p.app, TAN_AN_LEADER).await;
    let (_, csv) = docs
        .iter()
        .find(|(name, _)| name.ends_with(".csv"))
        .expect("a csv");
    let mut rdr = csv::Reader::from_reader(&csv[3..]);
    let headers = rdr.headers().expect("headers").clone();
    let n = headers.len();
    assert_eq!(&headers[n - 3], "Not confirmed: reachable free");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    for code in ["794", "27694"] {
        let row = rows.iter().find(|r| &r[0] == code).expect("row");
        assert_eq!(
            (&row[n - 3], &row[n - 2], &row[n - 1]),
            ("4", "0", "5"),
            "{code}"
        );
    }
    let other = rows
        .iter()
        .find(|r| &r[0] != "794" && &r[0] != "27694")
        .expect("another unit");
    assert_eq!(&other[n - 1], "0");
    p.app.finish().await;
}

fn text_has(text: &str, needle: &str) -> bool {
    assert!(text.contains(needle), "{needle} not in {text}");
    true
}
