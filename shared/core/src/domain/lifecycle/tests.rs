use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::approval::EscalationLevel;
use crate::domain::request::{CreateRequest, ExpiryBounds};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

fn who(name: &str, roles: &[&str]) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

fn request(reviewers: &[&str], quorum: Option<u32>) -> CreateRequest {
    serde_json::from_value(json!({
        "action": "terminate i-123",
        "agent_id": "ops-agent",
        "reviewers": reviewers,
        "quorum": quorum,
        "context": {"instance": "i-123"},
        "expires_in_seconds": 600,
    }))
    .unwrap()
}

/// A new approval with nothing left to publish, so deadlines alone make it due.
fn new_approval(reviewers: &[&str], quorum: Option<u32>) -> Approval {
    let mut a = request(reviewers, quorum)
        .into_approval(&who("agent", &[]), ExpiryBounds::default(), t0())
        .unwrap()
        .0;
    a.published_seq = 1;
    a
}

fn decide(by: &Principal, verdict: Verdict) -> Command<'_> {
    Command::Decide {
        by,
        verdict,
        comment: Some("looks right".into()),
        modified_output: None,
    }
}

fn modify(by: &Principal, output: serde_json::Value) -> Command<'_> {
    Command::Decide {
        by,
        verdict: Verdict::Modified,
        comment: None,
        modified_output: Some(output.into()),
    }
}

/// Applies and unwraps a change, checking the version and chain advance with it.
fn changed(a: &Approval, cmd: Command<'_>, now: DateTime<Utc>) -> (Approval, AuditRecord) {
    match apply(a, cmd, now) {
        Ok(Outcome::Changed(mut next, record)) => {
            assert!(next.unpublished(), "a change is an event to publish");
            next.published_seq = record.sequence;
            assert_eq!(next.version, a.version + 1);
            assert_eq!(record.sequence, a.audit_head.sequence + 1);
            assert_eq!(record.prev_hash, a.audit_head.hash);
            assert_eq!(next.audit_head, record.head());
            (*next, *record)
        }
        other => panic!("expected a change, got {other:?}"),
    }
}

fn refused(a: &Approval, cmd: Command<'_>, now: DateTime<Utc>) -> Refusal {
    match apply(a, cmd, now) {
        Err(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn approve_with_quorum_one_decides() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    let (next, record) = changed(&a, decide(&alice, Verdict::Approved), at(1));
    assert_eq!(next.status, Status::Approved);
    assert_eq!(record.event, AuditEvent::Approved);
    let d = next.decision.unwrap();
    assert_eq!(
        (d.decision, d.by.as_str(), d.at),
        (Verdict::Approved, "alice", at(1))
    );
}

#[test]
fn a_role_reviewer_may_decide() {
    let a = new_approval(&["role:sre"], None);
    let (next, _) = changed(
        &a,
        decide(&who("carol", &["sre"]), Verdict::Approved),
        at(1),
    );
    assert_eq!(next.status, Status::Approved);
    assert_eq!(
        refused(&a, decide(&who("dave", &["dev"]), Verdict::Approved), at(1)),
        Refusal::NotAReviewer
    );
}

#[test]
fn quorum_needs_distinct_approvers_and_repeats_are_idempotent() {
    let a = new_approval(&["alice", "bob", "carol"], Some(2));
    let (alice, bob) = (who("alice", &[]), who("bob", &[]));
    let (one, record) = changed(&a, decide(&alice, Verdict::Approved), at(1));
    assert_eq!(one.status, Status::Pending);
    assert_eq!(record.event, AuditEvent::ApprovalRecorded);
    assert_eq!(one.approvals.len(), 1);
    assert_eq!(
        apply(&one, decide(&alice, Verdict::Approved), at(2)),
        Ok(Outcome::Unchanged)
    );
    let (two, record) = changed(&one, decide(&bob, Verdict::Approved), at(3));
    assert_eq!(two.status, Status::Approved);
    assert_eq!(record.event, AuditEvent::Approved);
    assert_eq!(two.approvals.len(), 2);
    // Both approvers repeating their decision after the fact is idempotent.
    for p in [&alice, &bob] {
        assert_eq!(
            apply(&two, decide(p, Verdict::Approved), at(4)),
            Ok(Outcome::Unchanged)
        );
    }
    // Carol, who did not approve, conflicts.
    assert_eq!(
        refused(&two, decide(&who("carol", &[]), Verdict::Approved), at(4)),
        Refusal::Conflict {
            current_status: Status::Approved,
            decided_by: Some("bob".into()),
            decided_at: Some(at(3)),
        }
    );
}

#[test]
fn one_rejection_rejects_whatever_the_quorum() {
    let a = new_approval(&["alice", "bob", "carol"], Some(3));
    let (one, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(1));
    let (next, record) = changed(&one, decide(&who("bob", &[]), Verdict::Rejected), at(2));
    assert_eq!(next.status, Status::Rejected);
    assert_eq!(record.event, AuditEvent::Rejected);
    assert_eq!(next.decided_by(), Some("bob"));
}

#[test]
fn a_rejection_needs_a_comment() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    for comment in [None, Some("   ".to_string())] {
        let cmd = Command::Decide {
            by: &alice,
            verdict: Verdict::Rejected,
            comment,
            modified_output: None,
        };
        assert_eq!(refused(&a, cmd, at(1)), Refusal::CommentRequired);
    }
}

#[test]
fn modify_with_quorum_one_decides_with_the_edits() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    let (next, record) = changed(&a, modify(&alice, json!({"limit": 5})), at(1));
    assert_eq!(next.status, Status::Modified);
    assert_eq!(record.event, AuditEvent::Modified);
    assert_eq!(
        next.decision.as_ref().unwrap().modified_output,
        Some(json!({"limit": 5}).into())
    );
    // The same edits again are idempotent; other edits conflict.
    assert_eq!(
        apply(&next, modify(&alice, json!({"limit": 5})), at(2)),
        Ok(Outcome::Unchanged)
    );
    assert!(matches!(
        refused(&next, modify(&alice, json!({"limit": 6})), at(2)),
        Refusal::Conflict {
            current_status: Status::Modified,
            ..
        }
    ));
}

#[test]
fn modify_needs_an_output_and_approve_takes_none() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    for output in [None, Some(crate::json::document::Document::null())] {
        let cmd = Command::Decide {
            by: &alice,
            verdict: Verdict::Modified,
            comment: None,
            modified_output: output,
        };
        assert_eq!(refused(&a, cmd, at(1)), Refusal::ModifiedOutputRequired);
    }
    let cmd = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: Some(json!({}).into()),
    };
    assert_eq!(refused(&a, cmd, at(1)), Refusal::UnexpectedModifiedOutput);
}

#[test]
fn edits_under_a_quorum_clear_earlier_approvals_and_end_modified() {
    let a = new_approval(&["alice", "bob", "carol"], Some(2));
    let (alice, bob, carol) = (who("alice", &[]), who("bob", &[]), who("carol", &[]));
    let (one, _) = changed(&a, decide(&alice, Verdict::Approved), at(1));
    let (edited, record) = changed(&one, modify(&bob, json!({"x": 1})), at(2));
    assert_eq!(record.event, AuditEvent::ApprovalRecorded);
    assert_eq!(edited.status, Status::Pending);
    assert_eq!(edited.proposed_output, Some(json!({"x": 1}).into()));
    let voters: Vec<_> = edited.approvals.iter().map(|v| v.by.as_str()).collect();
    assert_eq!(
        voters,
        ["bob"],
        "alice approved the original, not the edits"
    );
    let (done, record) = changed(&edited, decide(&carol, Verdict::Approved), at(3));
    assert_eq!(done.status, Status::Modified);
    assert_eq!(record.event, AuditEvent::Modified);
    assert_eq!(
        done.decision.unwrap().modified_output,
        Some(json!({"x": 1}).into())
    );
}

#[test]
fn the_requester_never_decides_its_own_request() {
    let a = new_approval(&["agent", "alice"], None);
    assert_eq!(
        refused(&a, decide(&who("agent", &[]), Verdict::Approved), at(1)),
        Refusal::SelfApproval
    );
}

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
    let exec = Command::Execute {
        by: &agent,
        context_hash: None,
    };
    let (modified, _) = changed(&a, modify(&who("alice", &[]), json!({"y": 2})), at(1));
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
        .into_approval(&who("agent", &[]), ExpiryBounds::default(), t0())
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
    assert_eq!(two.next_deadline(), Some(a.expires_at));
    assert_eq!(refused(&two, Command::Escalate, at(500)), Refusal::NotDue);
}

#[test]
fn create_refuses_what_cannot_be_approved() {
    let agent = who("agent", &[]);
    let bounds = ExpiryBounds::default();
    let field = |req: CreateRequest| req.into_approval(&agent, bounds, t0()).unwrap_err().field;
    assert_eq!(field(request(&[], None)), "reviewers");
    assert_eq!(
        field(request(&["agent"], None)),
        "reviewers",
        "only the requester"
    );
    assert_eq!(field(request(&["alice"], Some(2))), "quorum");
    assert_eq!(field(request(&["alice"], Some(0))), "quorum");
    assert_eq!(field(request(&["alice", "alice"], None)), "reviewers[1]");
    assert_eq!(field(request(&["role:"], None)), "reviewers[0]");
    let mut r = request(&["alice"], None);
    r.expires_in_seconds = Some(59);
    assert_eq!(field(r), "expires_in_seconds");
    let mut r = request(&["alice"], None);
    r.expires_in_seconds = Some(2_592_001);
    assert_eq!(field(r), "expires_in_seconds");
    let mut r = request(&["alice"], None);
    r.action = "x".repeat(1_001);
    assert_eq!(field(r), "action");
    let mut r = request(&["alice"], None);
    r.risk_score = Some(101);
    assert_eq!(field(r), "risk_score");
    let mut r = request(&["alice"], None);
    r.context = json!({"big": "x".repeat(70_000)}).into();
    assert_eq!(field(r), "context");
    // A role makes the quorum bounded by the hard limit instead.
    assert!(
        request(&["role:sre"], Some(5))
            .into_approval(&agent, bounds, t0())
            .is_ok()
    );
}
