//! `bluezone-bot chat`: the bot in the terminal, through the same engine and outbox as every
//! other platform. Loads the bundled sample units on first run so the journey works at once.
//! Pictures and files (charts, posters, exports) are saved in a folder and their paths
//! printed, so they can be opened.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use crate::domain::Platform;
use crate::outbox::Worker;
use crate::platform::console::{CONSOLE_USER, Console};
use crate::platform::inbox::{Inbox, Source};
use crate::startup::{App, SAMPLE_UNITS};

/// Runs the console chat on standard input until end of input or `/quit`, saving pictures
/// and files in `out_dir`.
pub async fn run(app: App, out_dir: &Path) -> Result<()> {
    let console = Console::stdout().saving_to(out_dir);
    eprintln!(
        "(pictures and files are saved in {}{})",
        out_dir.display(),
        std::path::MAIN_SEPARATOR
    );
    run_with(app, BufReader::new(tokio::io::stdin()), console).await
}

/// The console chat over `input`, printing through `console` (tests pass a captured one).
pub async fn run_with(app: App, input: impl AsyncBufRead + Unpin, console: Console) -> Result<()> {
    if app.store.unit_count().await? == 0 {
        let summary =
            crate::units_csv::import_text(&app.store, "long_an_2020.csv", SAMPLE_UNITS).await?;
        eprintln!(
            "(loaded {} sample units of Long An; import your own with `bluezone-bot units import FILE.csv`)",
            summary.inserted
        );
    }
    let worker = Worker::new(
        app.store.clone(),
        Arc::new(console.clone()),
        app.outbox_ready.clone(),
    );
    if app
        .engine
        .is_admin("console", Platform::Console, CONSOLE_USER)
    {
        eprintln!("(you are an administrator in this chat)");
    }
    eprintln!("(type a message, a /command, or the number of a button; /quit or Ctrl-D ends)");
    // The console resolves a typed number itself and knows its one person's name.
    let inbox = Inbox::new(app.engine.clone());
    let source = Source::default();
    let mut lines = input.lines();
    let mut first = Some("/start".to_string());
    loop {
        let line = match first.take() {
            Some(l) => l,
            None => {
                eprint!("> ");
                match lines.next_line().await? {
                    Some(l) => l,
                    None => break,
                }
            }
        };
        if line.trim() == "/quit" {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        // The number of a link button only prints the link.
        let Some(inbound) = console.line_to_inbound(&line) else {
            continue;
        };
        inbox.take(&source, inbound).await?;
        while worker.try_execute_batch().await?.claimed > 0 {}
    }
    app.store.close().await;
    Ok(())
}
