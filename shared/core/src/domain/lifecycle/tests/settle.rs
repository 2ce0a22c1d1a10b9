//! A policy rule settling a request at creation: decided by `policy:<rule>`, once, and never
//! over a reviewer or after the request has moved on.

use super::*;

fn settle(rule: &str, verdict: Verdict) -> Command<'_> {
    Command::Settle {
        rule,
        verdict,
        reason: Some("production deletes need a change request".into()),
    }
}

#[test]
fn a_rule_rejects_or_approves_a_fresh_request_in_its_own_name() {
    let a = new_approval(&["alice"], None);
    let (rejected, record) = changed(&a, settle("prod-deletes", Verdict::Rejected), at(0));
    assert_eq!(rejected.status, Status::Rejected);
    let d = rejected.decision.as_ref().unwrap();
    assert_eq!(d.by, "policy:prod-deletes");
    assert_eq!(
        d.comment.as_deref(),
        Some("production deletes need a change request")
    );
    assert_eq!(
        (record.event, record.actor.as_str()),
        (AuditEvent::Rejected, "policy:prod-deletes")
    );
    // The same settlement again changes nothing; another is a conflict.
    assert_eq!(
        apply(&rejected, settle("prod-deletes", Verdict::Rejected), at(1)),
        Ok(Outcome::Unchanged)
    );
    assert!(matches!(
        refused(&rejected, settle("read-only", Verdict::Approved), at(1)),
        Refusal::Conflict { .. }
    ));

    let (approved, record) = changed(&a, settle("read-only", Verdict::Approved), at(0));
    assert_eq!(approved.status, Status::Approved);
    assert_eq!(
        approved.context_hash, a.context_hash,
        "runs with the hash it was asked with"
    );
    assert_eq!(record.event, AuditEvent::Approved);
}

#[test]
fn a_rule_never_settles_over_a_reviewer_or_a_late_request() {
    let a = new_approval(&["alice", "bob"], Some(2));
    let alice = who("alice", &[]);
    let (voted, _) = changed(&a, decide(&alice, Verdict::Approved), at(1));
    assert!(matches!(
        refused(&voted, settle("read-only", Verdict::Approved), at(2)),
        Refusal::Conflict { .. }
    ));
    assert!(matches!(
        refused(&a, settle("read-only", Verdict::Approved), at(3_600)),
        Refusal::Conflict { .. }
    ));
    // Only approve and reject are a rule's to give.
    assert!(matches!(
        refused(&a, settle("edit", Verdict::Modified), at(1)),
        Refusal::Conflict { .. }
    ));
}
