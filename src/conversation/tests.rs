//! The engine without any platform: console-style events against a temporary SQLite store,
//! replies read back through a captured [`Console`] and the outbox worker. The whole journey
//! in Vietnamese and in English, plus the bad-input paths.

use std::sync::Arc;

use super::action::PhoneKind;
use super::{Action, State};
use crate::clock::ManualClock;
use crate::config::Settings;
use crate::domain::{Locale, Platform, UnitCode};
use crate::outbox::Worker;
use crate::platform::console::Console;
use crate::platform::{Chat, ChatKind, Event, Inbound, PhotoRef, Sender};
use crate::startup::{App, SAMPLE_UNITS};
use crate::store::Store;

const PLAY: &str = "https://play.google.com/store/apps/details?id=com.mic.bluezone";
const APP_STORE: &str = "https://apps.apple.com/vn/app/bluezone/id1508062685";

struct Bench {
    app: App,
    console: Console,
    worker: Worker,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

struct Person<'a> {
    bench: &'a Bench,
    id: String,
    language: Option<String>,
}

async fn bench() -> Bench {
    bench_with(true).await
}

/// A bench with the sample units imported, or with none (an operator who forgot).
async fn bench_with(units: bool) -> Bench {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("engine.db").display());
    let mut settings = Settings::for_database(&url);
    settings.accounts = crate::platform::accounts_from_lookup(&|k| {
        (k == "BLUEZONE_BOT_USERNAME").then(|| "BluezoneTestBot".to_string())
    })
    .expect("links to a Telegram bot");
    settings.admins.push((Platform::Console, "admin".into()));
    let clock = ManualClock::at(1_590_000_000_000);
    let app = App::build_with_clock(settings, Arc::new(clock.clone()))
        .await
        .expect("the app builds");
    if units {
        crate::units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS)
            .await
            .expect("sample units");
    }
    let console = Console::captured();
    let worker = Worker::new(
        app.store.clone(),
        Arc::new(console.clone()),
        app.outbox_ready.clone(),
    );
    Bench {
        app,
        console,
        worker,
        clock,
        _dir: dir,
    }
}

impl Bench {
    fn person(&self, id: &str, language: Option<&str>) -> Person<'_> {
        Person {
            bench: self,
            id: id.into(),
            language: language.map(str::to_string),
        }
    }

    fn store(&self) -> &Store {
        &self.app.store
    }

    /// Handles `event` from `who` in `chat` and returns what the console printed.
    async fn event(&self, who: &Person<'_>, chat: Chat, event: Event) -> String {
        let inbound = Inbound {
            platform: Platform::Console,
            account: crate::domain::AccountId::of_platform(Platform::Console),
            sender: Sender {
                user_id: who.id.clone(),
                private_chat_id: who.id.clone(),
                display_name: format!("Person {}", who.id),
                language_code: who.language.clone(),
            },
            chat,
            event,
        };
        self.app.engine.handle(&inbound).await.expect("handled");
        while self
            .worker
            .try_execute_batch()
            .await
            .expect("the outbox drains")
            .claimed
            > 0
        {}
        self.console.take_output()
    }
}

impl Person<'_> {
    fn chat(&self) -> Chat {
        Chat {
            id: self.id.clone(),
            kind: ChatKind::Private,
        }
    }

    async fn say(&self, text: &str) -> String {
        let event = match text.strip_prefix('/') {
            Some(rest) => {
                let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::Command {
                    name: name.into(),
                    args: args.into(),
                }
            }
            None => Event::Text(text.into()),
        };
        self.bench.event(self, self.chat(), event).await
    }

    async fn press_data(&self, data: &str) -> String {
        let event = Event::Button {
            data: data.into(),
            callback_id: Some("cb".into()),
            message_id: None,
        };
        self.bench.event(self, self.chat(), event).await
    }

    async fn press(&self, action: Action) -> String {
        self.press_data(&action.encode()).await
    }

    async fn row(&self) -> crate::store::Person {
        self.bench
            .store()
            .person_by_platform_id(Platform::Console, &self.id)
            .await
            .expect("read")
            .expect("the person exists")
    }
}

fn unit(code: &str) -> Action {
    Action::ChooseUnit(UnitCode::parse(code).expect("a code"))
}

fn has(out: &str, want: &str) {
    assert!(out.contains(want), "missing {want:?} in:\n{out}");
}

/// One journey; `t` picks the expected text by language.
async fn journey(language: Option<&str>, vi: bool) {
    let t = |v: &'static str, e: &'static str| if vi { v } else { e };
    let b = bench().await;
    let p = b.person("p1", language);

    let out = p.say("/start").await;
    has(&out, t("Xin chào", "Hello!"));
    has(&out, t("đơn vị nào", "Which unit"));
    assert_eq!(p.row().await.state, State::AwaitingUnitSearch);

    for q in ["tan an", "TÂN AN", "Tân An"] {
        let out = p.say(q).await;
        has(&out, "Thành phố Tân An (Tỉnh Long An)");
    }
    let out = p.press(unit("794")).await;
    has(&out, t("Bạn đã được ghi nhận", "You are registered in"));
    has(&out, t("loại điện thoại", "Which kind of phone"));

    let out = p.press(Action::Phone(PhoneKind::Android)).await;
    has(&out, PLAY);
    has(&out, t("giả mạo", "fake apps"));
    has(&out, "Bluetooth");
    let out = p.press(Action::Phone(PhoneKind::Iphone)).await;
    has(&out, APP_STORE);

    let out = p.press(Action::Installed).await;
    has(
        &out,
        t(
            "Cảm ơn bạn đã cài Bluezone",
            "Thank you for installing Bluezone",
        ),
    );
    has(&out, "https://t.me/");
    let out = p.press(Action::Installed).await;
    has(&out, t("chỉ tính một lần", "it counts once"));
    let out = p.say("/installed").await;
    has(&out, t("chỉ tính một lần", "it counts once"));
    let tan_an = b
        .store()
        .unit(&UnitCode::parse("794").expect("code"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!((tan_an.members, tan_an.confirmed), (1, 1));
    let long_an = b
        .store()
        .unit(&UnitCode::parse("80").expect("code"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!((long_an.sub_members, long_an.sub_confirmed), (1, 1));

    let out = p.say("/status").await;
    has(&out, "Thành phố Tân An");
    has(&out, t("Đã cài Bluezone", "Bluezone installed"));
    let out = p.say("/guide").await;
    has(&out, APP_STORE);
    let out = p.say("/help").await;
    has(&out, "/stop");

    // Switch language both ways.
    let out = p.say("/language").await;
    has(&out, "English");
    let (other, set) = if vi {
        (Locale::En, "Language set to English")
    } else {
        (Locale::Vi, "Đã chuyển sang tiếng Việt")
    };
    let out = p.press(Action::Language(other)).await;
    has(&out, set);
    let t2 = |v: &'static str, e: &'static str| if vi { e } else { v };
    let out = p.say("/status").await;
    has(&out, t2("Tình trạng của bạn", "Your status"));

    let out = p.say("/stop").await;
    has(&out, t2("Đã tắt nhắc nhở", "Reminders are off"));
    assert!(p.row().await.opted_out);
    // "Welcome back" only after a real absence.
    let out = p.say("/start").await;
    has(&out, t2("Đã bật lại nhắc nhở", "Reminders are back on"));
    assert!(
        !out.contains(t2("Chào mừng bạn quay lại", "Welcome back")),
        "{out}"
    );
    b.clock.advance_ms(25 * 3600 * 1000);
    let out = p.say("/start").await;
    has(&out, t2("Chào mừng bạn quay lại", "Welcome back"));
    assert!(!p.row().await.opted_out);
    let tan_an = b
        .store()
        .unit(&UnitCode::parse("794").expect("code"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(tan_an.confirmed, 1, "confirmed once");
}

#[tokio::test]
async fn the_whole_journey_in_vietnamese() {
    journey(Some("vi"), true).await;
}

#[tokio::test]
async fn the_whole_journey_in_vietnamese_by_default() {
    journey(None, true).await;
}

#[tokio::test]
async fn the_whole_journey_in_english() {
    journey(Some("en"), false).await;
}

fn photo(file_id: &str, caption: &str) -> Event {
    Event::Photo {
        photo: PhotoRef::TelegramFile {
            file_id: file_id.into(),
            bot: None,
        },
        caption: caption.into(),
    }
}

#[tokio::test]
async fn a_broadcast_takes_a_photo_with_a_caption() {
    let b = bench().await;
    let admin = b.person("admin", Some("en"));
    has(
        &admin.say("/broadcast 794").await,
        "send a photo with a caption",
    );
    let long = "ê".repeat(crate::conversation::engine::MAX_TEXT_CHARS + 1);
    let out = b.event(&admin, admin.chat(), photo("f1", &long)).await;
    has(&out, "too long");
    // Still waiting for the message: blanks are asked again.
    has(&admin.say("   ").await, "The message is empty");
    let out = b
        .event(&admin, admin.chat(), photo("f2", "Install today"))
        .await;
    has(&out, "[picture]\nInstall today");
    has(&out, "the photo above");
    let drafts = b.store().recent_broadcasts(None, 5).await.expect("list");
    assert!(drafts.is_empty(), "a draft is not listed: {drafts:?}");
}

#[tokio::test]
async fn bad_input_is_answered_and_never_panics() {
    let b = bench().await;
    let p = b.person("p2", Some("en"));
    p.say("/start u_794").await;
    let out = p.say("/nonsense").await;
    has(&out, "/help");
    let out = p.bench.event(&p, p.chat(), Event::Unsupported).await;
    has(&out, "/help");
    // A photo outside a broadcast is not read either.
    let out = p.bench.event(&p, p.chat(), photo("f1", "hi")).await;
    has(&out, "/help");
    let out = p
        .say(&"ê".repeat(crate::conversation::engine::MAX_TEXT_CHARS + 1))
        .await;
    has(&out, "too long");
    // A person with a unit who types something gets the short help, not a search.
    let out = p.say("hello").await;
    has(&out, "/help");
    for forged in [
        "",
        "drop table",
        "unit:",
        "tree:80:-1",
        "lang:fr",
        "unit:99999",
        "tree:99999:0",
    ] {
        let out = p.press_data(forged).await;
        assert!(
            out.contains("out of date") || out.contains("no longer"),
            "{forged:?}: {out}"
        );
    }
    // A unit that is gone asks for a search, and the next text is one.
    let out = p.press(unit("99999")).await;
    has(&out, "Which unit");
    has(&p.say("kien tuong").await, "Thị xã Kiến Tường");
    let q = b.person("p3", Some("en"));
    for payload in ["$$$", "u_", "x_1", &"u".repeat(65), "u_99999", "r_nobody"] {
        let out = q.say(&format!("/start {payload}")).await;
        has(&out, "not valid");
        has(&out, "Which unit");
        assert_eq!(q.row().await.state, State::AwaitingUnitSearch);
    }
    let out = q.say("x").await;
    has(&out, "at least 2");
    let out = q.say("zzzz qqqq").await;
    has(&out, "No unit found");
}

#[tokio::test]
async fn referrals_are_counted_once() {
    let b = bench().await;
    let a = b.person("ref-a", Some("vi"));
    a.say("/start u_794").await;
    a.press(Action::Installed).await;
    let code = a.row().await.ref_code;
    let friend = b.person("ref-b", Some("vi"));
    let out = friend.say(&format!("/start r_{code}")).await;
    // The referrer's unit is offered as a shortcut.
    has(&out, "Chọn Thành phố Tân An");
    friend.say(&format!("/start r_{code}")).await;
    assert_eq!(a.row().await.referrals, 1);
    // One's own link does not count.
    a.say(&format!("/start r_{code}")).await;
    assert_eq!(a.row().await.referrals, 1);
    let out = a.say("/status").await;
    has(&out, "1");
}

#[tokio::test]
async fn groups_get_a_hello_and_nothing_else() {
    let b = bench().await;
    let p = b.person("g1", Some("vi"));
    let group = Chat {
        id: "-100".into(),
        kind: ChatKind::Group {
            title: "Tổ dân phố 1".into(),
        },
    };
    let out = b.event(&p, group.clone(), Event::AddedToGroup).await;
    has(&out, "Xin chào cả nhóm");
    let out = b
        .event(&p, group.clone(), Event::Text("tan an".into()))
        .await;
    assert_eq!(out, "");
    // The group message did not start a private conversation.
    assert_eq!(p.row().await.state, State::Idle);
}

#[tokio::test]
async fn leader_invitations_work_once() {
    let b = bench().await;
    let admin = b.person("admin", Some("en"));
    let out = admin.say("/invite_leader 794").await;
    let start = out.find("start=l_").expect("a link") + "start=".len();
    let payload: String = out[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let lead = b.person("lead", Some("en"));
    has(
        &lead.say(&format!("/start {payload}")).await,
        "leader of Thành phố Tân An",
    );
    has(&lead.say("/help").await, "Commands for unit leaders");
    let late = b.person("late", Some("en"));
    has(
        &late.say(&format!("/start {payload}")).await,
        "already been used",
    );
    has(&late.say("/invite_leader 794").await, "not allowed");
}

#[tokio::test]
async fn wrong_link_codes_are_limited_per_hour() {
    let b = bench().await;
    let p = b.person("linker", Some("en"));
    p.say("/start u_794").await;
    for _ in 0..crate::conversation::link::MAX_LINK_FAILS_PER_HOUR {
        has(&p.say("/link ZZZZZZ").await, "wrong or has expired");
    }
    // Even a right code waits now.
    let other = b.person("owner", Some("en"));
    other.say("/start u_794").await;
    let shown = other.say("/link").await;
    let code = shown
        .split("/link ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a code")
        .to_string();
    has(
        &p.say(&format!("/link {code}")).await,
        "Too many wrong codes",
    );
}

#[tokio::test]
async fn small_talk_while_asking_for_the_unit_is_not_a_search() {
    let b = bench().await;
    let p = b.person("talk", Some("vi"));
    p.say("/start").await;
    for (text, answer) in [
        ("xin chào", "Xin chào bạn"),
        ("hi", "Xin chào bạn"),
        ("alo", "Xin chào bạn"),
        ("Cảm ơn bạn", "Không có gì"),
        ("ok", "👍"),
    ] {
        let out = p.say(text).await;
        has(&out, answer);
        has(&out, "đơn vị nào");
        has(&out, "Để sau");
        assert!(!out.contains("Không tìm thấy"), "{text}: {out}");
        assert_eq!(p.row().await.state, State::AwaitingUnitSearch);
    }
    // A real name is still a search.
    has(&p.say("tan an").await, "Thành phố Tân An");
    // A name that is not found offers to skip too.
    let out = p.say("zzzz qqqq").await;
    has(&out, "Không tìm thấy");
    has(&out, "Để sau");
}

#[tokio::test]
async fn the_guide_is_never_blocked_by_the_unit_question() {
    let b = bench().await;
    let p = b.person("skip", Some("en"));
    let admin = b.person("admin", Some("en"));
    p.say("/start").await;
    let out = p.say("I don't know").await;
    has(&out, "Skip for now");
    let out = p.press(Action::SkipUnit).await;
    has(&out, "I will ask for your unit again later");
    has(&out, "Which kind of phone");
    // Free text is no longer read as a unit search.
    let out = p.say("hello there friend").await;
    has(&out, "/help");
    assert!(!out.contains("No unit found"), "{out}");
    has(&p.press(Action::Phone(PhoneKind::Android)).await, PLAY);
    let out = p.press(Action::Installed).await;
    has(&out, "Thank you for installing Bluezone");
    has(&out, "To be counted for your unit, please choose it");
    let row = p.row().await;
    assert!(
        row.confirmed_at.is_some() && row.unit_code.is_none(),
        "{row:?}"
    );
    // The confirmation counts under "no unit" until a unit is chosen.
    let out = admin.say("/coverage").await;
    has(&out, "Without a unit yet: 1 person (1 confirmed;");
    let long_an = b
        .store()
        .unit(&UnitCode::parse("80").expect("code"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!(long_an.sub_confirmed, 0);
    // Asked for the unit again on the next /start; choosing it moves the confirmation.
    let out = p.say("/start").await;
    has(&out, "Which unit");
    let out = p.press(unit("794")).await;
    has(&out, "You are registered in");
    let tan_an = b
        .store()
        .unit(&UnitCode::parse("794").expect("code"))
        .await
        .expect("read")
        .expect("unit");
    assert_eq!((tan_an.members, tan_an.confirmed), (1, 1));
    assert!(!b.store().unit_skipped(row.id).await.expect("read"));
    // (Only the administrator is left without a unit.)
    let out = admin.say("/coverage").await;
    has(&out, "Without a unit yet: 1 person (0 confirmed;");
}

#[tokio::test]
async fn a_first_message_starts_the_journey_like_start() {
    let b = bench().await;
    let p = b.person("first", Some("en"));
    let out = p.say("hello").await;
    has(&out, "Hello! I am the Bluezone installation assistant");
    has(&out, "Which unit");
    let row = p.row().await;
    assert!(row.started, "counted as started");
    assert_eq!(row.state, State::AwaitingUnitSearch);
    // A sticker as the first thing works the same.
    let q = b.person("sticker", Some("en"));
    let out = b.event(&q, q.chat(), Event::Unsupported).await;
    has(&out, "Which unit");
    assert!(q.row().await.started);
}

#[tokio::test]
async fn welcome_back_only_after_a_real_absence() {
    let b = bench().await;
    let p = b.person("back", Some("en"));
    has(&p.say("/start").await, "Hello!");
    // A second /start seconds later (a Zalo follow then a poster's link) is the same visit.
    let out = p.say("/start u_794").await;
    assert!(!out.contains("Welcome back"), "{out}");
    has(&out, "You are registered in");
    b.clock.advance_ms(23 * 3600 * 1000);
    assert!(!p.say("/start").await.contains("Welcome back"));
    b.clock.advance_ms(25 * 3600 * 1000);
    has(&p.say("/start").await, "Welcome back");
}

#[tokio::test]
async fn administrators_get_their_own_menu_and_pick_a_unit_to_broadcast() {
    let b = bench().await;
    let admin = b.person("admin", Some("en"));
    let out = admin.say("/start").await;
    has(&out, "You are an administrator");
    has(&out, "Coverage");
    has(&out, "Export");
    has(&out, "Invite leaders");
    has(&out, "Broadcast");
    assert!(!out.contains("Which unit do you live"), "{out}");
    assert_eq!(admin.row().await.state, State::Idle);
    has(
        &admin.press(Action::InviteLeaderHelp).await,
        "/invite_leader 794",
    );
    for out in [
        admin.say("/broadcast").await,
        admin.press(Action::BroadcastPick).await,
    ] {
        has(&out, "Which unit should get the broadcast");
        has(&out, "Tỉnh Long An (80)");
        assert!(!out.contains("your units: —"), "{out}");
    }
    let out = admin
        .press(Action::BroadcastTo(UnitCode::parse("80").expect("code")))
        .await;
    has(&out, "Message every member of Tỉnh Long An");
    assert_eq!(
        admin.row().await.state,
        State::BroadcastText {
            unit: UnitCode::parse("80").expect("code")
        }
    );
    // A citizen cannot use the broadcast buttons.
    let p = b.person("citizen", Some("en"));
    p.say("/start u_794").await;
    has(
        &p.press(Action::BroadcastTo(UnitCode::parse("80").expect("code")))
            .await,
        "not allowed",
    );
}

#[tokio::test]
async fn without_units_citizens_go_to_the_guide_and_admins_get_the_command() {
    let b = bench_with(false).await;
    let p = b.person("nounits", Some("en"));
    let out = p.say("/start").await;
    has(&out, "Hello!");
    has(&out, "Which kind of phone");
    assert!(!out.contains("Which unit"), "{out}");
    let out = p.say("Tan An").await;
    has(&out, "/help");
    assert!(!out.contains("No unit found"), "{out}");
    has(&p.press(Action::Phone(PhoneKind::Iphone)).await, APP_STORE);
    has(
        &p.press(Action::Installed).await,
        "Thank you for installing",
    );
    let admin = b.person("admin", Some("en"));
    let out = admin.say("/coverage").await;
    has(&out, "bluezone-bot units import --sample");
    has(&admin.say("/broadcast").await, "bluezone-bot units import");
}

#[tokio::test]
async fn members_of_a_unit_without_members_are_not_all_confirmed() {
    let b = bench().await;
    let admin = b.person("admin", Some("en"));
    let out = admin.say("/members 794").await;
    has(&out, "has no members yet");
    has(&out, "/invite 794");
    has(&out, "u_794");
    assert!(!out.contains("has confirmed"), "{out}");
    let p = b.person("member", Some("en"));
    p.say("/start u_794").await;
    has(&admin.say("/members 794").await, "have not confirmed yet");
    p.press(Action::Installed).await;
    has(&admin.say("/members 794").await, "Every member");
}

/// A log buffer for the start-up warning.
#[derive(Clone, Default)]
struct LogBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn serve_warns_with_the_command_to_run_when_no_units_are_imported() {
    for units in [false, true] {
        let b = bench_with(units).await;
        let logs = LogBuf::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        crate::startup::warn_if_no_units(b.store()).await;
        let text = logs.text();
        if units {
            assert!(!text.contains("no units"), "{text}");
        } else {
            assert!(text.contains("WARN"), "{text}");
            assert!(
                text.contains("bluezone-bot units import --sample"),
                "{text}"
            );
        }
    }
}
