//! CloudWatch metrics in the Embedded Metric Format: one JSON object per line on standard output,
//! which Lambda sends to CloudWatch Logs and CloudWatch turns into metrics. No API call, no
//! permission beyond the logs every function already writes.
//!
//! Off until [`emit_to_stdout`] is called (the Lambda functions do; the local server does not, so
//! its console stays readable). Every metric is in namespace [`NAMESPACE`] without dimensions,
//! so one alarm covers every function; decisions are also counted by `Outcome`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use holdpoint_core::audit::{AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::sweep::SweepReport;

pub mod prometheus;

pub const NAMESPACE: &str = "Holdpoint";

/// The metric an event counts towards, as its row of [`AuditEvent::facts`] names it.
const fn counted(event: AuditEvent) -> &'static str {
    match event.facts().metric {
        Some(name) => name,
        None => panic!("this event is not counted"),
    }
}

/// Approvals created.
pub const REQUESTED: &str = counted(AuditEvent::Created);
/// Approvals decided (approved, rejected, modified), also by dimension `Outcome`.
pub const DECIDED: &str = counted(AuditEvent::Approved);
/// Milliseconds from request to decision, with [`DECIDED`].
pub const TIME_TO_DECISION: &str = "TimeToDecision";
pub const EXPIRED: &str = counted(AuditEvent::Expired);
pub const ESCALATED: &str = counted(AuditEvent::Escalated);
pub const CANCELLED: &str = counted(AuditEvent::Cancelled);
pub const EXECUTED: &str = counted(AuditEvent::Executed);
/// Approved approvals whose execution window closed unexecuted.
pub const LAPSED: &str = counted(AuditEvent::Lapsed);
/// Pending deadlines moved later.
pub const EXTENDED: &str = counted(AuditEvent::Extended);
/// Lifecycle events the sweep published after an earlier publish failed.
pub const REPUBLISHED: &str = "EventsRepublished";
/// Lifecycle events not delivered to EventBridge when the change was stored (the sweep retries).
pub const PUBLISH_FAILURES: &str = "EventPublishFailures";
pub const DELIVERY_FAILURES: &str = "DeliveryFailures";
/// Due approvals the sweep could not change.
pub const SWEEP_FAILURES: &str = "SweepFailures";
/// Sweeps that stopped at their deadline with work left.
pub const SWEEP_UNFINISHED: &str = "SweepsUnfinished";

static ON: AtomicBool = AtomicBool::new(false);

/// Writes every measurement from now on to standard output.
pub fn emit_to_stdout() {
    ON.store(true, Ordering::Relaxed);
}

/// The unit of a metric, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: `values` at `at`, with `dimensions` (name, value) as a second dimension set
/// beside the one without dimensions.
pub fn document(
    at: DateTime<Utc>,
    values: &[(&str, Unit, f64)],
    dimensions: &[(&str, &str)],
) -> Value {
    let mut sets = vec![Value::Array(Vec::new())];
    if !dimensions.is_empty() {
        sets.push(dimensions.iter().map(|(name, _)| json!(name)).collect());
    }
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": sets, "Metrics": metrics}],
        }),
    );
    for (name, value) in dimensions {
        doc.insert((*name).into(), json!(value));
    }
    for (name, _, value) in values {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc)
}

fn emit(values: &[(&str, Unit, f64)], dimensions: &[(&str, &str)]) {
    if values.is_empty() || !ON.load(Ordering::Relaxed) {
        return;
    }
    let line = document(Utc::now(), values, dimensions).to_string();
    // One write of one line, so lines of concurrent requests never interleave.
    let _ = std::io::stdout()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// What a stored change of `approval` (now as `record` left it) counts towards: its event's
/// metric, and for a decision the time it took, by outcome.
pub fn transition(approval: &Approval, record: &AuditRecord) {
    let facts = record.event.facts();
    let Some(metric) = facts.metric else {
        return;
    };
    prometheus::event(facts.name);
    if facts.decision {
        let waited = (record.at - approval.created_at).num_milliseconds().max(0);
        prometheus::decided(facts.name, waited);
        emit(
            &[
                (metric, Unit::Count, 1.0),
                (TIME_TO_DECISION, Unit::Milliseconds, waited as f64),
            ],
            &[("Outcome", facts.name)],
        );
    } else {
        emit(&[(metric, Unit::Count, 1.0)], &[]);
    }
}

/// A publish of lifecycle events that failed (left to the sweep).
pub fn publish_failed() {
    emit(&[(PUBLISH_FAILURES, Unit::Count, 1.0)], &[]);
}

/// A delivery to a reviewer or an agent that failed for good (see `holdpoint deliveries`).
pub fn delivery_failed() {
    emit(&[(DELIVERY_FAILURES, Unit::Count, 1.0)], &[]);
}

/// A delivery attempt recorded with `status` on `channel` (for `/metrics`; EMF counts failures).
pub fn delivery_recorded(status: &str, channel: &str) {
    prometheus::delivery(status, channel);
}

/// What a sweep did that the transitions it made did not already count.
pub fn sweep(report: &SweepReport) {
    let values: Vec<(&str, Unit, f64)> = [
        (REPUBLISHED, report.republished),
        (SWEEP_FAILURES, report.failed),
        (SWEEP_UNFINISHED, usize::from(report.unfinished)),
    ]
    .into_iter()
    .map(|(name, n)| (name, Unit::Count, n as f64))
    .collect();
    emit(&values, &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_follows_the_embedded_metric_format() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let doc = document(
            at,
            &[
                (DECIDED, Unit::Count, 1.0),
                (TIME_TO_DECISION, Unit::Milliseconds, 1500.0),
            ],
            &[("Outcome", "approved")],
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_795_428_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Holdpoint",
                        "Dimensions": [[], ["Outcome"]],
                        "Metrics": [
                            {"Name": "ApprovalsDecided", "Unit": "Count"},
                            {"Name": "TimeToDecision", "Unit": "Milliseconds"}
                        ]
                    }]
                },
                "Outcome": "approved",
                "ApprovalsDecided": 1.0,
                "TimeToDecision": 1500.0
            })
        );
    }
}
