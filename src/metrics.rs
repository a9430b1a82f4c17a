//! Prometheus metrics for the metrics listener (`BLUEZONE_METRICS_LISTEN`), kept with the
//! `prometheus-client` crate and written in the Prometheus text format: messages in per
//! platform and kind, messages out per platform and status, send latency as a histogram,
//! refused webhooks, and the outbox depth (read from the database at scrape time, so every
//! replica reports the shared queue).
//!
//! The counters live in one registry per process: they are recorded from the engine, the
//! senders and the webhook routes through the free functions below, and every app in the
//! process (tests run several) adds to the same counters.

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::Platform;
use crate::platform::{Delivered, DeliveryError, Event};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The platforms whose series exist from the start at zero (the console has no webhook and
/// no outbox of its own), so a rate or a depth reads 0 rather than nothing.
const MESSAGING: [Platform; 3] = [Platform::Telegram, Platform::Zalo, Platform::Messenger];

/// The outbox statuses `bluezone_outbox_depth` reports.
const QUEUE_STATUSES: [&str; 2] = ["queued", "sending"];

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `platform` and `kind` of an inbound event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InboundLabels {
    platform: &'static str,
    kind: String,
}

/// `platform` and `status` of a delivery attempt or of outbox rows.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    platform: String,
    status: String,
}

/// `platform` alone.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformLabels {
    platform: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The process's metrics and the registry that writes them out.
struct Metrics {
    registry: Registry,
    inbound: Family<InboundLabels, Counter>,
    outbound: Family<StatusLabels, Counter>,
    latency: Family<PlatformLabels, Histogram, fn() -> Histogram>,
    webhooks_refused: Family<PlatformLabels, Counter>,
    outbox_depth: Family<StatusLabels, Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let inbound = Family::<InboundLabels, Counter>::default();
        let outbound = Family::<StatusLabels, Counter>::default();
        let latency: Family<PlatformLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let webhooks_refused = Family::<PlatformLabels, Counter>::default();
        let outbox_depth = Family::<StatusLabels, Gauge>::default();
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "bluezone_messages_in",
            "Inbound events by platform and kind",
            inbound.clone(),
        );
        registry.register(
            "bluezone_messages_out",
            "Delivery attempts by platform and outcome",
            outbound.clone(),
        );
        registry.register(
            "bluezone_send_latency_seconds",
            "Time the platform took to answer a send",
            latency.clone(),
        );
        registry.register(
            "bluezone_webhooks_refused",
            "Webhook requests refused for a bad or missing signature",
            webhooks_refused.clone(),
        );
        registry.register(
            "bluezone_outbox_depth",
            "Outbox rows waiting or being sent",
            outbox_depth.clone(),
        );
        for platform in MESSAGING {
            let platform = platform.as_str();
            webhooks_refused
                .get_or_create(&PlatformLabels { platform })
                .inc_by(0);
        }
        Metrics {
            registry,
            inbound,
            outbound,
            latency,
            webhooks_refused,
            outbox_depth,
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Held while the outbox depth is replaced and the registry written out, so two scrapes at
/// once never mix their depth rows.
static SCRAPE: Mutex<()> = Mutex::new(());

/// Counts one inbound event of `kind` (text, command, button, follow …).
pub fn record_inbound(platform: Platform, kind: &str) {
    METRICS
        .inbound
        .get_or_create(&InboundLabels {
            platform: platform.as_str(),
            kind: kind.to_string(),
        })
        .inc();
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
    METRICS
        .outbound
        .get_or_create(&StatusLabels {
            platform: platform.as_str().to_string(),
            status: status.to_string(),
        })
        .inc();
    METRICS
        .latency
        .get_or_create(&PlatformLabels {
            platform: platform.as_str(),
        })
        .observe(latency.as_secs_f64());
}

/// The outcome label of a delivery attempt in `bluezone_messages_out_total`.
pub fn send_status(result: &Result<Delivered, DeliveryError>) -> &'static str {
    match result {
        Ok(_) => "sent",
        Err(DeliveryError::RetryAfter { .. }) => "rate_limited",
        Err(DeliveryError::Unreachable(_)) => "unreachable",
        Err(DeliveryError::Skipped(_)) => "skipped",
        Err(DeliveryError::Rejected(_) | DeliveryError::Migrated(_)) => "failed",
        Err(DeliveryError::Transient(_)) => "retry",
    }
}

/// Counts a webhook request refused for a missing or bad signature.
pub fn record_refused_webhook(platform: Platform) {
    METRICS
        .webhooks_refused
        .get_or_create(&PlatformLabels {
            platform: platform.as_str(),
        })
        .inc();
}

/// The exposition text. `depth` is (platform, status, rows) from the outbox; it replaces the
/// depth of the previous scrape, and a queue without rows reads 0.
pub fn render(depth: &[(String, String, i64)]) -> String {
    let _scrape = SCRAPE.lock().unwrap_or_else(|e| e.into_inner());
    METRICS.outbox_depth.clear();
    for platform in MESSAGING {
        for status in QUEUE_STATUSES {
            METRICS
                .outbox_depth
                .get_or_create(&StatusLabels {
                    platform: platform.as_str().to_string(),
                    status: status.to_string(),
                })
                .set(0);
        }
    }
    for (platform, status, rows) in depth {
        METRICS
            .outbox_depth
            .get_or_create(&StatusLabels {
                platform: platform.clone(),
                status: status.clone(),
            })
            .set(*rows);
    }
    let mut out = String::new();
    if let Err(e) = prometheus_text::encode(&mut out, &METRICS.registry) {
        tracing::warn!(error = %e, "writing the metrics failed");
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
        record_refused_webhook(Platform::Zalo);
        let text = render(&[("zalo".into(), "queued".into(), 3)]);
        assert!(text.contains("bluezone_messages_in_total{platform=\"zalo\",kind=\"text\"}"));
        assert!(text.contains("bluezone_messages_out_total{platform=\"zalo\",status=\"sent\"}"));
        assert!(
            text.contains("bluezone_send_latency_seconds_bucket{platform=\"zalo\",le=\"0.05\"}"),
            "{text}"
        );
        assert!(text.contains("bluezone_webhooks_refused_total{platform=\"zalo\"}"));
        assert!(text.contains("bluezone_outbox_depth{platform=\"zalo\",status=\"queued\"} 3"));
        // The next scrape's depth replaces this one's; an empty queue reads 0.
        let text = render(&[]);
        assert!(
            text.contains("bluezone_outbox_depth{platform=\"zalo\",status=\"queued\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("bluezone_webhooks_refused_total{platform=\"messenger\"}"),
            "{text}"
        );
    }
}
