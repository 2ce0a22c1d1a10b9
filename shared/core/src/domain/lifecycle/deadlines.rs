//! The deadlines of an approval: a pending one expires at `expires_at`, which its reviewers or an
//! admin may move later (never past its latest expiry); an approved one lapses when its
//! execution window closes unexecuted.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{Command, Outcome, Refusal, changed, due};
use crate::audit::AuditEvent;
use crate::domain::approval::{Approval, Status};
use crate::domain::identity::{Principal, SYSTEM_ACTOR};
use crate::invalid::Invalid;

/// The longest one extension may add, in seconds: 30 days.
pub const EXTEND_SECONDS: u32 = 2_592_000;

pub(super) fn check_seconds(seconds: u32) -> Result<(), Invalid> {
    if (1..=EXTEND_SECONDS).contains(&seconds) {
        Ok(())
    } else {
        Err(Invalid::new(
            "seconds",
            format!("must be between 1 and {EXTEND_SECONDS}"),
        ))
    }
}

pub(super) fn expire(a: &Approval, now: DateTime<Utc>) -> Result<Outcome, Refusal> {
    if !matches!(due(a, now), Some(Command::Expire)) {
        return Err(Refusal::NotDue);
    }
    let payload = json!({ "expires_at": crate::time::format(&a.expires_at) }).into();
    Ok(changed(
        a,
        a.clone(),
        AuditEvent::Expired,
        SYSTEM_ACTOR,
        now,
        payload,
    ))
}

/// Moves a pending approval's deadline `seconds` later. Its reviewers of the current level may,
/// and admins; never the requester (unless an admin), never an agent (which cannot decide, so
/// must not keep a request open either). The escalation timer is left as it was.
pub(super) fn extend(
    a: &Approval,
    by: &Principal,
    seconds: u32,
    reason: Option<String>,
    max_lifetime_seconds: u32,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    if by.is_agent() {
        return Err(Refusal::AgentCannotDecide);
    }
    let reviewer = by.principal != a.requested_by && by.is_reviewer(&a.reviewers);
    if !(reviewer || by.is_admin()) {
        return Err(Refusal::NotAReviewer);
    }
    if a.status_at(now) != Status::Pending {
        return Err(Refusal::conflict(a, now));
    }
    let latest_expiry = a.latest_expiry_or(max_lifetime_seconds);
    let expires_at = a.expires_at + TimeDelta::seconds(i64::from(seconds));
    if expires_at > latest_expiry {
        return Err(Refusal::PastLatestExpiry { latest_expiry });
    }
    let mut next = a.clone();
    next.expires_at = expires_at;
    let payload = json!({
        "seconds": seconds,
        "reason": reason,
        "expires_at": crate::time::format(&expires_at),
    })
    .into();
    Ok(changed(
        a,
        next,
        AuditEvent::Extended,
        &by.principal,
        now,
        payload,
    ))
}

/// Records that an approved (or modified) approval's execution window closed unexecuted.
pub(super) fn lapse(a: &Approval, now: DateTime<Utc>) -> Result<Outcome, Refusal> {
    let Some(execute_by) = a
        .execute_by()
        .filter(|_| matches!(due(a, now), Some(Command::Lapse)))
    else {
        return Err(Refusal::NotDue);
    };
    let payload = json!({ "execute_by": crate::time::format(&execute_by) }).into();
    Ok(changed(
        a,
        a.clone(),
        AuditEvent::Lapsed,
        SYSTEM_ACTOR,
        now,
        payload,
    ))
}
