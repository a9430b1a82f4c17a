//! The terminal as a chat platform (`bluezone-bot chat`): lines typed become events, messages
//! are printed with numbered buttons, and typing a number presses that button. The same
//! degraded form serves platforms without buttons.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    Chat, ChatKind, Deliver, Delivered, DeliveryError, Event, Inbound, OutButton, Outgoing, Sender,
};
use crate::domain::{ChatAddress, Platform};

/// The console user's id.
pub const CONSOLE_USER: &str = "local";

/// The folder `bluezone-bot chat` saves pictures and files in unless told otherwise.
pub const DEFAULT_OUT_DIR: &str = "bluezone-out";

/// Prints messages and remembers the last buttons shown, so a number can press one.
#[derive(Clone, Default)]
pub struct Console {
    last_buttons: Arc<Mutex<Vec<OutButton>>>,
    out: Arc<Mutex<Vec<u8>>>,
    capture: bool,
    /// Where pictures and files are saved, so the person can open them; without it they
    /// are only described.
    out_dir: Option<PathBuf>,
}

impl Console {
    /// A console that prints to standard output.
    pub fn stdout() -> Console {
        Console::default()
    }

    /// A console that keeps what it prints, for tests.
    pub fn captured() -> Console {
        Console {
            capture: true,
            ..Console::default()
        }
    }

    /// The same console, saving pictures and files in `dir` (created when needed) and
    /// printing where.
    pub fn saving_to(mut self, dir: impl Into<PathBuf>) -> Console {
        self.out_dir = Some(dir.into());
        self
    }

    /// Saves `bytes` as `name` (a free variant of it) in the output folder; the path, or why
    /// not.
    fn save(&self, name: &str, bytes: &[u8]) -> Option<Result<PathBuf, String>> {
        let dir = self.out_dir.as_ref()?;
        Some(save_file(dir, name, bytes).map_err(|e| format!("{e:#}")))
    }

    /// What a captured console printed so far (and forgets it).
    pub fn take_output(&self) -> String {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&std::mem::take(&mut *out)).into_owned()
    }

    /// Turns a typed line into an event: `/cmd args` is a command, a number presses the
    /// button with that number, anything else is text. The number of a link button prints
    /// the link and sends nothing (`None`).
    pub fn line_to_inbound(&self, line: &str) -> Option<Inbound> {
        self.parse_line(line).map(Inbound::cleaned)
    }

    fn parse_line(&self, line: &str) -> Option<Inbound> {
        let line = line.trim();
        let event = if let Some(rest) = line.strip_prefix('/') {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Event::Command {
                name: name.to_lowercase(),
                args: args.trim().to_string(),
            }
        } else if let Some(button) = line
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| {
                self.last_buttons
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(i)
                    .cloned()
            })
        {
            match button {
                OutButton::Callback { data, .. } => Event::Button {
                    data,
                    callback_id: None,
                    message_id: None,
                },
                OutButton::Url { url, .. } => {
                    self.print(&format!("(open this link: {url})\n"));
                    return None;
                }
            }
        } else {
            Event::Text(line.to_string())
        };
        Some(Inbound {
            platform: Platform::Console,
            account: crate::domain::AccountId::of_platform(Platform::Console),
            sender: Sender {
                user_id: CONSOLE_USER.into(),
                private_chat_id: CONSOLE_USER.into(),
                display_name: "Console".into(),
                language_code: std::env::var("LANG")
                    .ok()
                    .map(|l| l.chars().take(2).collect()),
            },
            chat: Chat {
                id: CONSOLE_USER.into(),
                kind: ChatKind::Private,
            },
            event,
        })
    }

    fn print(&self, text: &str) {
        if self.capture {
            self.out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(text.as_bytes());
        } else {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
    }
}

/// Saves `bytes` in `dir` as `name` (only its last part), or as `name-2`, `name-3`… when
/// that exists; the path written.
pub fn save_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.starts_with('.'))
        .unwrap_or("file");
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 1..10_000 {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(bytes)
                    .with_context(|| format!("writing {}", candidate.display()))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("writing {}", candidate.display())),
        }
    }
    anyhow::bail!("{} holds too many files named {name}", dir.display())
}

/// [`format_message`] for a picture or file that was saved (or could not be): its path
/// first, so the person can open it.
fn format_saved(
    message: &Outgoing,
    place: &Result<PathBuf, String>,
    first_number: usize,
) -> (String, Vec<OutButton>) {
    let what = match message {
        Outgoing::Photo { .. } => "picture",
        Outgoing::Document { .. } => "file",
        _ => return format_message(message, first_number),
    };
    let head = match place {
        Ok(path) => format!("[{what} saved: {}]", path.display()),
        Err(e) => format!("[{what} not saved: {e}]"),
    };
    let (body, buttons) = format_message(message, first_number);
    // The description line is replaced by the path; the caption and buttons stay.
    let rest = body.split_once('\n').map(|(_, r)| r).unwrap_or("");
    (format!("{head}\n{rest}"), buttons)
}

/// Formats a message for the terminal: the text, then numbered buttons.
pub fn format_message(message: &Outgoing, first_number: usize) -> (String, Vec<OutButton>) {
    let mut text = String::new();
    match message {
        Outgoing::Photo { png, caption, .. } => {
            text.push_str(&format!("[picture, {} bytes]\n{caption}\n", png.len()));
        }
        Outgoing::SharedPhoto { caption, .. } => {
            text.push_str(&format!("[picture]\n{caption}\n"));
        }
        Outgoing::Document {
            filename,
            bytes,
            caption,
        } => {
            text.push_str(&format!(
                "[file {filename}, {} bytes]\n{caption}\n",
                bytes.len()
            ));
        }
        other => {
            text.push_str(other.body());
            text.push('\n');
        }
    }
    let mut buttons = Vec::new();
    for row in message.buttons() {
        let mut line = String::new();
        for b in row {
            let n = first_number + buttons.len();
            match b {
                OutButton::Callback { label, .. } => line.push_str(&format!("  [{n}] {label}")),
                OutButton::Url { label, url } => line.push_str(&format!("  [{n}] {label} <{url}>")),
            }
            buttons.push(b.clone());
        }
        text.push_str(&line);
        text.push('\n');
    }
    (text, buttons)
}

#[async_trait::async_trait]
impl Deliver for Console {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    async fn deliver(
        &self,
        _to: &ChatAddress,
        message: &Outgoing,
    ) -> Result<Delivered, DeliveryError> {
        if let Outgoing::AnswerCallback { text, .. } = message {
            if let Some(t) = text {
                self.print(&format!("  ({t})\n"));
            }
            return Ok(Delivered::default());
        }
        let saved = match message {
            Outgoing::Photo { png, .. } => self.save("picture.png", png),
            Outgoing::Document {
                filename, bytes, ..
            } => self.save(filename, bytes),
            _ => None,
        };
        let (text, buttons) = match saved {
            Some(place) => format_saved(message, &place, 1),
            None => format_message(message, 1),
        };
        if !buttons.is_empty() {
            *self.last_buttons.lock().unwrap_or_else(|e| e.into_inner()) = buttons;
        }
        self.print(&format!("\n🤖 {text}"));
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_files_never_overwrite_and_stay_in_the_folder() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        let a = save_file(&out, "report.xlsx", b"one")?;
        let b = save_file(&out, "report.xlsx", b"two")?;
        let c = save_file(&out, "../../escape.csv", b"three")?;
        assert_eq!(a, out.join("report.xlsx"));
        assert_eq!(b, out.join("report-2.xlsx"));
        assert_eq!(c, out.join("escape.csv"));
        assert_eq!(std::fs::read(&a)?, b"one");
        assert_eq!(std::fs::read(&b)?, b"two");
        Ok(())
    }
}
