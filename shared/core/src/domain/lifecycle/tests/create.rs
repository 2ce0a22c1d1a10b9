//! What a request may ask: the checks of creation.

use serde_json::json;

use super::*;
use crate::domain::request::Gate;

#[test]
fn create_refuses_what_cannot_be_approved() {
    let agent = who("agent", &[]);
    let bounds = ExpiryBounds::default();
    let field = |req: CreateRequest| {
        req.into_approval(&agent, &crate::domain::request::Gate::open(), bounds, t0())
            .unwrap_err()
            .field
    };
    assert_eq!(field(request(&[], None)), "reviewers");
    assert_eq!(
        field(request(&["agent"], None)),
        "reviewers",
        "only the requester"
    );
    assert_eq!(field(request(&["alice"], Some(2))), "quorum");
    assert_eq!(field(request(&["alice"], Some(0))), "quorum");
    assert_eq!(field(request(&["alice", "alice"], None)), "reviewers[1]");
    // Names are unique whatever their case: `Alice` is `alice` listed twice.
    assert_eq!(field(request(&["alice", "Alice"], None)), "reviewers[1]");
    assert_eq!(
        field(request(&["role:Ops", "role:ops"], None)),
        "reviewers[1]"
    );
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
            .into_approval(&agent, &crate::domain::request::Gate::open(), bounds, t0())
            .is_ok()
    );
}

#[test]
fn every_reviewer_named_is_a_principal_or_role_name() {
    let agent = who("agent", &[]);
    let bounds = ExpiryBounds::default();
    let field = |req: CreateRequest| {
        req.into_approval(&agent, &crate::domain::request::Gate::open(), bounds, t0())
            .err()
    };
    let x64 = "x".repeat(64);
    let role64 = format!("role:{x64}");
    for good in [
        "ops-bot_1.a@x",
        x64.as_str(),
        "role:sre.eu",
        role64.as_str(),
    ] {
        assert_eq!(field(request(&[good], None)), None, "{good:?}");
    }
    let x65 = "x".repeat(65);
    let role65 = format!("role:{x65}");
    for bad in [
        "a b",
        "é",
        "a:b",
        "role:",
        "role:a b",
        "role:role:a",
        &x65,
        &role65,
    ] {
        let refused = field(request(&["alice", bad], None)).map(|e| e.field);
        assert_eq!(refused.as_deref(), Some("reviewers[1]"), "{bad:?}");
    }
    // Escalation levels name reviewers by the same rule.
    let mut r = request(&["alice"], None);
    r.escalation = vec![EscalationLevel {
        after_seconds: 60,
        reviewers: vec!["bob".into(), "bo b".into()],
    }];
    assert_eq!(
        field(r).map(|e| e.field).as_deref(),
        Some("escalation[0].reviewers[1]")
    );
    // An agent id is an identifier, not a principal: other characters stay allowed.
    let mut r = request(&["alice"], None);
    r.agent_id = "billing agent: é".into();
    assert_eq!(field(r), None);
}

/// A policy's gate laid over what an agent asked.
mod gate {
    use crate::domain::approval::EscalationLevel;
    use crate::domain::request::{CreateRequest, Gate};

    fn asked() -> CreateRequest {
        let mut r = CreateRequest::new("pay", "bot", ["lenient"]);
        r.quorum = Some(1);
        r.expires_in_seconds = Some(7 * 86_400);
        r.escalation = vec![EscalationLevel {
            after_seconds: 1,
            reviewers: vec!["lenient2".into()],
        }];
        r
    }

    fn strict() -> Gate {
        Gate {
            reviewers: vec!["role:finance".into()],
            agent_may_add_reviewers: false,
            min_quorum: 2,
            requirements: vec![crate::domain::approval::Requirement {
                rule: "finance".into(),
                reviewers: vec!["role:finance".into()],
                quorum: 2,
            }],
            max_expires_in: Some(3_600),
            escalation: Vec::new(),
            max_execute_within: Some(600),
            governance: None,
            remind_at: None,
        }
    }

    #[test]
    fn the_open_gate_keeps_the_request() {
        let r = asked();
        let applied = r.clone().under(&Gate::open());
        assert_eq!(applied, r);
    }

    #[test]
    fn an_agent_cannot_weaken_a_rule() {
        let applied = asked().under(&strict());
        assert_eq!(applied.reviewers, ["role:finance"]);
        assert_eq!(applied.quorum, Some(2));
        let mut zero = asked();
        zero.quorum = Some(0);
        assert_eq!(zero.under(&strict()).quorum, Some(0), "left for the checks");
        assert_eq!(applied.expires_in_seconds, Some(3_600));
        assert_eq!(
            applied.execute_within_seconds, None,
            "held under the ceiling at build"
        );
        assert!(
            applied.escalation.is_empty(),
            "the agent's chain would swap reviewers"
        );
    }

    #[test]
    fn an_agent_may_be_stricter_and_add_reviewers_when_allowed() {
        let mut r = asked();
        r.quorum = Some(3);
        r.expires_in_seconds = Some(120);
        r.execute_within_seconds = Some(60);
        let gate = Gate {
            agent_may_add_reviewers: true,
            ..strict()
        };
        let applied = r.under(&gate);
        assert_eq!(applied.reviewers, ["role:finance", "lenient"]);
        assert!(
            applied.escalation.is_empty(),
            "an agent's level would replace the rule's reviewers"
        );
        assert_eq!(applied.quorum, Some(3));
        assert_eq!(applied.expires_in_seconds, Some(120));
        assert_eq!(applied.execute_within_seconds, Some(60));
    }
}

/// A request a rule settles asks nobody: should the settling write never happen, nobody can
/// decide what waits (it fails closed), whatever reviewers the agent named.
#[test]
fn a_settled_request_names_no_reviewer_and_nobody_can_decide_it() {
    let agent = who("agent", &[]);
    let mut asked = request(&["alice", "role:admin"], Some(2));
    asked.execute_within_seconds = Some(30 * 86_400);
    asked.escalation = vec![crate::domain::approval::EscalationLevel {
        after_seconds: 1,
        reviewers: vec!["bob".into()],
    }];
    let governance = crate::domain::approval::Governance {
        policy_version: 3,
        rules: vec!["read-only".into()],
    };
    let (a, record) = asked
        .into_settled_approval(&agent, governance.clone(), ExpiryBounds::default(), t0())
        .unwrap();
    assert!(a.reviewers.is_empty() && a.escalation.is_empty());
    assert_eq!(a.quorum, 1);
    assert_eq!(
        a.execute_within_seconds,
        Some(3_600),
        "the default is an allow's ceiling"
    );
    assert_eq!(a.governed_by, Some(governance));
    assert!(
        record.payload.text().contains("\"reviewers\":[]"),
        "{}",
        record.payload.text()
    );
    for by in [who("alice", &[]), who("root", &["admin"]), who("bob", &[])] {
        let cmd = Command::Decide {
            by: &by,
            verdict: Verdict::Approved,
            comment: None,
            modified_output: None,
        };
        assert_eq!(apply(&a, cmd, t0()), Err(Refusal::NotAReviewer), "{by:?}");
    }
}

/// A rule's ceilings bound what the agent asks; they never lengthen the service's defaults.
#[test]
fn a_rules_ceilings_are_not_defaults() {
    let agent = who("agent", &[]);
    let gate = Gate {
        max_expires_in: Some(86_400),
        max_execute_within: Some(86_400),
        ..Gate::open()
    };
    let mut asked = request(&["alice"], None);
    asked.expires_in_seconds = None;
    let (a, _) = asked
        .into_approval(&agent, &gate, ExpiryBounds::default(), t0())
        .unwrap();
    assert_eq!(a.expires_at, t0() + TimeDelta::seconds(3_600));
    assert_eq!(a.execute_within_seconds, Some(3_600));
    // A service bound below the rule's ceiling holds the latest expiry too.
    let bounds = ExpiryBounds {
        max_seconds: 7_200,
        ..ExpiryBounds::default()
    };
    let (a, _) = request(&["alice"], None)
        .into_approval(&agent, &gate, bounds, t0())
        .unwrap();
    assert_eq!(a.latest_expiry, Some(t0() + TimeDelta::seconds(7_200)));
    // A ceiling below the default holds what the agent left out.
    let tight = Gate {
        max_expires_in: Some(300),
        max_execute_within: Some(600),
        ..Gate::open()
    };
    let mut asked = request(&["alice"], None);
    asked.expires_in_seconds = None;
    let (a, _) = asked
        .into_approval(&agent, &tight, ExpiryBounds::default(), t0())
        .unwrap();
    assert_eq!(a.expires_at, t0() + TimeDelta::seconds(300));
    assert_eq!(a.execute_within_seconds, Some(600));
    assert_eq!(a.latest_expiry, Some(t0() + TimeDelta::seconds(300)));
}

/// Reviewers the agent adds, or another rule's, never count towards a rule's own quorum.
#[test]
fn a_rules_quorum_is_met_by_its_own_reviewers_only() {
    let agent = who("agent", &[]);
    let gate = Gate {
        reviewers: vec!["role:finance".into()],
        min_quorum: 2,
        requirements: vec![crate::domain::approval::Requirement {
            rule: "finance".into(),
            reviewers: vec!["role:finance".into()],
            quorum: 2,
        }],
        ..Gate::open()
    };
    let (a, _) = request(&["bob", "carol"], Some(2))
        .into_approval(&agent, &gate, ExpiryBounds::default(), t0())
        .unwrap();
    assert_eq!(a.reviewers, ["role:finance", "bob", "carol"]);
    let approve = |a: &Approval, by: &Principal| {
        let cmd = Command::Decide {
            by,
            verdict: Verdict::Approved,
            comment: None,
            modified_output: None,
        };
        match apply(a, cmd, t0()).unwrap() {
            Outcome::Changed(next, _) => *next,
            Outcome::Unchanged => panic!("unchanged"),
        }
    };
    let (bob, carol) = (who("bob", &[]), who("carol", &[]));
    let (fin1, fin2) = (who("fin1", &["finance"]), who("fin2", &["finance"]));
    let a = approve(&approve(&a, &bob), &carol);
    assert_eq!(
        a.status,
        Status::Pending,
        "two of the agent's own: not enough"
    );
    let a = approve(&a, &fin1);
    assert_eq!(a.status, Status::Pending, "one of finance: not enough");
    assert_eq!(a.approvals[2].meets, ["finance"]);
    assert!(a.approvals[0].meets.is_empty());
    let a = approve(&a, &fin2);
    assert_eq!(a.status, Status::Approved);

    // And a rule whose quorum its reviewers cannot give without the requester is refused.
    let gate = Gate {
        reviewers: vec!["agent".into(), "alice".into()],
        requirements: vec![crate::domain::approval::Requirement {
            rule: "pair".into(),
            reviewers: vec!["agent".into(), "alice".into()],
            quorum: 2,
        }],
        ..Gate::open()
    };
    let refused = request(&[], None)
        .into_approval(&agent, &gate, ExpiryBounds::default(), t0())
        .unwrap_err();
    assert_eq!(refused.field, "reviewers");
}
