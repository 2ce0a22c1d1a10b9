//! Recording a change: the one way an approval's new state and the audit record that produced it
//! are made together, for its creation and for every later change.

use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, AuditRecord, ChainHead};
use crate::domain::approval::Approval;
use crate::json::document::Document;

/// `next`, as `event` leaves it (its status the one the event leads to), with its state taken
/// down and its head set to the new audit record, which follows `prev` (the approval's head
/// before the change; `None` for its creation) and signs that state.
pub fn change(
    prev: Option<&ChainHead>,
    mut next: Approval,
    event: AuditEvent,
    actor: &str,
    at: DateTime<Utc>,
    payload: Document,
) -> (Approval, AuditRecord) {
    next.status = event.facts().status;
    let state = crate::domain::integrity::take_state(&mut next);
    let record =
        AuditRecord::next(prev, next.id, &next.tenant, event, actor, at, payload).with_state(state);
    next.audit_head = record.head();
    (next, record)
}
