//! The deadlines: an approved approval lapses when its execution window closes; a pending one's
//! deadline may be extended by its reviewers or an admin, up to its latest expiry.

use serde_json::json;

use super::*;
use crate::domain::approval::DEFAULT_EXECUTE_WITHIN_SECONDS;

fn exec<'a>(by: &'a Principal, hash: &str) -> Command<'a> {
    Command::Execute {
        by,
        context_hash: Some(hash.to_owned()),
    }
}

fn extend(by: &Principal, seconds: u32) -> Command<'_> {
    Command::Extend {
        by,
        seconds,
        reason: Some("needs the owner".into()),
        max_lifetime_seconds: ExpiryBounds::default().max_seconds,
    }
}

/// Approved by alice at `at(10)`, with a window of 60 seconds.
fn approved() -> Approval {
    let mut req = request(&["alice"], None);
    req.execute_within_seconds = Some(60);
    let (mut a, _) = req
        .into_approval(
            &who("agent", &[]),
            &crate::domain::request::Gate::open(),
            ExpiryBounds::default(),
            t0(),
        )
        .unwrap();
    a.published_seq = 1;
    changed(&a, decide(&who("alice", &[]), Verdict::Approved), at(10)).0
}

#[test]
fn an_approval_lapses_when_its_window_closes() {
    let a = approved();
    let agent = who("agent", &[]);
    assert_eq!(a.execute_by(), Some(at(70)));
    assert_eq!(a.next_deadline(), Some(at(70)), "the sweep finds it then");
    assert_eq!(a.status_at(at(69)), Status::Approved);
    assert_eq!(a.status_at(at(70)), Status::Lapsed, "lazily, like expiry");
    assert!(due(&a, at(69)).is_none());
    assert!(matches!(due(&a, at(70)), Some(Command::Lapse)));
    // Inside the window it runs; from its end on it is refused, before any sweep.
    changed(&a, exec(&agent, &a.context_hash), at(69));
    let closed = Refusal::ExecutionWindowClosed { execute_by: at(70) };
    assert_eq!(refused(&a, exec(&agent, &a.context_hash), at(70)), closed);
    assert_eq!(refused(&a, Command::Lapse, at(69)), Refusal::NotDue);
    let (lapsed, record) = changed(&a, Command::Lapse, at(71));
    assert_eq!(lapsed.status, Status::Lapsed);
    assert_eq!(
        (record.event, record.actor.as_str()),
        (AuditEvent::Lapsed, "holdpoint")
    );
    assert_eq!(
        record.payload,
        json!({"execute_by": crate::time::format(&at(70))}).into()
    );
    // Terminal: nothing more is due, and executing it is refused the same way.
    assert_eq!(lapsed.next_deadline(), None);
    assert!(due(&lapsed, at(999)).is_none());
    assert_eq!(refused(&lapsed, Command::Lapse, at(72)), Refusal::NotDue);
    assert_eq!(
        refused(&lapsed, exec(&agent, &a.context_hash), at(72)),
        closed
    );
    assert!(matches!(
        refused(
            &lapsed,
            decide(&who("alice", &[]), Verdict::Rejected),
            at(72)
        ),
        Refusal::Conflict {
            current_status: Status::Lapsed,
            ..
        }
    ));
}

#[test]
fn a_modified_approval_lapses_too_and_keeps_binding_its_edits() {
    let a = new_approval(&["alice"], None);
    let (modified, _) = changed(&a, modify(&who("alice", &[]), json!({"y": 2})), at(1));
    let by = DEFAULT_EXECUTE_WITHIN_SECONDS;
    let end = at(1 + i64::from(by));
    assert_eq!(modified.execute_by(), Some(end), "the default window");
    let (lapsed, _) = changed(&modified, Command::Lapse, end);
    assert_eq!(lapsed.bound_hash(), modified.context_hash);
}

#[test]
fn approvals_made_before_windows_lapse_when_read_but_keep_their_row_deadline() {
    let mut a = approved();
    a.execute_within_seconds = None;
    let end = at(10 + i64::from(DEFAULT_EXECUTE_WITHIN_SECONDS));
    assert_eq!(a.execute_by(), Some(end));
    assert_eq!(a.status_at(end), Status::Lapsed);
    assert_eq!(a.next_deadline(), None, "stored rows had no deadline then");
}

#[test]
fn reviewers_extend_a_pending_deadline_within_the_maximum() {
    let a = new_approval(&["alice", "role:ops"], None);
    let alice = who("alice", &[]);
    let (next, record) = changed(&a, extend(&alice, 3600), at(5));
    assert_eq!(next.expires_at, a.expires_at + TimeDelta::hours(1));
    assert_eq!(
        (next.status, record.event),
        (Status::Pending, AuditEvent::Extended)
    );
    assert_eq!(record.actor, "alice");
    assert_eq!(
        record.payload,
        json!({
            "seconds": 3600,
            "reason": "needs the owner",
            "expires_at": crate::time::format(&next.expires_at),
        })
        .into()
    );
    assert_eq!(
        next.escalates_at, a.escalates_at,
        "the escalation timer stays"
    );
    // A member of a reviewer role may too; the new deadline holds for deciding.
    let ops = who("carol", &["ops"]);
    let (later, _) = changed(&next, extend(&ops, 60), at(6));
    assert_eq!(later.status_at(a.expires_at), Status::Pending);
    changed(&later, decide(&alice, Verdict::Approved), a.expires_at);
}

#[test]
fn an_extension_never_passes_the_latest_expiry() {
    let mut a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    a.latest_expiry = Some(a.expires_at + TimeDelta::seconds(100));
    changed(&a, extend(&alice, 100), at(1));
    assert_eq!(
        refused(&a, extend(&alice, 101), at(1)),
        Refusal::PastLatestExpiry {
            latest_expiry: a.expires_at + TimeDelta::seconds(100)
        }
    );
    // An approval that recorded none is bound by the service's longest lifetime.
    a.latest_expiry = None;
    let cmd = |seconds| Command::Extend {
        by: &alice,
        seconds,
        reason: None,
        max_lifetime_seconds: 1200,
    };
    changed(&a, cmd(600), at(1));
    assert_eq!(
        refused(&a, cmd(601), at(1)),
        Refusal::PastLatestExpiry {
            latest_expiry: t0() + TimeDelta::seconds(1200)
        }
    );
}

#[test]
fn only_pending_approvals_are_extended() {
    let a = new_approval(&["alice"], None);
    let alice = who("alice", &[]);
    assert!(matches!(
        refused(&a, extend(&alice, 60), a.expires_at),
        Refusal::Conflict {
            current_status: Status::Expired,
            ..
        }
    ));
    let (approved, _) = changed(&a, decide(&alice, Verdict::Approved), at(1));
    assert!(matches!(
        refused(&approved, extend(&alice, 60), at(2)),
        Refusal::Conflict {
            current_status: Status::Approved,
            ..
        }
    ));
}

#[test]
fn who_may_extend() {
    let a = new_approval(&["alice"], None);
    for (by, refusal) in [
        (who("mallory", &[]), Refusal::NotAReviewer),
        // The requester cannot keep its own request open, even holding a reviewer's name.
        (who("agent", &[]), Refusal::NotAReviewer),
        (
            Principal {
                kind: crate::domain::identity::PrincipalKind::Agent,
                ..who("alice", &["admin"])
            },
            Refusal::AgentCannotDecide,
        ),
    ] {
        assert_eq!(refused(&a, extend(&by, 60), at(1)), refusal, "{by:?}");
    }
    // An admin may, and an admin requester too.
    changed(&a, extend(&who("root", &["admin"]), 60), at(1));
    changed(&a, extend(&who("agent", &["admin"]), 60), at(1));
    // After an escalation only the new level's reviewers may.
    let mut escalated = a.clone();
    escalated.reviewers = vec!["bob".into()];
    assert_eq!(
        refused(&escalated, extend(&who("alice", &[]), 60), at(1)),
        Refusal::NotAReviewer
    );
}

#[test]
fn extension_seconds_and_reason_are_bounded() {
    let alice = who("alice", &[]);
    for (seconds, ok) in [
        (0, false),
        (1, true),
        (EXTEND_SECONDS, true),
        (EXTEND_SECONDS + 1, false),
    ] {
        let limits = extend(&alice, seconds).check_limits();
        assert_eq!(limits.is_ok(), ok, "{seconds}");
        if let Err(e) = limits {
            assert_eq!(e.field, "seconds");
        }
    }
    let long = Command::Extend {
        by: &alice,
        seconds: 60,
        reason: Some("x".repeat(limits::TEXT_CHARS + 1)),
        max_lifetime_seconds: 600,
    };
    assert_eq!(long.check_limits().unwrap_err().field, "reason");
}
