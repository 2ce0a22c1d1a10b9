//! The deadlines of an approval: a pending one expires at `expires_at`, which its reviewers or an
//! admin may move later (never past its latest expiry), and escalates when its level's time is
//! up; its reviewers are reminded once before it expires; an approved one lapses when its
//! execution window closes unexecuted. Pure rules: what they come to is recorded (or refused)
//! by the lifecycle itself.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::domain::approval::{Approval, Status};
use crate::domain::identity::{Principal, SYSTEM_ACTOR};
use crate::invalid::Invalid;
use crate::json::document::Document;

/// The longest one extension may add, in seconds: 30 days.
pub const EXTEND_SECONDS: u32 = 2_592_000;

/// Why a deadline rule does not apply.
pub(super) enum Denied {
    Agent,
    NotAReviewer,
    NotPending,
    PastLatestExpiry(DateTime<Utc>),
    NotDue,
}

/// What a deadline rule changes: the next state, and the record of it.
pub(super) struct Change {
    pub next: Approval,
    pub event: AuditEvent,
    pub actor: String,
    pub payload: Document,
}

impl Change {
    fn by_service(next: Approval, event: AuditEvent, payload: serde_json::Value) -> Change {
        Change {
            next,
            event,
            actor: SYSTEM_ACTOR.to_owned(),
            payload: payload.into(),
        }
    }
}

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

/// Stored pending, expired as seen at `now`: the expiry is owed.
pub(super) fn expiry_due(a: &Approval, now: DateTime<Utc>) -> bool {
    a.status == Status::Pending && a.status_at(now) == Status::Expired
}

/// Stored approved or modified, lapsed as seen at `now`: the lapse is owed.
pub(super) fn lapse_due(a: &Approval, now: DateTime<Utc>) -> bool {
    a.status != Status::Lapsed && a.status_at(now) == Status::Lapsed
}

/// Pending, its level's time up, and another level to go to.
pub(super) fn escalation_due(a: &Approval, now: DateTime<Utc>) -> bool {
    a.status_at(now) == Status::Pending
        && a.escalates_at.is_some_and(|at| at <= now)
        && a.escalation.len() > a.escalation_level as usize
}

/// Pending, its reminder still owed and its time come.
pub(super) fn reminder_due(a: &Approval, now: DateTime<Utc>) -> bool {
    a.status_at(now) == Status::Pending && a.reminds_at.is_some_and(|at| at <= now)
}

/// Asks the reviewers again, once: the reminder is spent by the change that records it. An
/// escalation leaves it as it was (the new level's reviewers are reminded in its place).
pub(super) fn remind(a: &Approval, now: DateTime<Utc>) -> Result<Change, Denied> {
    if !reminder_due(a, now) {
        return Err(Denied::NotDue);
    }
    let mut next = a.clone();
    next.reminds_at = None;
    let payload = json!({
        "expires_at": crate::time::format(&a.expires_at),
        "seconds_left": (a.expires_at - now).num_seconds(),
        "reviewers": a.reviewers,
    });
    Ok(Change::by_service(next, AuditEvent::Reminded, payload))
}

pub(super) fn expire(a: &Approval, now: DateTime<Utc>) -> Result<Change, Denied> {
    if !expiry_due(a, now) {
        return Err(Denied::NotDue);
    }
    let payload = json!({ "expires_at": crate::time::format(&a.expires_at) });
    Ok(Change::by_service(a.clone(), AuditEvent::Expired, payload))
}

/// Records that an approved (or modified) approval's execution window closed unexecuted.
pub(super) fn lapse(a: &Approval, now: DateTime<Utc>) -> Result<Change, Denied> {
    let Some(execute_by) = a.execute_by().filter(|_| lapse_due(a, now)) else {
        return Err(Denied::NotDue);
    };
    let payload = json!({ "execute_by": crate::time::format(&execute_by) });
    Ok(Change::by_service(a.clone(), AuditEvent::Lapsed, payload))
}

pub(super) fn escalate(a: &Approval, now: DateTime<Utc>) -> Result<Change, Denied> {
    let level = a.escalation_level as usize;
    let due = escalation_due(a, now);
    let Some(target) = a.escalation.get(level).filter(|_| due) else {
        return Err(Denied::NotDue);
    };
    let mut next = a.clone();
    next.reviewers = target.reviewers.clone();
    next.escalation_level += 1;
    next.approvals.clear();
    // The rules' next level replaces the reviewers their requirements were of.
    next.requirements.clear();
    next.proposed_output = None;
    next.escalates_at = a
        .escalation
        .get(level + 1)
        .map(|l| now + TimeDelta::seconds(i64::from(l.after_seconds)));
    let payload = json!({ "level": next.escalation_level, "reviewers": next.reviewers });
    Ok(Change::by_service(next, AuditEvent::Escalated, payload))
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
) -> Result<Change, Denied> {
    if by.is_agent() {
        return Err(Denied::Agent);
    }
    let reviewer = by.principal != a.requested_by && by.is_reviewer(&a.reviewers);
    if !(reviewer || by.is_admin()) {
        return Err(Denied::NotAReviewer);
    }
    if a.status_at(now) != Status::Pending {
        return Err(Denied::NotPending);
    }
    let latest_expiry = a.latest_expiry_or(max_lifetime_seconds);
    let expires_at = a.expires_at + TimeDelta::seconds(i64::from(seconds));
    if expires_at > latest_expiry {
        return Err(Denied::PastLatestExpiry(latest_expiry));
    }
    let mut next = a.clone();
    next.expires_at = expires_at;
    // A reminder still owed keeps its share of the longer window; a spent one stays spent.
    next.reminds_at = a.reminds_at.and_then(|at| {
        crate::domain::reminder::rescaled(a.created_at, at, a.expires_at, expires_at)
    });
    let payload = json!({
        "seconds": seconds,
        "reason": reason,
        "expires_at": crate::time::format(&expires_at),
    });
    Ok(Change {
        next,
        event: AuditEvent::Extended,
        actor: by.principal.clone(),
        payload: payload.into(),
    })
}
