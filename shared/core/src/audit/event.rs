//! The kinds of audit record and everything that follows from each: one table, so a new event
//! is added here (and in the lifecycle rule that records it), nowhere else.

use serde::{Deserialize, Serialize};

use crate::status::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    Created,
    /// One reviewer's approval towards a quorum that is not reached yet.
    ApprovalRecorded,
    Approved,
    Rejected,
    Modified,
    Escalated,
    /// A pending approval's deadline moved later by a reviewer or an admin.
    Extended,
    Expired,
    Cancelled,
    Executed,
    /// Approved, but its execution window closed before it was executed.
    Lapsed,
    /// A pending approval's reviewers were reminded, once, before its deadline.
    Reminded,
}

/// What follows from one kind of event, wherever it is told or counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts {
    /// Its name in records, events and the canonical line (its serde name).
    pub name: &'static str,
    /// The status the approval has after it.
    pub status: Status,
    /// A reviewer's decision: what a decision signature refers to, counted by outcome.
    pub decision: bool,
    /// The EventBridge detail-type of its lifecycle event.
    pub detail_type: &'static str,
    /// The Standard Webhooks type of the messages asking reviewers to decide; `Some` exactly
    /// when its lifecycle event carries review links.
    pub review_type: Option<&'static str>,
    /// The Standard Webhooks type of the requester's callback (`None`: no callback).
    pub callback_type: Option<&'static str>,
    /// The CloudWatch metric it counts towards (`None`: not counted).
    pub metric: Option<&'static str>,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 12] = [
        AuditEvent::Created,
        AuditEvent::ApprovalRecorded,
        AuditEvent::Approved,
        AuditEvent::Rejected,
        AuditEvent::Modified,
        AuditEvent::Escalated,
        AuditEvent::Extended,
        AuditEvent::Expired,
        AuditEvent::Cancelled,
        AuditEvent::Executed,
        AuditEvent::Lapsed,
        AuditEvent::Reminded,
    ];

    pub const fn facts(self) -> EventFacts {
        const DECIDED: &str = "Approval Decided";
        const COUNTED_DECIDED: Option<&str> = Some("ApprovalsDecided");
        let (name, status, detail_type, metric) = match self {
            AuditEvent::Created => (
                "created",
                Status::Pending,
                "Approval Requested",
                Some("ApprovalsRequested"),
            ),
            AuditEvent::ApprovalRecorded => (
                "approval_recorded",
                Status::Pending,
                "Approval Vote Recorded",
                None,
            ),
            AuditEvent::Approved => ("approved", Status::Approved, DECIDED, COUNTED_DECIDED),
            AuditEvent::Rejected => ("rejected", Status::Rejected, DECIDED, COUNTED_DECIDED),
            AuditEvent::Modified => ("modified", Status::Modified, DECIDED, COUNTED_DECIDED),
            AuditEvent::Escalated => (
                "escalated",
                Status::Pending,
                "Approval Escalated",
                Some("ApprovalsEscalated"),
            ),
            AuditEvent::Extended => (
                "extended",
                Status::Pending,
                "Approval Extended",
                Some("ApprovalsExtended"),
            ),
            AuditEvent::Expired => (
                "expired",
                Status::Expired,
                "Approval Expired",
                Some("ApprovalsExpired"),
            ),
            AuditEvent::Cancelled => (
                "cancelled",
                Status::Cancelled,
                "Approval Cancelled",
                Some("ApprovalsCancelled"),
            ),
            AuditEvent::Executed => (
                "executed",
                Status::Executed,
                "Approval Executed",
                Some("ApprovalsExecuted"),
            ),
            AuditEvent::Lapsed => (
                "lapsed",
                Status::Lapsed,
                "Approval Lapsed",
                Some("ApprovalsLapsed"),
            ),
            AuditEvent::Reminded => (
                "reminded",
                Status::Pending,
                "Approval Reminded",
                Some("ApprovalsReminded"),
            ),
        };
        let review_type = match self {
            AuditEvent::Created => Some("approval.review_requested"),
            AuditEvent::Escalated => Some("approval.escalated"),
            // Reviewers are told the new deadline.
            AuditEvent::Extended => Some("approval.extended"),
            // Asked again, with the time left.
            AuditEvent::Reminded => Some("approval.reminder"),
            _ => None,
        };
        // The requester is called back on every change that leaves the approval no longer waiting.
        let callback_type = match self {
            AuditEvent::Approved => Some("approval.approved"),
            AuditEvent::Rejected => Some("approval.rejected"),
            AuditEvent::Modified => Some("approval.modified"),
            AuditEvent::Expired => Some("approval.expired"),
            AuditEvent::Cancelled => Some("approval.cancelled"),
            AuditEvent::Executed => Some("approval.executed"),
            AuditEvent::Lapsed => Some("approval.lapsed"),
            AuditEvent::Created
            | AuditEvent::ApprovalRecorded
            | AuditEvent::Escalated
            | AuditEvent::Extended
            | AuditEvent::Reminded => None,
        };
        EventFacts {
            name,
            status,
            decision: matches!(
                self,
                AuditEvent::Approved | AuditEvent::Rejected | AuditEvent::Modified
            ),
            detail_type,
            review_type,
            callback_type,
            metric,
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.facts().name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_is_its_serde_name_and_names_differ() {
        for (i, e) in AuditEvent::ALL.into_iter().enumerate() {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert!(
                AuditEvent::ALL[..i]
                    .iter()
                    .all(|o| o.as_str() != e.as_str())
            );
        }
    }

    #[test]
    fn only_waiting_changes_address_reviewers_and_only_the_others_call_back() {
        for e in AuditEvent::ALL {
            let f = e.facts();
            assert!(
                f.review_type.is_none() || f.callback_type.is_none(),
                "{e:?}"
            );
            assert_eq!(
                f.callback_type.is_none(),
                f.status == Status::Pending,
                "{e:?}"
            );
            assert_eq!(f.decision, f.detail_type == "Approval Decided", "{e:?}");
        }
    }
}
