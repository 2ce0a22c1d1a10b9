//! Lifecycle events: one per stored transition, built from its audit record, published after the
//! write and marked published on the approval. The audit chain is the outbox: a record newer than
//! the approval's `published_seq` is an event still to publish, so the sweep finds and republishes
//! it when a publish failed. Delivery is at least once; consumers de-duplicate by `event_id`
//! (`{approval_id}:{version}`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use holdpoint_core::audit::{AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::json::document::Document;

pub const SOURCE: &str = "holdpoint";

/// The detail-type of the event that tells a change was refused on a tampered approval.
pub const INTEGRITY_VIOLATION: &str = "Approval Integrity Violation";

/// The `detail` of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDetail {
    /// `{approval_id}:{version}`: the same for every delivery of one event.
    pub event_id: String,
    pub approval_id: Uuid,
    pub tenant: String,
    /// The approval's version after the transition (equal to the audit record's sequence).
    pub version: u64,
    pub status: Status,
    pub event: AuditEvent,
    pub action: String,
    pub agent_id: String,
    pub actor: String,
    pub at: String,
    /// For decisions, cancellations and the like: what the audit record says about it.
    pub payload: Document,
    /// Who asked (the principal the callback goes to).
    #[serde(default)]
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u8>,
    #[serde(default)]
    pub expires_at: String,
    /// Where the requester asked to be called back; the notifier posts terminal changes there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The principals a Requested or Escalated event asks, while the approval waits for them:
    /// named reviewers and members of reviewer roles. Names only: a review link is a bearer
    /// capability, minted by the notifier for its reviewer's message, never on the bus.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: EventDetail,
}

impl LifecycleEvent {
    /// The event of `record`, one of `approval`'s, asking `reviewers`.
    pub fn of(approval: &Approval, record: &AuditRecord, reviewers: Vec<String>) -> Self {
        LifecycleEvent {
            source: SOURCE.to_owned(),
            detail_type: record.event.facts().detail_type.to_owned(),
            detail: EventDetail {
                event_id: format!("{}:{}", approval.id, record.sequence),
                approval_id: approval.id,
                tenant: approval.tenant.clone(),
                version: record.sequence,
                status: record.event.facts().status,
                event: record.event,
                action: approval.action.clone(),
                agent_id: approval.agent_id.clone(),
                actor: record.actor.clone(),
                at: holdpoint_core::time::format(&record.at),
                payload: record.payload.clone(),
                requested_by: approval.requested_by.clone(),
                reason: approval.reason.clone(),
                risk_score: approval.risk_score,
                expires_at: holdpoint_core::time::format(&approval.expires_at),
                callback_url: approval.callback_url.clone(),
                reviewers,
            },
        }
    }

    /// `Approval Integrity Violation`: a change was refused because the stored approval is not
    /// the state its signed audit head produced. `event` and `status` are what is stored.
    pub fn integrity_violation(
        approval: &Approval,
        breach: &holdpoint_core::domain::integrity::Breach,
    ) -> Self {
        LifecycleEvent {
            source: SOURCE.to_owned(),
            detail_type: INTEGRITY_VIOLATION.to_owned(),
            detail: EventDetail {
                event_id: format!("{}:{}:integrity", approval.id, approval.version),
                approval_id: approval.id,
                tenant: approval.tenant.clone(),
                version: approval.version,
                status: approval.status,
                event: AuditEvent::Created,
                action: approval.action.clone(),
                agent_id: approval.agent_id.clone(),
                actor: holdpoint_core::domain::identity::SYSTEM_ACTOR.to_owned(),
                at: holdpoint_core::time::format(&chrono::Utc::now()),
                payload: serde_json::json!({
                    "fields": breach.fields,
                    "reason": breach.reason,
                })
                .into(),
                requested_by: approval.requested_by.clone(),
                reason: None,
                risk_score: approval.risk_score,
                expires_at: holdpoint_core::time::format(&approval.expires_at),
                callback_url: None,
                reviewers: Vec::new(),
            },
        }
    }

    /// Whether this kind of event asks reviewers (names them in `reviewers`).
    pub fn addresses_reviewers(event: AuditEvent) -> bool {
        event.facts().review_type.is_some()
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("publishing events failed: {0}")]
pub struct PublishError(pub String);

/// Where events go: EventBridge on AWS, a JSON-lines file locally.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Publishes all of `events` or fails (then every one of them is published again later).
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError>;

    /// Hands a reviewer's sign-in request (tenant and name, no secret) to whoever sends its
    /// link: answers `false` when none does (the local server sends it itself).
    async fn sign_in_requested(&self, _tenant: &str, _name: &str) -> Result<bool, PublishError> {
        Ok(false)
    }
}

/// The detail type of a sign-in request on the bus (read by the notify function).
pub const SIGN_IN_REQUESTED: &str = "Sign-in Requested";

/// Appends events as JSON lines to a file (the local stand-in for the bus). No review link goes
/// in it: the local notifier prints those to the terminal of `holdpoint serve`. The file is opened
/// once and kept open; a line is a few hundred bytes written to the page cache, too short to be
/// worth a thread hop.
pub struct JsonLinesSink {
    path: std::path::PathBuf,
    file: std::sync::Mutex<Option<std::fs::File>>,
}

impl JsonLinesSink {
    pub fn new(path: std::path::PathBuf) -> JsonLinesSink {
        JsonLinesSink {
            path,
            file: std::sync::Mutex::new(None),
        }
    }

    fn append(&self, lines: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut file = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("events file lock poisoned"))?;
        if file.is_none() {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            *file = Some(options.open(&self.path)?);
        }
        let written = file.as_mut().map_or(Ok(()), |f| f.write_all(lines));
        if written.is_err() {
            // Opened again on the next publish.
            *file = None;
        }
        written
    }
}

#[async_trait]
impl EventSink for JsonLinesSink {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        let mut lines = Vec::new();
        for e in events {
            serde_json::to_writer(&mut lines, e).map_err(|e| PublishError(e.to_string()))?;
            lines.push(b'\n');
        }
        self.append(&lines)
            .map_err(|e| PublishError(format!("{}: {e}", self.path.display())))
    }
}

/// EventBridge `PutEvents`, ten entries per call; any failed entry fails the publish.
#[cfg(feature = "aws")]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

#[cfg(feature = "aws")]
impl EventBridgeSink {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> EventBridgeSink {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl EventSink for EventBridgeSink {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    let detail = serde_json::to_string(&e.detail)
                        .map_err(|e| PublishError(e.to_string()))?;
                    Ok(PutEventsRequestEntry::builder()
                        .source(&e.source)
                        .detail_type(&e.detail_type)
                        .detail(detail)
                        .event_bus_name(&self.bus)
                        .resources(format!("holdpoint:approval/{}", e.detail.approval_id))
                        .build())
                })
                .collect::<Result<Vec<_>, PublishError>>()?;
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    PublishError(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())
                })?;
            if out.failed_entry_count() > 0 {
                return Err(PublishError(format!(
                    "{} of {} entries failed",
                    out.failed_entry_count(),
                    chunk.len()
                )));
            }
        }
        Ok(())
    }
    async fn sign_in_requested(&self, tenant: &str, name: &str) -> Result<bool, PublishError> {
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let detail = serde_json::json!({"tenant": tenant, "name": name}).to_string();
        let entry = PutEventsRequestEntry::builder()
            .source("holdpoint")
            .detail_type(SIGN_IN_REQUESTED)
            .detail(detail)
            .event_bus_name(&self.bus)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                PublishError(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())
            })?;
        if out.failed_entry_count() > 0 {
            return Err(PublishError("the sign-in request was not published".into()));
        }
        Ok(true)
    }
}
