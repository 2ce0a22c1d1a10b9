//! What happens after or instead of a decision: expiry, cancel, execute, escalation.

use serde_json::json;

use super::*;

#[test]
fn expiry_is_lazy_and_exact() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    let deadline = a.expires_at;
    assert_eq!(
        a.status_at(deadline - TimeDelta::milliseconds(1)),
        Status::Pending
    );
    assert_eq!(a.status_at(deadline), Status::Expired);
    assert_eq!(
        refused(&a, decide(&alice, Verdict::Approved), deadline),
        Refusal::Conflict {
            current_status: Status::Expired,
            decided_by: Some("holdpoint".into()),
            decided_at: Some(deadline),
        }
    );
    assert!(
        apply(
            &a,
            decide(&alice, Verdict::Approved),
            deadline - TimeDelta::milliseconds(1)
        )
        .is_ok()
    );
}

#[test]
fn expire_only_when_due_and_pending() {
    let a = new_approval(&["alice"], None);
    assert_eq!(refused(&a, Command::Expire, at(599)), Refusal::NotDue);
    let (next, record) = changed(&a, Command::Expire, at(600));
    assert_eq!(next.status, Status::Expired);
    assert_eq!(
        (record.event, record.actor.as_str()),
        (AuditEvent::Expired, "holdpoint")
    );
    assert_eq!(next.next_deadline(), None);
    assert_eq!(refused(&next, Command::Expire, at(700)), Refusal::NotDue);
}

#[test]
fn cancel_is_for_the_requester_while_pending() {
    let a = new_approval(&["alice"], None);
    let agent = who("agent", &[]);
    let cancel = |by| Command::Cancel { by, reason: None };
    let alice = who("alice", &[]);
    assert_eq!(refused(&a, cancel(&alice), at(1)), Refusal::NotRequester);
    let (next, record) = changed(&a, cancel(&agent), at(1));
    assert_eq!(
        (next.status, record.event),
        (Status::Cancelled, AuditEvent::Cancelled)
    );
    assert_eq!(apply(&next, cancel(&agent), at(2)), Ok(Outcome::Unchanged));
    let (approved, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(1));
    assert!(matches!(
        refused(&approved, cancel(&agent), at(2)),
        Refusal::Conflict {
            current_status: Status::Approved,
            ..
        }
    ));
    // A cancelled request cannot be decided; the conflict names who cancelled.
    assert_eq!(
        refused(&next, decide(&who("alice", &[]), Verdict::Approved), at(3)),
        Refusal::Conflict {
            current_status: Status::Cancelled,
            decided_by: Some("agent".into()),
            decided_at: None,
        }
    );
}

#[test]
fn execute_once_by_the_requester_with_the_approved_context() {
    let a = new_approval(&["alice"], None);
    let agent = who("agent", &[]);
    let exec = |hash: Option<&str>| Command::Execute {
        by: &agent,
        context_hash: hash.map(str::to_owned),
    };
    assert!(matches!(
        refused(&a, exec(None), at(1)),
        Refusal::Conflict {
            current_status: Status::Pending,
            ..
        }
    ));
    let (approved, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(1));
    assert_eq!(
        refused(
            &approved,
            Command::Execute {
                by: &who("alice", &[]),
                context_hash: None
            },
            at(2)
        ),
        Refusal::NotRequester
    );
    let wrong = "0".repeat(64);
    assert_eq!(
        refused(&approved, exec(Some(&wrong)), at(2)),
        Refusal::ContextMismatch
    );
    // No hash proves nothing: refused by the limits (422 naming it) and by the rule alike.
    assert_eq!(exec(None).check_limits().unwrap_err().field, "context_hash");
    assert_eq!(
        refused(&approved, exec(None), at(2)),
        Refusal::ContextMismatch
    );
    // The hash binds the action, the tool call and the context.
    let right = crate::json::canonical::digest(&json!({
        "action": approved.action,
        "tool_call": approved.tool_call,
        "context": {"instance": "i-123"},
    }));
    assert_eq!(approved.context_hash, right);
    let (done, record) = changed(&approved, exec(Some(&right)), at(2));
    assert_eq!(
        (done.status, done.executed_at),
        (Status::Executed, Some(at(2)))
    );
    assert_eq!(record.event, AuditEvent::Executed);
    assert!(matches!(
        refused(&done, exec(None), at(3)),
        Refusal::Conflict {
            current_status: Status::Executed,
            ..
        }
    ));
}

#[test]
fn execute_after_modify_and_never_after_reject_or_expiry() {
    let a = new_approval(&["alice"], None);
    let agent = who("agent", &[]);
    let (modified, _) = changed(&a, modify(&who("alice", &[]), json!({"y": 2})), at(1));
    let exec = Command::Execute {
        by: &agent,
        context_hash: Some(modified.bound_hash()),
    };
    // The hash binds the edits: the request as sent no longer proves what runs.
    let unedited = Command::Execute {
        by: &agent,
        context_hash: Some(a.context_hash.clone()),
    };
    assert_eq!(
        refused(&modified, unedited, at(2)),
        Refusal::ContextMismatch
    );
    changed(&modified, exec.clone(), at(2));
    let (rejected, _) = changed(&a, decide(&who("alice", &[]), Verdict::Rejected), at(1));
    assert!(matches!(
        refused(&rejected, exec.clone(), at(2)),
        Refusal::Conflict { .. }
    ));
    let (expired, _) = changed(&a, Command::Expire, at(600));
    assert!(matches!(
        refused(&expired, exec, at(601)),
        Refusal::Conflict { .. }
    ));
}

#[test]
fn escalation_reassigns_keeps_pending_and_sets_the_next_deadline() {
    let mut req = request(&["alice"], None);
    req.escalation = vec![
        EscalationLevel {
            after_seconds: 60,
            reviewers: vec!["bob".into()],
        },
        EscalationLevel {
            after_seconds: 120,
            reviewers: vec!["role:oncall".into()],
        },
    ];
    let (mut a, _) = req
        .into_approval(
            &who("agent", &[]),
            &crate::domain::request::Gate::open(),
            ExpiryBounds::default(),
            t0(),
        )
        .unwrap();
    assert_eq!(a.next_deadline(), Some(t0()), "unpublished: due at once");
    a.published_seq = 1;
    assert_eq!(a.next_deadline(), Some(at(60)));
    assert_eq!(refused(&a, Command::Escalate, at(59)), Refusal::NotDue);
    let (one, record) = changed(&a, Command::Escalate, at(61));
    assert_eq!(record.event, AuditEvent::Escalated);
    assert_eq!((one.status, one.escalation_level), (Status::Pending, 1));
    assert_eq!(one.reviewers, ["bob"]);
    assert_eq!(one.next_deadline(), Some(at(181)));
    // The original reviewer lost the request; the new one has it.
    assert_eq!(
        refused(&one, decide(&who("alice", &[]), Verdict::Approved), at(62)),
        Refusal::NotAReviewer
    );
    let (two, _) = changed(&one, Command::Escalate, at(181));
    assert_eq!(two.reviewers, ["role:oncall"]);
    assert_eq!(two.escalates_at, None);
    // Escalations leave the reminder where it was: the last level's reviewers get it.
    assert_eq!(two.reminds_at, a.reminds_at);
    assert_eq!(two.next_deadline(), Some(at(480)));
    assert_eq!(refused(&two, Command::Escalate, at(500)), Refusal::NotDue);
}
