//! The ticket an agent keeps for a request the server accepted, to act on the answer.

use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::request::CreateRequest as ApprovalRequest;
use uuid::Uuid;

/// A request the server accepted: the approval as created, and the request as sent (to compute
/// the context hash at execute).
#[derive(Debug, Clone)]
pub struct Ticket {
    pub approval: Approval,
    pub request: ApprovalRequest,
}

impl Ticket {
    pub fn id(&self) -> Uuid {
        self.approval.id
    }
}
