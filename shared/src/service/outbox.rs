//! The outbox: an approval's audit records past `published_seq` are lifecycle events still to
//! publish. A change is announced right after it is stored; what a failed publish missed, the
//! sweep republishes. Consumers de-duplicate by approval id and sequence. An event names the
//! reviewers it asks, never with a link: whoever reads the bus or the events file could decide
//! with one. The notifier mints each reviewer's link for their own message.

use super::Service;
use crate::events::LifecycleEvent;
use holdpoint_core::audit::{AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::{Approval, Status};

impl Service {
    /// Without an event sink nothing waits to be published: say so in the same write.
    pub(super) fn note_outbox(&self, next: &mut Approval, record: &AuditRecord) {
        if self.events.is_none() {
            next.published_seq = record.sequence;
        }
    }

    /// Publishes what a failed publish left of `approval`'s events; answers whether it did.
    pub(super) async fn republish(&self, approval: &mut Approval) -> bool {
        if self.events.is_none() || !approval.unpublished() {
            return false;
        }
        *approval = self.announce(approval.clone(), None).await;
        !approval.unpublished()
    }

    /// Publishes `approval`'s unpublished events (`fresh` is its newest record, when the caller
    /// has it, which spares reading the chain) and marks them published. A failure is logged and
    /// left to the sweep: the write it follows is already stored. Answers the approval as now
    /// stored.
    pub(super) async fn announce(
        &self,
        mut approval: Approval,
        fresh: Option<&AuditRecord>,
    ) -> Approval {
        let Some((sink, _)) = &self.events else {
            return approval;
        };
        if !approval.unpublished() {
            return approval;
        }
        let records = match fresh {
            Some(r) if r.sequence == approval.published_seq + 1 => vec![r.clone()],
            _ => match self.store.audit(&approval.tenant, approval.id).await {
                Ok(all) => all
                    .into_iter()
                    .filter(|r| r.sequence > approval.published_seq)
                    .collect(),
                Err(e) => {
                    tracing::warn!(id = %approval.id, error = %e, "events not read; the sweep retries");
                    return approval;
                }
            },
        };
        let mut events = Vec::with_capacity(records.len());
        for r in &records {
            // Reviewers only for the newest record, while the approval still waits for them.
            let current =
                r.sequence == approval.audit_head.sequence && approval.status == Status::Pending;
            let reviewers = if current && LifecycleEvent::addresses_reviewers(r.event) {
                match self.review_recipients(&approval).await {
                    // A reminder asks those still to answer: who approved towards a quorum has.
                    Ok(to) => to
                        .into_iter()
                        .map(|to| to.name)
                        .filter(|name| {
                            r.event != AuditEvent::Reminded
                                || !approval.approvals.iter().any(|v| v.by == *name)
                        })
                        .collect(),
                    Err(e) => {
                        tracing::warn!(id = %approval.id, error = %e, "reviewers not read; the sweep retries");
                        return approval;
                    }
                }
            } else {
                Vec::new()
            };
            events.push(LifecycleEvent::of(&approval, r, reviewers));
        }
        if let Err(e) = sink.publish(&events).await {
            crate::metrics::publish_failed();
            tracing::warn!(id = %approval.id, error = %e, "events not published; the sweep retries");
            return approval;
        }
        let mut marked = approval.clone();
        marked.published_seq = approval.audit_head.sequence;
        match self.store.mark_published(&marked).await {
            Ok(true) => approval = marked,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(id = %approval.id, error = %e, "published, not marked: may repeat")
            }
        }
        approval
    }
}
