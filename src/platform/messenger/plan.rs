//! How Messenger shows a text with buttons: a button template (at most 3 buttons), quick
//! replies (at most 13) or numbered lines, with labels that do not fit a title numbered in
//! full in the message.

use serde_json::{Value, json};

use crate::platform::OutButton;
use crate::platform::choices::{numbered_text, split_text};

/// The longest text message.
pub(super) const MAX_TEXT: usize = 2000;
/// The longest text of a button template.
const MAX_TEMPLATE_TEXT: usize = 640;
/// Buttons in a button template.
const MAX_TEMPLATE_BUTTONS: usize = 3;
/// Quick replies on one message.
pub(super) const MAX_QUICK_REPLIES: usize = 13;
/// The longest button or quick-reply title.
pub(super) const MAX_TITLE: usize = 20;

/// The Send API message objects for a text with buttons, in order.
///
/// A label that fits a title (20 characters) stays on its button. One that does not is never
/// cut: its button (or quick reply) shows its number, and the message lists it in full as
/// `[n] label`, so "Xã Tân Hòa (Huyện Tân Thạnh)" and "Xã Tân Hòa (Huyện Bến Lức)" stay
/// distinct. Typing the number, the full label or a shortened label presses it too
/// ([`crate::platform::choices::resolve`]).
pub(crate) fn plan(text: &str, buttons: &[OutButton]) -> Vec<Value> {
    let text = if text.trim().is_empty() { "…" } else { text };
    let all_callbacks = buttons
        .iter()
        .all(|b| matches!(b, OutButton::Callback { .. }));
    let mut parts = split_text(text, MAX_TEXT);
    let last = parts.pop().unwrap_or_default();
    let mut out: Vec<Value> = parts.into_iter().map(|p| json!({"text": p})).collect();
    if buttons.is_empty() {
        out.push(json!({"text": last}));
        return out;
    }
    let with_long = numbered_long_labels(&last, buttons);
    if buttons.len() <= MAX_TEMPLATE_BUTTONS && with_long.chars().count() <= MAX_TEMPLATE_TEXT {
        let bs: Vec<Value> = buttons
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                OutButton::Callback { label, data } => {
                    json!({"type": "postback", "title": title(i, label), "payload": data})
                }
                OutButton::Url { label, url } => {
                    json!({"type": "web_url", "title": title(i, label), "url": url})
                }
            })
            .collect();
        out.push(json!({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": with_long, "buttons": bs}}}));
    } else if all_callbacks
        && buttons.len() <= MAX_QUICK_REPLIES
        && with_long.chars().count() <= MAX_TEXT
    {
        let qs: Vec<Value> = buttons
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match b {
                OutButton::Callback { label, data } => {
                    Some(json!({"content_type": "text", "title": title(i, label), "payload": data}))
                }
                OutButton::Url { .. } => None,
            })
            .collect();
        out.push(json!({"text": with_long, "quick_replies": qs}));
    } else {
        // Too many or mixed: numbered lines, answered by typing the number.
        for p in split_text(&numbered_text(&last, buttons), MAX_TEXT) {
            out.push(json!({"text": p}));
        }
    }
    out
}

/// Whether `label` fits a button or quick-reply title as it is.
fn fits(label: &str) -> bool {
    label.chars().count() <= MAX_TITLE
}

/// The title of the button at `index`: its label when it fits, else its number.
fn title(index: usize, label: &str) -> String {
    if fits(label) {
        label.to_string()
    } else {
        (index + 1).to_string()
    }
}

/// `text` followed by the buttons whose labels do not fit, as `[n] label` lines (numbered
/// by their place among all the buttons, as their titles are).
fn numbered_long_labels(text: &str, buttons: &[OutButton]) -> String {
    let mut out = text.trim_end().to_string();
    let long: Vec<(usize, &str)> = buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| !fits(b.label()))
        .map(|(i, b)| (i + 1, b.label()))
        .collect();
    if !long.is_empty() {
        out.push('\n');
        for (n, label) in long {
            out.push_str(&format!("\n[{n}] {label}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(label: &str) -> OutButton {
        OutButton::Callback {
            label: label.into(),
            data: format!("d:{label}"),
        }
    }

    #[test]
    fn buttons_pick_the_form_that_fits() {
        let p = plan("Hi", &[cb("A"), cb("B")]);
        assert_eq!(p[0]["attachment"]["payload"]["template_type"], "button");
        assert_eq!(
            p[0]["attachment"]["payload"]["buttons"][1]["payload"],
            "d:B"
        );
        let five: Vec<OutButton> = (0..5).map(|i| cb(&format!("Opt {i}"))).collect();
        let p = plan("Hi", &five);
        assert_eq!(p[0]["quick_replies"].as_array().map(Vec::len), Some(5));
        let twenty: Vec<OutButton> = (0..20).map(|i| cb(&format!("Opt {i}"))).collect();
        let p = plan("Hi", &twenty);
        let text = p[0]["text"].as_str().unwrap_or("");
        assert!(text.contains("\n[20] Opt 19"), "{text}");
        let long = vec![cb("A very long unit name that does not fit"); 4];
        let p = plan("Hi", &long);
        assert!(
            p[0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("[4] A very long unit name that does not fit")
        );
        let titles: Vec<&str> = p[0]["quick_replies"]
            .as_array()
            .map(|q| q.iter().filter_map(|r| r["title"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(titles, ["1", "2", "3", "4"]);
    }

    #[test]
    fn long_labels_are_numbered_never_cut() {
        let p = plan(
            "Which one?",
            &[
                cb("Xã Tân Hòa (Huyện Tân Thạnh)"),
                cb("Xã Tân Hòa (Huyện Bến Lức)"),
                cb("Other"),
            ],
        );
        let payload = &p[0]["attachment"]["payload"];
        assert_eq!(
            payload["text"],
            "Which one?\n\n[1] Xã Tân Hòa (Huyện Tân Thạnh)\n[2] Xã Tân Hòa (Huyện Bến Lức)"
        );
        let titles: Vec<&str> = payload["buttons"]
            .as_array()
            .map(|b| b.iter().filter_map(|x| x["title"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(titles, ["1", "2", "Other"]);
        assert!(!serde_json::to_string(&p).unwrap_or_default().contains('…'));
    }
}
