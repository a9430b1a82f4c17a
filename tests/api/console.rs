//! `bluezone-bot chat`: pictures and files are saved where the person can open them, a link
//! button prints its link without sending anything, and typed control characters are harmless.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bluezone_bot::config::Settings;
use bluezone_bot::platform::console::Console;
use bluezone_bot::startup::App;
use tokio::io::{AsyncWriteExt, BufReader, DuplexStream};

use crate::helpers::{TestDb, WAIT};

/// A chat session over a pipe, with everything the console printed so far.
struct Session {
    input: DuplexStream,
    console: Console,
    printed: String,
}

impl Session {
    /// Reads what was printed until it contains `needle` (after `from`); what was new.
    async fn until(&mut self, from: usize, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.printed.push_str(&self.console.take_output());
            if self.printed[from..].contains(needle) {
                return self.printed[from..].to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in {:?}",
                &self.printed[from..]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `line` and waits for `needle`; what was printed since.
    async fn say(&mut self, line: &str, needle: &str) -> String {
        let from = self.printed.len();
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("typing");
        self.until(from, needle).await
    }
}

/// The path in a `[picture saved: …]` / `[file saved: …]` line.
fn saved_path(printed: &str, what: &str) -> PathBuf {
    let start = printed
        .find(&format!("[{what} saved: "))
        .unwrap_or_else(|| panic!("no saved {what} in {printed}"))
        + what.len()
        + 9;
    let end = start + printed[start..].find(']').expect("the closing bracket");
    PathBuf::from(&printed[start..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_saves_pictures_and_files_and_opens_links_without_sending() {
    let db = TestDb::new().await.expect("a database");
    let out = tempfile::tempdir().expect("an output folder");
    let out_dir = out.path().join("bluezone-out");
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url.clone()),
        ("BLUEZONE_ADMINS", "console:local".into()),
        ("BLUEZONE_REMINDER_MAX", "0".into()),
        ("BLUEZONE_DIGEST_AT", "off".into()),
    ]);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let app = App::build(settings).await.expect("the app");
    let store = app.store.clone();
    let console = Console::captured().saving_to(&out_dir);
    let (input, pipe) = tokio::io::duplex(4096);
    let chat = tokio::spawn(bluezone_bot::chat::run_with(
        app,
        BufReader::new(pipe),
        console.clone(),
    ));
    let mut s = Session {
        input,
        console,
        printed: String::new(),
    };
    s.until(0, "🤖").await;

    // A link button: its number prints the link and sends nothing to the bot.
    let phone = s.say("/guide", "Android").await;
    let android = phone
        .lines()
        .find_map(|l| {
            let (n, rest) = l.trim().strip_prefix('[')?.split_once(']')?;
            rest.contains("Android").then(|| n.to_string())
        })
        .expect("the Android button");
    let guide = s.say(&android, "play.google.com").await;
    let store_button = guide
        .lines()
        .flat_map(|l| l.split("  ["))
        .find_map(|b| {
            let (n, rest) = b.trim().trim_start_matches('[').split_once(']')?;
            rest.contains("<https://play.google.com")
                .then(|| n.to_string())
        })
        .expect("the store's link button");
    let outbox_before = store.outbox_depth().await.expect("depth");
    let opened = s
        .say(&store_button, "(open this link: https://play.google.com")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.printed.push_str(&s.console.take_output());
    let after = &s.printed[s.printed.len() - opened.len()..];
    assert!(!after.contains("🤖"), "the bot was sent something: {after}");
    assert_eq!(store.outbox_depth().await.expect("depth"), outbox_before);

    // A chart, a poster and an export are saved and their paths printed.
    let chart = s.say("/chart 794", "saved: ").await;
    let chart = saved_path(&chart, "picture");
    let poster = s.say("/invite 794", "saved: ").await;
    let poster = saved_path(&poster, "picture");
    assert_ne!(chart, poster, "one file each");
    for png in [&chart, &poster] {
        assert!(png.starts_with(&out_dir), "{}", png.display());
        let bytes = std::fs::read(png).expect("the picture was saved");
        assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
    }
    let export = s.say("/export 794", "saved: ").await;
    let export = saved_path(&export, "file");
    let bytes = std::fs::read(&export).expect("the export was saved");
    assert!(bytes.len() > 100, "{}", export.display());

    // Control characters typed in are dropped before the database sees them.
    let r = s.say("xin chào\u{0}\u{7}", "🤖").await;
    assert!(!r.contains("went wrong") && !r.contains("đã có lỗi"), "{r}");

    s.input.write_all(b"/quit\n").await.expect("typing");
    tokio::time::timeout(WAIT, chat)
        .await
        .expect("the chat ends")
        .expect("no panic")
        .expect("a clean end");
    db.drop_db().await;
}
