//! Where an approval stands. Its own module, below both the approval and the audit trail, since
//! each audit event leads to one status (see [`crate::audit::AuditEvent::facts`]).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Modified,
    Expired,
    Cancelled,
    Executed,
    /// Approved (or modified) but not executed within its execution window: terminal.
    Lapsed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Modified,
        Status::Expired,
        Status::Cancelled,
        Status::Executed,
        Status::Lapsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Modified => "modified",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
            Status::Executed => "executed",
            Status::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}
