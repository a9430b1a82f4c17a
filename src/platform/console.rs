//! The terminal as a chat platform (`bluezone-bot chat`): lines typed become events, messages
//! are printed with numbered buttons, and typing a number presses that button. The same
//! degraded form serves platforms without buttons.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::{
    Chat, ChatKind, Deliver, Delivered, DeliveryError, Event, Inbound, OutButton, Outgoing, Sender,
};
use crate::domain::{ChatAddress, Platform};

/// The console user's id.
pub const CONSOLE_USER: &str = "local";

/// Prints messages and remembers the last buttons shown, so a number can press one.
#[derive(Clone, Default)]
pub struct Console {
    last_buttons: Arc<Mutex<Vec<OutButton>>>,
    out: Arc<Mutex<Vec<u8>>>,
    capture: bool,
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

    /// What a captured console printed so far (and forgets it).
    pub fn take_output(&self) -> String {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&std::mem::take(&mut *out)).into_owned()
    }

    /// Turns a typed line into an event: `/cmd args` is a command, a number presses the
    /// button with that number, anything else is text.
    pub fn line_to_inbound(&self, line: &str) -> Inbound {
        self.parse_line(line).cleaned()
    }

    fn parse_line(&self, line: &str) -> Inbound {
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
                    self.print(&format!("(opens {url})\n"));
                    Event::Text(String::new())
                }
            }
        } else {
            Event::Text(line.to_string())
        };
        Inbound {
            platform: Platform::Console,
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
        }
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
        let (text, buttons) = format_message(message, 1);
        if !buttons.is_empty() {
            *self.last_buttons.lock().unwrap_or_else(|e| e.into_inner()) = buttons;
        }
        self.print(&format!("\n🤖 {text}"));
        Ok(Delivered::default())
    }
}
