//! Deciding: quorums, roles, rejections, edits, and who may decide at all.

use serde_json::json;

use super::*;

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
    // What may run is the edited output: the hash the requester proves at execute binds it.
    let edits = json!({"limit": 5}).into();
    assert_eq!(
        next.context_hash,
        request(&["alice"], None).context_hash(Some(&edits))
    );
    assert_ne!(next.context_hash, a.context_hash);
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

fn agent_kind(name: &str, roles: &[&str]) -> Principal {
    Principal {
        kind: crate::domain::identity::PrincipalKind::Agent,
        ..who(name, roles)
    }
}

#[test]
fn an_agent_never_decides_named_or_through_a_role() {
    let a = new_approval(&["bot", "role:sre", "alice"], None);
    for bot in [agent_kind("bot", &[]), agent_kind("sre-bot", &["sre"])] {
        assert!(bot.is_reviewer(&a.reviewers), "{bot:?} is a reviewer");
        for cmd in [
            decide(&bot, Verdict::Approved),
            decide(&bot, Verdict::Rejected),
            modify(&bot, json!({"x": 1})),
        ] {
            assert_eq!(refused(&a, cmd, at(1)), Refusal::AgentCannotDecide);
        }
    }
    // Refused before anything else is looked at: a decided approval, or a request of its own.
    let (done, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(1));
    assert_eq!(
        refused(
            &done,
            decide(&agent_kind("bot", &[]), Verdict::Approved),
            at(2)
        ),
        Refusal::AgentCannotDecide
    );
    assert_eq!(
        refused(
            &a,
            decide(&agent_kind("agent", &[]), Verdict::Approved),
            at(1)
        ),
        Refusal::AgentCannotDecide
    );
    // The same names as humans still decide.
    let (next, _) = changed(&a, decide(&who("bot", &[]), Verdict::Approved), at(1));
    assert_eq!(next.status, Status::Approved);
    let (next, _) = changed(
        &a,
        modify(&who("sre-bot", &["sre"]), json!({"x": 1})),
        at(1),
    );
    assert_eq!(next.status, Status::Modified);
}

#[test]
fn an_agent_does_not_count_toward_a_quorum() {
    let a = new_approval(&["alice", "role:sre"], Some(2));
    let (one, _) = changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(1));
    assert_eq!(
        refused(
            &one,
            decide(&agent_kind("bot", &["sre"]), Verdict::Approved),
            at(2)
        ),
        Refusal::AgentCannotDecide
    );
    let (two, _) = changed(
        &one,
        decide(&who("carol", &["sre"]), Verdict::Approved),
        at(2),
    );
    assert_eq!(two.status, Status::Approved);
}
