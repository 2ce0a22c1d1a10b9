//! The same measurements as the EMF lines, kept in this process for the local server's
//! `/metrics` in the Prometheus text format (0.0.4), by the official client crate. Always kept
//! (a few counters in memory); only the local server serves them.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds of the time-to-decision buckets, in seconds: from a glance (1 s) to three days,
/// the spread between a reviewer at their desk and one back from a weekend.
const DECISION_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14_400.0, 86_400.0, 259_200.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Event {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivery {
    status: String,
    channel: String,
}

fn decision_histogram() -> Histogram {
    Histogram::new(DECISION_BUCKETS)
}

struct Exporter {
    registry: Registry,
    events: Family<Event, Counter>,
    time_to_decision: Family<Outcome, Histogram, fn() -> Histogram>,
    deliveries: Family<Delivery, Counter>,
}

fn exporter() -> &'static Exporter {
    static EXPORTER: OnceLock<Exporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let mut registry = Registry::default();
        let events = Family::<Event, Counter>::default();
        let time_to_decision =
            Family::<Outcome, Histogram, fn() -> Histogram>::new_with_constructor(
                decision_histogram as fn() -> Histogram,
            );
        let deliveries = Family::<Delivery, Counter>::default();
        registry.register(
            "holdpoint_approval_events",
            "Approval changes stored, by audit event (created, approved, rejected, modified, expired, cancelled, escalated, extended, executed, lapsed)",
            events.clone(),
        );
        registry.register(
            "holdpoint_time_to_decision_seconds",
            "Seconds from an approval's creation to its decision, by outcome",
            time_to_decision.clone(),
        );
        registry.register(
            "holdpoint_delivery_attempts",
            "Delivery attempts to reviewers and agents, by the status each left and channel",
            deliveries.clone(),
        );
        Exporter {
            registry,
            events,
            time_to_decision,
            deliveries,
        }
    })
}

/// A stored change: its audit event's name.
pub(super) fn event(name: &str) {
    exporter()
        .events
        .get_or_create(&Event {
            event: name.to_owned(),
        })
        .inc();
}

/// A decision with `outcome` after `waited_ms`.
pub(super) fn decided(outcome: &str, waited_ms: i64) {
    exporter()
        .time_to_decision
        .get_or_create(&Outcome {
            outcome: outcome.to_owned(),
        })
        .observe(waited_ms.max(0) as f64 / 1000.0);
}

/// A delivery attempt recorded with `status` on `channel`.
pub(super) fn delivery(status: &str, channel: &str) {
    exporter()
        .deliveries
        .get_or_create(&Delivery {
            status: status.to_owned(),
            channel: channel.to_owned(),
        })
        .inc();
}

/// Everything measured so far in this process, as Prometheus text.
pub fn render() -> String {
    let mut out = String::new();
    // Writing to a String never fails.
    let _ = prometheus_text::encode(&mut out, &exporter().registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_show_in_the_text_format() {
        event("approved");
        decided("approved", 1_500);
        delivery("delivered", "email");
        let text = render();
        assert!(
            text.contains("# TYPE holdpoint_approval_events_total counter"),
            "{text}"
        );
        assert!(
            text.contains("holdpoint_approval_events_total{event=\"approved\"}"),
            "{text}"
        );
        let bucket = "holdpoint_time_to_decision_seconds_bucket{outcome=\"approved\",le=\"5\"}";
        assert!(text.contains(bucket), "{text}");
        assert!(
            text.contains(
                "holdpoint_delivery_attempts_total{status=\"delivered\",channel=\"email\"}"
            ),
            "{text}"
        );
    }
}
