//! Broadcast progress: the one message a leader watches (edited at most every few seconds)
//! and the final summary.

use crate::clock::Millis;
use crate::i18n::Msg;
use crate::outbox::keys::*;
use crate::store::Broadcast;

/// `mm:ss` (or `h:mm:ss`).
fn duration_text(ms: Millis) -> String {
    let s = (ms.max(0) + 999) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The progress line: sent/total, failed, percentage and estimated time left.
pub fn progress_msg(b: &Broadcast, now: Millis) -> Msg {
    let done = b.done();
    let total = b.total.max(0);
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
    Msg::new(&BC_PROGRESS)
        .arg("id", b.id)
        .arg("sent", b.sent)
        .arg("total", total)
        .arg("failed", b.failed + b.unreachable)
        .arg("percent", percent)
        .arg("eta", duration_text(eta))
}

/// The summary at the end.
pub fn summary_msg(b: &Broadcast) -> Msg {
    let key = if b.status == "cancelling" || b.status == "cancelled" {
        &BC_SUMMARY_STOPPED
    } else {
        &BC_SUMMARY
    };
    Msg::new(key)
        .arg("id", b.id)
        .arg("sent", b.sent)
        .arg("total", b.total)
        .arg("failed", b.failed)
        .arg("unreachable", b.unreachable)
        .arg("cancelled", b.cancelled)
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_text(0), "0:00");
        assert_eq!(duration_text(61_000), "1:01");
        assert_eq!(duration_text(3_723_000), "1:02:03");
    }
}
