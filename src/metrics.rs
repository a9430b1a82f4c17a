//! Prometheus counters for `/metrics`, kept in memory and written out by hand in the text
//! exposition format: messages in per platform and kind, messages out per platform and
//! status, send latency as a histogram, and the outbox depth (read from the database at
//! scrape time, so every replica reports the shared queue).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::domain::Platform;
use crate::platform::Event;

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    /// Cumulative counts per bucket bound, then +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

#[derive(Default)]
struct Registry {
    inbound: BTreeMap<(&'static str, String), u64>,
    outbound: BTreeMap<(&'static str, String), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    webhooks_refused: BTreeMap<&'static str, u64>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| Mutex::new(Registry::default()));

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut r)
}

/// Counts one inbound event of `kind` (text, command, button, follow …).
pub fn record_inbound(platform: Platform, kind: &str) {
    with(|r| {
        *r.inbound
            .entry((platform.as_str(), kind.to_string()))
            .or_default() += 1
    });
}

/// The label of an event in `bluezone_messages_in_total`.
pub fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Text(_) => "text",
        Event::Command { .. } => "command",
        Event::Button { .. } => "button",
        Event::Photo { .. } => "photo",
        Event::Unsupported => "unsupported",
        Event::AddedToGroup | Event::RemovedFromGroup | Event::GroupMigrated { .. } => "group",
        Event::Blocked => "blocked",
        Event::Unblocked => "unblocked",
    }
}

/// Counts one delivery attempt with its outcome (`sent`, `retry`, `failed`, `skipped`,
/// `unreachable` …) and how long the platform took.
pub fn record_send(platform: Platform, status: &str, latency: Duration) {
    with(|r| {
        *r.outbound
            .entry((platform.as_str(), status.to_string()))
            .or_default() += 1;
        let h = r.latency.entry(platform.as_str()).or_default();
        let secs = latency.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.counts[BUCKETS.len()] += 1;
        h.sum += secs;
    });
}

/// Counts a webhook request refused for a missing or bad signature.
pub fn record_refused_webhook(platform: Platform) {
    with(|r| *r.webhooks_refused.entry(platform.as_str()).or_default() += 1);
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text. `depth` is (platform, status, rows) from the outbox.
pub fn render(depth: &[(String, String, i64)]) -> String {
    let mut out = String::new();
    with(|r| {
        out.push_str("# HELP bluezone_messages_in_total Inbound events by platform and kind.\n");
        out.push_str("# TYPE bluezone_messages_in_total counter\n");
        for ((p, k), n) in &r.inbound {
            let _ = writeln!(
                out,
                "bluezone_messages_in_total{{platform=\"{p}\",kind=\"{}\"}} {n}",
                escape(k)
            );
        }
        out.push_str(
            "# HELP bluezone_messages_out_total Delivery attempts by platform and outcome.\n",
        );
        out.push_str("# TYPE bluezone_messages_out_total counter\n");
        for ((p, s), n) in &r.outbound {
            let _ = writeln!(
                out,
                "bluezone_messages_out_total{{platform=\"{p}\",status=\"{}\"}} {n}",
                escape(s)
            );
        }
        out.push_str(
            "# HELP bluezone_send_latency_seconds Time the platform took to answer a send.\n",
        );
        out.push_str("# TYPE bluezone_send_latency_seconds histogram\n");
        for (p, h) in &r.latency {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "bluezone_send_latency_seconds_bucket{{platform=\"{p}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let total = h.counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "bluezone_send_latency_seconds_bucket{{platform=\"{p}\",le=\"+Inf\"}} {total}"
            );
            let _ = writeln!(
                out,
                "bluezone_send_latency_seconds_sum{{platform=\"{p}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "bluezone_send_latency_seconds_count{{platform=\"{p}\"}} {total}"
            );
        }
        out.push_str("# HELP bluezone_webhooks_refused_total Webhook requests refused for a bad or missing signature.\n");
        out.push_str("# TYPE bluezone_webhooks_refused_total counter\n");
        for (p, n) in &r.webhooks_refused {
            let _ = writeln!(
                out,
                "bluezone_webhooks_refused_total{{platform=\"{p}\"}} {n}"
            );
        }
    });
    out.push_str("# HELP bluezone_outbox_depth Outbox rows waiting or being sent.\n");
    out.push_str("# TYPE bluezone_outbox_depth gauge\n");
    for (p, s, n) in depth {
        let _ = writeln!(
            out,
            "bluezone_outbox_depth{{platform=\"{}\",status=\"{}\"}} {n}",
            escape(p),
            escape(s)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_histogram_and_depth() {
        record_inbound(Platform::Zalo, "text");
        record_send(Platform::Zalo, "sent", Duration::from_millis(30));
        let text = render(&[("zalo".into(), "queued".into(), 3)]);
        assert!(text.contains("bluezone_messages_in_total{platform=\"zalo\",kind=\"text\"}"));
        assert!(text.contains("bluezone_messages_out_total{platform=\"zalo\",status=\"sent\"}"));
        assert!(
            text.contains("bluezone_send_latency_seconds_bucket{platform=\"zalo\",le=\"0.05\"}")
        );
        assert!(text.contains("bluezone_outbox_depth{platform=\"zalo\",status=\"queued\"} 3"));
    }
}
