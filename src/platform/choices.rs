//! Numbered choices for platforms whose buttons do not fit (or do not exist): the buttons of
//! the last message a chat got are remembered in the database, the message shows them as
//! `[1] label` lines (the console's form; a guide's own numbered steps stay distinct), and a reply that is a bare number, or exactly a button's label (Zalo
//! sends a tapped `oa.query.show` button back as its text), or a label shortened the way a
//! platform shows it (`Xã Tân Hòa (Huyện T…`) when only one button fits it, presses that button. Kept in the
//! database so it survives restarts and works with several replicas.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{Event, OutButton};
use crate::domain::fold;
use crate::store::Store;

/// One remembered button: its label and its callback data (none for a link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Choice {
    label: String,
    data: Option<String>,
}

/// The key of a chat's choices: per account (`choices.<account>.<chat>`; the single account
/// of a platform is named after it, so keys stored before accounts files still match).
fn key(account: &str, chat_id: &str) -> String {
    format!("choices.{account}.{chat_id}")
}

/// The buttons of a message in reading order (row by row).
pub fn flatten(buttons: &[Vec<OutButton>]) -> Vec<OutButton> {
    buttons.iter().flatten().cloned().collect()
}

/// Button sets remembered per chat: numbers press the newest set's buttons; a label (a Zalo
/// tap) may also press a button of one of the few sets before it, since a tap can come from
/// an older message still on screen.
const SETS_KEPT: usize = 4;

/// Remembers `buttons` as the chat's current choices (a message without buttons keeps the
/// previous ones: a text that follows a menu does not make the menu unusable).
pub async fn remember(
    store: &Store,
    account: &str,
    chat_id: &str,
    buttons: &[OutButton],
) -> Result<()> {
    if buttons.is_empty() {
        return Ok(());
    }
    let choices: Vec<Choice> = buttons
        .iter()
        .map(|b| match b {
            OutButton::Callback { label, data } => Choice {
                label: label.clone(),
                data: Some(data.clone()),
            },
            OutButton::Url { label, .. } => Choice {
                label: label.clone(),
                data: None,
            },
        })
        .collect();
    let key = key(account, chat_id);
    let mut sets = load(store, &key).await?;
    sets.insert(0, choices);
    sets.truncate(SETS_KEPT);
    store.kv_set(&key, &serde_json::to_string(&sets)?).await
}

/// The remembered sets, newest first (unreadable memory is forgotten).
async fn load(store: &Store, key: &str) -> Result<Vec<Vec<Choice>>> {
    Ok(store
        .kv_get(key)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Turns `text` into a button press when it is a bare number of a remembered button, or a
/// remembered button's label; `None` otherwise.
pub async fn resolve(
    store: &Store,
    account: &str,
    chat_id: &str,
    text: &str,
) -> Result<Option<Event>> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Ok(None);
    }
    let sets = load(store, &key(account, chat_id)).await?;
    let chosen = match text.parse::<usize>() {
        Ok(n) => n
            .checked_sub(1)
            .and_then(|i| sets.first().and_then(|newest| newest.get(i))),
        Err(_) => {
            let folded = fold(text);
            sets.iter()
                .flatten()
                .find(|c| c.data.is_some() && fold(&c.label) == folded)
                .or_else(|| shortened(&sets, text))
        }
    };
    Ok(chosen
        .and_then(|c| c.data.clone())
        .map(|data| Event::Button {
            data,
            callback_id: None,
            message_id: None,
        }))
}

/// The one button whose label `text` shortens (`Xã Tân Hòa (Huyện T…`: a label as a
/// platform showed it cut, typed back), looked for in the newest set that has a match; `None`
/// when the text is no shortened label or the shortened label fits two different buttons.
fn shortened<'a>(sets: &'a [Vec<Choice>], text: &str) -> Option<&'a Choice> {
    let stem = text
        .strip_suffix('…')
        .or_else(|| text.strip_suffix("..."))?
        .trim_end();
    if stem.chars().count() < 3 {
        return None;
    }
    let stem = fold(stem);
    for set in sets {
        let mut found = set
            .iter()
            .filter(|c| c.data.is_some() && fold(&c.label).starts_with(&stem));
        if let Some(first) = found.next() {
            return found.all(|c| c.data == first.data).then_some(first);
        }
    }
    None
}

/// `text` followed by the buttons as numbered lines (`[1] label`, links with their address),
/// for platforms where the buttons do not fit.
pub fn numbered_text(text: &str, buttons: &[OutButton]) -> String {
    let mut out = text.trim_end().to_string();
    if buttons.is_empty() {
        return out;
    }
    out.push('\n');
    for (i, b) in buttons.iter().enumerate() {
        match b {
            OutButton::Callback { label, .. } => out.push_str(&format!("\n[{}] {label}", i + 1)),
            OutButton::Url { label, url } => {
                out.push_str(&format!("\n[{}] {label}: {url}", i + 1));
            }
        }
    }
    out
}

/// Cuts `text` into pieces of at most `max` characters, at line boundaries where possible
/// (then at spaces, then anywhere).
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > max {
        let cut_byte = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let head = &rest[..cut_byte];
        let at = head
            .rfind('\n')
            .filter(|&i| i > 0)
            .or_else(|| head.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(cut_byte);
        parts.push(rest[..at].trim_end().to_string());
        rest = rest[at..].trim_start_matches(['\n', ' ']);
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

/// `/cmd args` is a command; anything else is text.
pub fn text_event(text: &str) -> Event {
    let line = text.trim();
    match line.strip_prefix('/') {
        Some(rest) if !rest.is_empty() => {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Event::Command {
                name: name.to_lowercase(),
                args: args.trim().to_string(),
            }
        }
        _ => Event::Text(line.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_lines_and_keeps_every_character() {
        let text = format!(
            "{}\n{}\n{}",
            "a".repeat(1500),
            "b".repeat(1500),
            "c".repeat(10)
        );
        let parts = split_text(&text, 2000);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "a".repeat(1500));
        assert!(parts[1].starts_with('b'));
        assert!(parts.iter().all(|p| p.chars().count() <= 2000));
        let long = "đ".repeat(4500);
        let parts = split_text(&long, 2000);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), long);
        assert_eq!(split_text("short", 2000), vec!["short".to_string()]);
    }

    #[test]
    fn numbered_lines_follow_the_text() {
        let b = vec![
            OutButton::Callback {
                label: "Android".into(),
                data: "p:a".into(),
            },
            OutButton::Url {
                label: "Store".into(),
                url: "https://x".into(),
            },
        ];
        assert_eq!(
            numbered_text("Pick", &b),
            "Pick\n\n[1] Android\n[2] Store: https://x"
        );
    }
}
