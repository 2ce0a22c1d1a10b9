//! The transitions of an approval and the rules that guard them. Pure: no I/O, time is given.
//!
//! Quorum and edits: a quorum of N needs N distinct reviewers' approvals of the same output. A
//! `modified` decision is its author's approval of an edited output. With a quorum of 1 it decides
//! at once (`modified`). With a larger quorum the edits become the proposed output, approvals given
//! before the edit are cleared (they approved something else) and later `approved` decisions
//! approve the edits; when the quorum is reached the approval ends `modified` with those edits.
//! One rejection rejects, whatever the quorum.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::json::document::Document;

use crate::audit::{AuditEvent, AuditRecord};
use crate::domain::approval::{Approval, Decision, Status, Verdict, Vote};
use crate::domain::identity::Principal;
use crate::domain::record;
use crate::domain::request::{check_document, check_optional, limits};
use crate::invalid::Invalid;
use crate::text;

/// What someone asks to happen to an approval.
#[derive(Debug, Clone)]
pub enum Command<'a> {
    Decide {
        by: &'a Principal,
        verdict: Verdict,
        comment: Option<String>,
        modified_output: Option<Document>,
    },
    Cancel {
        by: &'a Principal,
        reason: Option<String>,
    },
    Execute {
        by: &'a Principal,
        /// Required: `None` is refused by [`Command::check_limits`] (and by the rule itself).
        context_hash: Option<String>,
    },
    /// Moves a pending approval's deadline `seconds` later (see [`deadlines`]).
    Extend {
        by: &'a Principal,
        seconds: u32,
        reason: Option<String>,
        /// The service's longest lifetime: the limit of approvals that recorded none.
        max_lifetime_seconds: u32,
    },
    Expire,
    Escalate,
    /// Asks a pending approval's reviewers again, once, before its deadline.
    Remind,
    /// Records that an approved approval's execution window closed unexecuted.
    Lapse,
    /// The tenant's policy answers at creation (`deny`: rejected, `allow`: approved), decided
    /// by `policy:<rule>`.
    Settle {
        rule: &'a str,
        verdict: Verdict,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The new state (version + 1) and the audit record of the change.
    Changed(Box<Approval>, Box<AuditRecord>),
    /// The same request was already applied (an idempotent repeat): nothing to store.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("an agent principal cannot approve, reject or modify")]
    AgentCannotDecide,
    #[error("you are not a reviewer of this approval")]
    NotAReviewer,
    #[error("the requester cannot decide its own request")]
    SelfApproval,
    #[error("only the requester may do this")]
    NotRequester,
    #[error("a rejection needs a comment")]
    CommentRequired,
    #[error("a modified decision needs modified_output")]
    ModifiedOutputRequired,
    #[error("modified_output is only allowed with the decision modified")]
    UnexpectedModifiedOutput,
    #[error("the approval is {current_status:?}")]
    Conflict {
        current_status: Status,
        decided_by: Option<String>,
        decided_at: Option<DateTime<Utc>>,
    },
    #[error("context_hash does not match the approved context")]
    ContextMismatch,
    #[error("the execution window closed at {}", crate::time::format(.execute_by))]
    ExecutionWindowClosed { execute_by: DateTime<Utc> },
    #[error("seconds would move the deadline past the latest allowed, {}", crate::time::format(.latest_expiry))]
    PastLatestExpiry { latest_expiry: DateTime<Utc> },
    #[error("nothing is due")]
    NotDue,
}

impl Refusal {
    /// The one way a conflict is told: the approval's status as seen at `now`, who brought it
    /// there and when.
    pub fn conflict(a: &Approval, now: DateTime<Utc>) -> Refusal {
        let seen = a.clone().seen_at(now);
        Refusal::Conflict {
            current_status: seen.status,
            decided_by: seen.decided_by().map(str::to_owned),
            decided_at: seen.decided_at(),
        }
    }
}

/// The change the service itself owes an approval at `now`, if any: expiry once its
/// deadline has passed, lapse once its execution window has closed, else escalation once the
/// current level's time is up and another level exists, else its reminder once it is due (the
/// next sweep reminds an approval that escalated at the same time, and its new reviewers).
pub fn due(a: &Approval, now: DateTime<Utc>) -> Option<Command<'static>> {
    if deadlines::expiry_due(a, now) {
        Some(Command::Expire)
    } else if deadlines::lapse_due(a, now) {
        Some(Command::Lapse)
    } else if deadlines::escalation_due(a, now) {
        Some(Command::Escalate)
    } else {
        deadlines::reminder_due(a, now).then_some(Command::Remind)
    }
}

/// What a deadline rule came to, recorded or told as a refusal (see [`deadlines`]).
fn deadline(
    a: &Approval,
    rule: Result<deadlines::Change, deadlines::Denied>,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    use deadlines::Denied as D;
    let c = rule.map_err(|denied| match denied {
        D::Agent => Refusal::AgentCannotDecide,
        D::NotAReviewer => Refusal::NotAReviewer,
        D::NotPending => Refusal::conflict(a, now),
        D::PastLatestExpiry(latest_expiry) => Refusal::PastLatestExpiry { latest_expiry },
        D::NotDue => Refusal::NotDue,
    })?;
    Ok(changed(a, c.next, c.event, &c.actor, now, c.payload))
}

/// Applies `cmd` to `current` at `now`.
pub fn apply(current: &Approval, cmd: Command<'_>, now: DateTime<Utc>) -> Result<Outcome, Refusal> {
    match cmd {
        Command::Decide {
            by,
            verdict,
            comment,
            modified_output,
        } => decide(current, by, verdict, comment, modified_output, now),
        Command::Cancel { by, reason } => cancel(current, by, reason, now),
        Command::Execute { by, context_hash } => execute(current, by, context_hash, now),
        Command::Extend {
            by,
            seconds,
            reason,
            max_lifetime_seconds,
        } => {
            let rule = deadlines::extend(current, by, seconds, reason, max_lifetime_seconds, now);
            deadline(current, rule, now)
        }
        Command::Expire => deadline(current, deadlines::expire(current, now), now),
        Command::Escalate => deadline(current, deadlines::escalate(current, now), now),
        Command::Lapse => deadline(current, deadlines::lapse(current, now), now),
        Command::Remind => deadline(current, deadlines::remind(current, now), now),
        Command::Settle {
            rule,
            verdict,
            reason,
        } => match settle::settle(current, rule, verdict, reason, now) {
            settle::Settlement::Repeat => Ok(Outcome::Unchanged),
            settle::Settlement::TooLate => Err(Refusal::conflict(current, now)),
            settle::Settlement::Decided(next, event, by, payload) => {
                Ok(changed(current, *next, event, &by, now, payload))
            }
        },
    }
}

/// The change `event` makes of `current` into `next`, one version on (see [`record::change`]).
fn changed(
    current: &Approval,
    mut next: Approval,
    event: AuditEvent,
    actor: &str,
    now: DateTime<Utc>,
    payload: Document,
) -> Outcome {
    next.version = current.version + 1;
    let (next, record) =
        record::change(Some(&current.audit_head), next, event, actor, now, payload);
    Outcome::Changed(Box::new(next), Box::new(record))
}

fn decide(
    a: &Approval,
    by: &Principal,
    verdict: Verdict,
    comment: Option<String>,
    modified_output: Option<Document>,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    // First, whatever the reviewers name: an agent named, or holding a reviewer role, would
    // otherwise let one agent approve another (every path to a decision comes here).
    if by.is_agent() {
        return Err(Refusal::AgentCannotDecide);
    }
    if by.principal == a.requested_by {
        return Err(Refusal::SelfApproval);
    }
    if !by.is_reviewer(&a.reviewers) {
        return Err(Refusal::NotAReviewer);
    }
    let comment = comment.filter(|c| !text::is_blank(c));
    match verdict {
        Verdict::Rejected if comment.is_none() => return Err(Refusal::CommentRequired),
        Verdict::Modified if modified_output.as_ref().is_none_or(Document::is_null) => {
            return Err(Refusal::ModifiedOutputRequired);
        }
        Verdict::Approved | Verdict::Rejected if modified_output.is_some() => {
            return Err(Refusal::UnexpectedModifiedOutput);
        }
        _ => {}
    }
    let me = by.principal.as_str();
    let voted = a.approvals.iter().any(|v| v.by == me);

    if a.status_at(now) != Status::Pending {
        let repeat = match (&a.decision, verdict) {
            (Some(d), Verdict::Approved) if d.decision == Verdict::Approved => voted,
            (Some(d), Verdict::Modified) => {
                d.decision == Verdict::Modified
                    && d.by == me
                    && d.modified_output == modified_output
            }
            (Some(d), Verdict::Rejected) => d.decision == Verdict::Rejected && d.by == me,
            _ => false,
        };
        return if repeat {
            Ok(Outcome::Unchanged)
        } else {
            Err(Refusal::conflict(a, now))
        };
    }

    let mut next = a.clone();
    let vote = Vote {
        by: me.to_owned(),
        at: now,
        comment: comment.clone(),
        meets: a
            .requirements
            .iter()
            .filter(|r| by.is_reviewer(&r.reviewers))
            .map(|r| r.rule.clone())
            .collect(),
    };
    #[derive(serde::Serialize)]
    struct Decided<'a> {
        decision: &'a str,
        comment: &'a Option<String>,
        modified_output: &'a Option<Document>,
    }
    let payload = Document::of(&Decided {
        decision: verdict.as_str(),
        comment: &comment,
        modified_output: &modified_output,
    });
    match verdict {
        Verdict::Rejected => {
            next.decision = Some(Decision {
                decision: Verdict::Rejected,
                by: me.to_owned(),
                at: now,
                comment,
                modified_output: None,
                signature: None,
            });
            return Ok(changed(a, next, AuditEvent::Rejected, me, now, payload));
        }
        Verdict::Approved if voted => return Ok(Outcome::Unchanged),
        Verdict::Approved => next.approvals.push(vote),
        Verdict::Modified => {
            if voted && a.proposed_output == modified_output {
                return Ok(Outcome::Unchanged);
            }
            if a.proposed_output != modified_output {
                next.approvals.clear();
                next.proposed_output = modified_output;
            }
            next.approvals.push(vote);
        }
    }
    if !a.quorum_met(&next.approvals) {
        return Ok(changed(
            a,
            next,
            AuditEvent::ApprovalRecorded,
            me,
            now,
            payload,
        ));
    }
    let (final_verdict, event) = if next.proposed_output.is_some() {
        (Verdict::Modified, AuditEvent::Modified)
    } else {
        (Verdict::Approved, AuditEvent::Approved)
    };
    next.decision = Some(Decision {
        decision: final_verdict,
        by: me.to_owned(),
        at: now,
        comment,
        modified_output: next.proposed_output.clone(),
        signature: None,
    });
    // With edits, what may run is the edited output: the hash binds it (it reads the status,
    // so the status is the decision's before the hash is taken).
    next.status = event.facts().status;
    next.context_hash = next.bound_hash();
    Ok(changed(a, next, event, me, now, payload))
}

fn cancel(
    a: &Approval,
    by: &Principal,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    if by.principal != a.requested_by {
        return Err(Refusal::NotRequester);
    }
    match a.status_at(now) {
        Status::Pending => {}
        Status::Cancelled => return Ok(Outcome::Unchanged),
        _ => return Err(Refusal::conflict(a, now)),
    }
    let mut next = a.clone();
    next.cancelled_by = Some(by.principal.clone());
    let payload = json!({ "reason": reason }).into();
    Ok(changed(
        a,
        next,
        AuditEvent::Cancelled,
        &by.principal,
        now,
        payload,
    ))
}

fn execute(
    a: &Approval,
    by: &Principal,
    context_hash: Option<String>,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    if by.principal != a.requested_by {
        return Err(Refusal::NotRequester);
    }
    // Lapsed when read as when stored: the same answer either way.
    if a.status_at(now) == Status::Lapsed {
        let execute_by = a.execute_by().unwrap_or(now);
        return Err(Refusal::ExecutionWindowClosed { execute_by });
    }
    if !matches!(a.status, Status::Approved | Status::Modified) {
        return Err(Refusal::conflict(a, now));
    }
    // What runs must be proved to be what was approved: no hash, no execution.
    if !context_hash
        .as_deref()
        .is_some_and(|h| h.eq_ignore_ascii_case(&a.context_hash))
    {
        return Err(Refusal::ContextMismatch);
    }
    let mut next = a.clone();
    next.executed_at = Some(now);
    let payload = json!({ "context_hash_checked": true }).into();
    Ok(changed(
        a,
        next,
        AuditEvent::Executed,
        &by.principal,
        now,
        payload,
    ))
}

impl Command<'_> {
    /// The size and form limits of what a caller sent with a command (422 when exceeded),
    /// checked before anything is read.
    pub fn check_limits(&self) -> Result<(), Invalid> {
        match self {
            Command::Decide {
                comment,
                modified_output,
                ..
            } => {
                check_optional("comment", comment, limits::TEXT_CHARS)?;
                match modified_output {
                    Some(m) => check_document("modified_output", m),
                    None => Ok(()),
                }
            }
            Command::Cancel { reason, .. } => check_optional("reason", reason, limits::TEXT_CHARS),
            Command::Execute {
                context_hash: None, ..
            } => Err(Invalid::new(
                "context_hash",
                "is required: the SHA-256 of what is about to run, as approved",
            )),
            Command::Execute {
                context_hash: Some(h),
                ..
            } if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) => Err(Invalid::new(
                "context_hash",
                "must be 64 hex characters (SHA-256)",
            )),
            Command::Extend {
                seconds, reason, ..
            } => {
                deadlines::check_seconds(*seconds)?;
                check_optional("reason", reason, limits::TEXT_CHARS)
            }
            _ => Ok(()),
        }
    }
}

mod settle;
pub use settle::policy_actor;

mod deadlines;
pub use deadlines::EXTEND_SECONDS;

#[cfg(test)]
mod tests;
