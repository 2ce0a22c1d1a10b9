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
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Approved,
        Status::Rejected,
        Status::Modified,
        Status::Expired,
        Status::Cancelled,
        Status::Executed,
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
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}
