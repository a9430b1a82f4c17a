//! Broadcast status for its author: the queued note, the progress line (edited at most every
//! few seconds) and the final summary. Where the platform edits messages, one message carries
//! the broadcast through its life and each of these replaces the last, under a head naming
//! the message; elsewhere the queued note and the summary are separate messages.
//!
//! Outcomes are told in classes a leader can act on (delivered; skipped: outside the
//! platform's window; unreachable: blocked or left; failed after retries; not sent because it
//! was stopped). The platforms' own error texts stay in the log and the outbox rows.

use super::keys::*;
use crate::clock::Millis;
use crate::domain::Locale;
use crate::i18n::{Msg, render};
use crate::platform::Outgoing;
use crate::store::Broadcast;

/// Where a broadcast is in its life, for [`status_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Just confirmed and queued.
    Queued,
    /// Being sent (or being stopped).
    Running,
    /// Every recipient handled: the summary.
    Finished,
}

/// `mm:ss` (or `h:mm:ss`).
fn duration_text(ms: Millis) -> String {
    let s = (ms.max(0) + 999) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Whether the broadcast was stopped by its author (or an administrator).
fn stopped(b: &Broadcast) -> bool {
    b.status == "cancelling" || b.status == "cancelled"
}

/// The head of the one message that carries a broadcast: which message, to which unit, and
/// its text (a photo is shown above it, so only named).
pub fn head_msg(b: &Broadcast, unit: &str) -> Msg {
    let photo = matches!(
        serde_json::from_str::<Outgoing>(&b.payload),
        Ok(Outgoing::SharedPhoto { .. })
    );
    let key = if photo { &BC_HEAD_PHOTO } else { &BC_HEAD };
    Msg::new(key)
        .arg("id", b.id)
        .arg("unit", unit)
        .arg("text", b.text.as_str())
}

/// The outcome classes other than delivered that happened, each as a short phrase with its
/// count (billed and what it cost, skipped, unreachable, failed, not sent, not queued because
/// blocked or opted out), in `locale`.
pub fn class_phrases(locale: Locale, b: &Broadcast) -> Vec<String> {
    let mut out = Vec::new();
    if b.billed > 0 {
        out.push(render(
            locale,
            &Msg::new(&BC_N_BILLED)
                .arg("count", b.billed)
                .arg("cost", crate::reach::estimate::vnd(b.billed_cost, locale)),
        ));
    }
    out.extend(
        [
            (&BC_N_SKIPPED, b.skipped),
            (&BC_N_UNREACHABLE, b.unreachable),
            (&BC_N_FAILED, b.failed),
            (&BC_N_CANCELLED, b.cancelled),
            (&BC_N_EXCLUDED, b.excluded),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(key, n)| render(locale, &Msg::new(key).arg("count", n))),
    );
    out
}

/// The progress line: delivered/total, the share handled, the other classes so far and the
/// estimated time left; while stopping, what will not be sent.
pub fn progress_text(locale: Locale, b: &Broadcast, now: Millis) -> String {
    let done = b.done();
    let total = b.total.max(0);
    if stopped(b) {
        let msg = Msg::new(&BC_PROGRESS_STOPPING)
            .arg("id", b.id)
            .arg("sent", b.sent)
            .arg("total", total)
            .arg("left", (total - b.sent).max(0));
        return render(locale, &msg);
    }
    let percent = if total > 0 { done * 100 / total } else { 100 };
    let elapsed = now - b.queued_at.unwrap_or(now);
    let eta = if done > 0 && total > done {
        elapsed * (total - done) / done
    } else if total > done {
        // Nothing measured yet: Telegram's 30 messages a second.
        (total - done) * 1000 / 30
    } else {
        0
    };
    let classes = class_phrases(locale, b)
        .into_iter()
        .map(|c| format!("; {c}"))
        .collect::<String>();
    let msg = Msg::new(&BC_PROGRESS)
        .arg("id", b.id)
        .arg("sent", b.sent)
        .arg("total", total)
        .arg("percent", percent)
        .arg("classes", classes)
        .arg("eta", duration_text(eta));
    render(locale, &msg)
}

/// The summary at the end: delivered out of all, then one line per other class that happened.
pub fn summary_text(locale: Locale, b: &Broadcast) -> String {
    let key = if stopped(b) {
        &BC_SUMMARY_STOPPED
    } else {
        &BC_SUMMARY
    };
    let head = Msg::new(key)
        .arg("id", b.id)
        .arg("sent", b.sent)
        .arg("total", b.total);
    let mut lines = vec![render(locale, &head)];
    lines.extend(
        class_phrases(locale, b)
            .into_iter()
            .map(|c| format!("• {c}")),
    );
    lines.join("\n")
}

/// What the author reads about a broadcast at `stage`. `in_place` when the text replaces the
/// preview (the platform edits messages): it then repeats the head naming the message.
pub fn status_text(
    locale: Locale,
    b: &Broadcast,
    unit: &str,
    now: Millis,
    stage: Stage,
    in_place: bool,
) -> String {
    let mut paragraphs = Vec::new();
    if in_place {
        paragraphs.push(render(locale, &head_msg(b, unit)));
    }
    paragraphs.push(match stage {
        Stage::Queued => {
            let key = if in_place {
                &BC_QUEUED
            } else {
                &BC_QUEUED_SEPARATE
            };
            render(locale, &Msg::new(key).arg("id", b.id).arg("count", b.total))
        }
        Stage::Running => progress_text(locale, b, now),
        Stage::Finished => summary_text(locale, b),
    });
    paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broadcast() -> Broadcast {
        Broadcast {
            id: 7,
            author_id: 1,
            author: "telegram:1".into(),
            unit_code: crate::domain::UnitCode::parse("794").expect("code"),
            audience: "all".into(),
            text: "Họp tổ".into(),
            payload: serde_json::to_string(&Outgoing::text("Họp tổ")).unwrap_or_default(),
            status: "running".into(),
            total: 51,
            sent: 0,
            failed: 0,
            unreachable: 0,
            cancelled: 0,
            skipped: 0,
            progress_outbox_id: None,
            last_progress_at: 0,
            last_progress_done: -1,
            created_at: 0,
            queued_at: Some(0),
            finished_at: None,
            billed: 0,
            billed_cost: 0,
            excluded: 0,
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_text(0), "0:00");
        assert_eq!(duration_text(61_000), "1:01");
        assert_eq!(duration_text(3_723_000), "1:02:03");
    }

    #[test]
    fn outcomes_are_told_in_classes_and_skipped_is_not_an_error() {
        let mut b = broadcast();
        b.total = 5;
        b.sent = 2;
        b.skipped = 1;
        b.unreachable = 1;
        b.failed = 1;
        b.status = "done".into();
        let en = summary_text(Locale::En, &b);
        assert!(en.contains("2/5 delivered"), "{en}");
        assert!(en.contains("1 skipped"), "{en}");
        assert!(en.contains("1 unreachable"), "{en}");
        assert!(en.contains("1 failed after retries"), "{en}");
        assert!(!en.contains("not sent"), "nothing was stopped: {en}");
        let vi = summary_text(Locale::Vi, &b);
        assert!(vi.contains("2/5"), "{vi}");
        assert!(vi.contains("1 gửi lỗi"), "{vi}");
        assert!(
            !vi.contains("2 lỗi"),
            "skipped is not counted as failed: {vi}"
        );
        assert!(vi.contains("1 bị bỏ qua"), "{vi}");
    }

    #[test]
    fn a_stopped_broadcast_tells_what_was_not_sent() {
        let mut b = broadcast();
        b.sent = 13;
        b.cancelled = 38;
        b.status = "cancelling".into();
        let line = progress_text(Locale::En, &b, 1_000);
        assert!(!line.contains("100%"), "{line}");
        assert!(line.contains("13/51"), "{line}");
        assert!(line.contains("38"), "{line}");
        b.status = "cancelled".into();
        let summary = summary_text(Locale::En, &b);
        assert!(summary.contains("13/51"), "{summary}");
        assert!(summary.contains("38 not sent"), "{summary}");
    }
}
