//! Extending a pending approval's deadline, by the API (a reviewer or an admin) or by a review
//! link (its reviewer, while the approval still addresses them).

use uuid::Uuid;

use super::review_links::VerifiedLink;
use super::{Service, ServiceError};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::review_link::LinkRefusal;

impl Service {
    /// Moves approval `id`'s deadline `seconds` later, as `caller`.
    pub async fn extend(
        &self,
        caller: &Principal,
        id: Uuid,
        seconds: u32,
        reason: Option<String>,
    ) -> Result<Approval, ServiceError> {
        let command = Command::Extend {
            by: caller,
            seconds,
            reason,
            max_lifetime_seconds: self.expiry.max_seconds,
        };
        self.apply(&caller.tenant, id, command).await
    }

    /// As [`Service::extend`], as the holder of `link` (one read and one write, as deciding by
    /// it), while the approval still addresses its reviewer.
    pub async fn extend_as(
        &self,
        link: &VerifiedLink,
        seconds: u32,
        reason: Option<String>,
    ) -> Result<Approval, ServiceError> {
        let by = link.principal();
        let command = Command::Extend {
            by: &by,
            seconds,
            reason,
            max_lifetime_seconds: self.expiry.max_seconds,
        };
        let claims = link.claims();
        let addressed = |a: &Approval| {
            if link.addresses(a) {
                Ok(())
            } else {
                Err(ServiceError::Link(LinkRefusal::Reassigned))
            }
        };
        match self
            .apply_where(&claims.tenant, claims.approval, command, addressed)
            .await
        {
            Err(ServiceError::NotFound) => Err(ServiceError::Link(LinkRefusal::Invalid)),
            other => other,
        }
    }
}
