//! The command line: parse, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use bluezone_bot::config::Settings;
use bluezone_bot::domain::{Platform, UnitCode};
use bluezone_bot::platform::console::CONSOLE_USER;
use bluezone_bot::startup::{App, stop_signal};
use bluezone_bot::{chat, telemetry, units_csv};

/// mimalloc instead of glibc's malloc: the inbound path allocates many small, short-lived
/// buffers on several threads (see the README's "Inbound speed").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A chat-bot for a contact-tracing app installation campaign.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot on every configured account (the accounts file, or Telegram when
    /// TELOXIDE_TOKEN is set).
    Serve,
    /// Talk to the bot in this terminal as a citizen; no token needed.
    Chat {
        /// Be an administrator in this chat (adds console:local to BLUEZONE_ADMINS).
        #[arg(long)]
        admin: bool,
        /// Where pictures and files the bot sends (charts, posters, exports) are saved.
        #[arg(long, value_name = "DIR", default_value = bluezone_bot::platform::console::DEFAULT_OUT_DIR)]
        out: std::path::PathBuf,
    },
    /// Administrative units.
    Units {
        #[command(subcommand)]
        command: UnitsCommand,
    },
    /// The configured accounts (Telegram bots, Zalo OAs, Messenger Pages).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Check the installation: settings, database, migrations, units, and each account's
    /// credentials and webhook; one line per check, non-zero exit when any fails.
    Doctor,
    /// Coverage figures of a unit and every unit below it (or of all units): code, unit,
    /// level, population, members, confirmed, verified, reported, coverage %, target, gap.
    Report {
        /// The unit's code; every unit when omitted.
        #[arg(long)]
        unit: Option<String>,
        /// xlsx, csv or text.
        #[arg(long, default_value = "text")]
        format: String,
        /// The file to write (standard output when omitted; required for xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The language of headers and level names: vi or en.
        #[arg(long, default_value = "vi")]
        lang: String,
        /// Write today's snapshot first (the daily history then ends today).
        #[arg(long)]
        snapshot: bool,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Each account: its platform, root unit, whether its credentials work (getMe or a token
    /// check) and its webhook. No secret is printed.
    List,
}

#[derive(Subcommand)]
enum UnitsCommand {
    /// Import units from a CSV file (code,name,parent_code,level[,population]). All or nothing.
    Import {
        /// The CSV file.
        file: Option<PathBuf>,
        /// Import the bundled Long An sample instead of a file.
        #[arg(long, conflicts_with = "file")]
        sample: bool,
    },
    /// List units, or the subtree under one unit.
    List {
        /// Only this unit and the units below it.
        #[arg(long)]
        under: Option<String>,
    },
    /// Recount every unit's counters from the people table (a repair tool).
    Recount,
    /// Set a unit's own target, overriding the campaign's: a percentage (`70`, `70%`) or a
    /// fraction (`0.7`); `default` goes back to the campaign's target.
    Target {
        /// The unit's code.
        code: String,
        /// The target.
        target: String,
    },
}

/// Reads a target: `default`, a percentage (`70`, `70%`) or a fraction (`0.7`), above 0 and
/// at most 100%.
fn parse_target(text: &str) -> anyhow::Result<Option<f64>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    let number = t.trim_end_matches('%').trim().replace(',', ".");
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("target {t:?}: give a percentage such as 70% or `default`"))?;
    let fraction = if t.ends_with('%') || value > 1.0 {
        value / 100.0
    } else {
        value
    };
    if !(fraction > 0.0 && fraction <= 1.0) {
        anyhow::bail!("target {t:?}: must be above 0% and at most 100%");
    }
    Ok(Some(fraction))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(match cli.command {
        Command::Chat { .. } | Command::Doctor => "warn",
        _ => "info",
    });
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `bluezone-bot doctor`: prints each check as it is known; an error when any failed.
async fn doctor(settings: Result<Settings>) -> Result<()> {
    let checks = bluezone_bot::doctor::run(settings, &mut |c| println!("{c}")).await;
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} checks failed", checks.len());
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let mut settings = match (&cli.command, Settings::from_env()) {
        // Settings that do not parse are the doctor's first finding, not an early exit.
        (Command::Doctor, settings) => return doctor(settings).await,
        (_, settings) => settings?,
    };
    match cli.command {
        Command::Serve => {
            let app = App::build(settings).await?;
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                stop_signal().await;
                trigger.cancel();
            });
            app.run_until_stopped(shutdown).await
        }
        Command::Chat { admin, out } => {
            if admin {
                settings
                    .admins
                    .push((Platform::Console, CONSOLE_USER.to_string()));
            }
            chat::run(App::build(settings).await?, &out).await
        }
        Command::Units { command } => {
            let app = App::build(settings).await?;
            match command {
                UnitsCommand::Import { file, sample } => {
                    let summary = match (file, sample) {
                        (Some(path), _) => {
                            units_csv::check_exists(&path)?;
                            units_csv::import_file(&app.store, &path).await?
                        }
                        (None, true) => {
                            units_csv::import_text(
                                &app.store,
                                "long_an_2020.csv",
                                bluezone_bot::startup::SAMPLE_UNITS,
                            )
                            .await?
                        }
                        (None, false) => anyhow::bail!("name a CSV file, or pass --sample"),
                    };
                    println!(
                        "{} units added, {} updated",
                        summary.inserted, summary.updated
                    );
                }
                UnitsCommand::List { under } => {
                    // A code that cannot be a unit's lists nothing, like a missing unit.
                    let units = match under.as_deref().map(UnitCode::parse) {
                        Some(Ok(code)) => app.store.subtree(Some(&code)).await?,
                        Some(Err(_)) => Vec::new(),
                        None => app.store.subtree(None).await?,
                    };
                    if units.is_empty() {
                        anyhow::bail!("no units (import some with `units import`)");
                    }
                    for u in units {
                        let indent = "  ".repeat(u.depth.max(0) as usize);
                        let pop = u
                            .population
                            .map(|p| format!("  pop. {p}"))
                            .unwrap_or_default();
                        println!("{indent}{}  {}  [{}]{pop}", u.code, u.name, u.kind);
                    }
                }
                UnitsCommand::Recount => {
                    app.store.recount_units().await?;
                    println!("counters rebuilt");
                }
                UnitsCommand::Target { code, target } => {
                    let target = parse_target(&target)?;
                    let known = match UnitCode::parse(&code) {
                        Ok(unit) => app.store.set_unit_target(&unit, target).await?,
                        Err(_) => false,
                    };
                    if !known {
                        anyhow::bail!("unknown unit {code:?}");
                    }
                    match target {
                        Some(t) => println!("target of {code} set to {:.1}%", t * 100.0),
                        None => println!("{code} follows the campaign's target again"),
                    }
                }
            }
            app.store.close().await;
            Ok(())
        }
        Command::Report {
            unit,
            format,
            out,
            lang,
            snapshot,
        } => {
            let app = App::build(settings).await?;
            let done = bluezone_bot::coverage::cli::report(
                &app.store,
                &app.settings,
                unit.as_deref(),
                &format,
                out.as_deref(),
                &lang,
                snapshot,
            )
            .await;
            app.store.close().await;
            done
        }
        Command::Doctor => doctor(Ok(settings)).await,
        Command::Accounts {
            command: AccountsCommand::List,
        } => {
            let app = App::build(settings).await?;
            let lines = bluezone_bot::accounts::list(&app.store, &app.settings).await;
            app.store.close().await;
            if lines.is_empty() {
                anyhow::bail!(
                    "no account is configured: set BLUEZONE_ACCOUNTS_FILE, or TELOXIDE_TOKEN, MESSENGER_PAGE_ACCESS_TOKEN or ZALO_APP_ID"
                );
            }
            print!("{}", bluezone_bot::accounts::table(&lines));
            Ok(())
        }
        Command::Migrate => {
            let app = App::build(settings).await?;
            app.store.close().await;
            println!("migrations applied");
            Ok(())
        }
    }
}
