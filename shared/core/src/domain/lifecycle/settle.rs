//! The tenant's policy settling a request the moment it is created: `deny` rejects it and
//! `allow` approves it, decided by `policy:<rule>` rather than by any reviewer, so the audit
//! trail says which rule answered. What it comes to is recorded by the lifecycle itself.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::domain::approval::{Approval, Decision, Status, Verdict};
use crate::json::document::Document;

/// Who decides when a policy rule does: `policy:<rule>`.
pub fn policy_actor(rule: &str) -> String {
    format!("policy:{rule}")
}

/// What a rule's settlement comes to.
pub(super) enum Settlement {
    /// Already settled so by the same rule: nothing to store.
    Repeat,
    /// No longer the untouched request a rule may answer.
    TooLate,
    /// The approval as the rule decided it, the event, who decided, the record's payload.
    Decided(Box<Approval>, AuditEvent, String, Document),
}

pub(super) fn settle(
    a: &Approval,
    rule: &str,
    verdict: Verdict,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Settlement {
    let by = policy_actor(rule);
    if a.decision
        .as_ref()
        .is_some_and(|d| d.decision == verdict && d.by == by)
    {
        return Settlement::Repeat;
    }
    // A rule answers only a request no one has touched yet: never over a reviewer.
    let fresh = a.status_at(now) == Status::Pending && a.approvals.is_empty() && a.version == 1;
    let event = match verdict {
        Verdict::Approved if fresh => AuditEvent::Approved,
        Verdict::Rejected if fresh => AuditEvent::Rejected,
        _ => return Settlement::TooLate,
    };
    let mut next = a.clone();
    next.decision = Some(Decision {
        decision: verdict,
        by: by.clone(),
        at: now,
        comment: reason.clone(),
        modified_output: None,
        signature: None,
    });
    let payload = json!({ "decision": verdict.as_str(), "rule": rule, "reason": reason }).into();
    Settlement::Decided(Box::new(next), event, by, payload)
}
