//! What a policy decides: each outcome, precedence, combined asks, the default, globs, risk,
//! predicates (failing closed), and the README's worked example.

use holdpoint_core::domain::approval::{EscalationLevel, Governance, Requirement};
use holdpoint_core::domain::identity::{Principal, PrincipalKind};
use holdpoint_core::domain::request::{CreateRequest, Gate};
use serde_json::json;

use super::{EXAMPLE, Policy, Ruling};

pub(super) fn known_roles() -> Vec<String> {
    ["finance", "cfo", "ops"].map(String::from).to_vec()
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, &known_roles()).unwrap_or_else(|e| panic!("{text}\n{e:?}"))
}

fn agent(name: &str) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: vec!["bots".into()],
        kind: PrincipalKind::Agent,
    }
}

fn request(action: &str) -> CreateRequest {
    CreateRequest::new(action, "", Vec::<String>::new())
}

fn decide(policy: &Policy, request: &CreateRequest) -> Ruling {
    policy.evaluate(&agent("billing-bot"), request, 7)
}

fn governance(rules: &[&str]) -> Governance {
    Governance {
        policy_version: 7,
        rules: rules.iter().map(|r| r.to_string()).collect(),
    }
}

/// The id naming the ruling ("ask" for an ask), and the matched rules.
fn outcome(ruling: &Ruling) -> (&str, Vec<&str>) {
    match ruling {
        Ruling::Deny {
            rule, governance, ..
        }
        | Ruling::Allow { rule, governance } => (
            rule.as_str(),
            governance.rules.iter().map(String::as_str).collect(),
        ),
        Ruling::Ask { gate } => {
            let g = gate
                .governance
                .as_ref()
                .expect("an ask carries its governance");
            ("ask", g.rules.iter().map(String::as_str).collect())
        }
    }
}

const THREE: &str = r#"
rules:
  - id: no-drops
    match: {action: "drop *"}
    outcome: deny
    reason: never
  - id: refunds
    match: {action: "*refund*"}
    outcome: ask
    reviewers: [alice, "role:finance"]
    quorum: 2
    max_expires_in_seconds: 3600
    execute_within_seconds: 600
    escalation: [{after_seconds: 60, reviewers: ["role:cfo"]}]
    agents_may_add_reviewers: false
  - id: anything
    outcome: allow
"#;

#[test]
fn each_outcome() {
    let p = policy(THREE);
    assert_eq!(
        decide(&p, &request("drop table users")),
        Ruling::Deny {
            rule: "no-drops".into(),
            reason: Some("never".into()),
            governance: governance(&["no-drops", "anything"]),
        }
    );
    assert_eq!(
        decide(&p, &request("issue refund 12")),
        Ruling::Ask {
            gate: Gate {
                reviewers: vec!["alice".into(), "role:finance".into()],
                agent_may_add_reviewers: false,
                min_quorum: 2,
                requirements: vec![Requirement {
                    rule: "refunds".into(),
                    reviewers: vec!["alice".into(), "role:finance".into()],
                    quorum: 2,
                }],
                max_expires_in: Some(3600),
                escalation: vec![EscalationLevel {
                    after_seconds: 60,
                    reviewers: vec!["role:cfo".into()],
                }],
                max_execute_within: Some(600),
                governance: Some(governance(&["refunds", "anything"])),
                remind_at: None,
            }
        }
    );
    assert_eq!(
        decide(&p, &request("send a mail")),
        Ruling::Allow {
            rule: "anything".into(),
            governance: governance(&["anything"]),
        }
    );
}

#[test]
fn deny_beats_ask_beats_allow_whatever_the_order() {
    let p = policy(
        r#"
rules:
  - {id: open, outcome: allow}
  - {id: asked, outcome: ask}
  - {id: shut, outcome: deny}
  - {id: shut-too, outcome: deny}
"#,
    );
    let ruling = decide(&p, &request("x"));
    assert_eq!(
        outcome(&ruling),
        ("shut", vec!["open", "asked", "shut", "shut-too"])
    );
    let p = policy("rules: [{id: open, outcome: allow}, {id: asked, outcome: ask}]");
    assert_eq!(
        outcome(&decide(&p, &request("x"))),
        ("ask", vec!["open", "asked"])
    );
    let p = policy("rules: [{id: one, outcome: allow}, {id: two, outcome: allow}]");
    assert_eq!(
        outcome(&decide(&p, &request("x"))),
        ("one", vec!["one", "two"])
    );
}

#[test]
fn two_asks_combine_into_the_stricter_gate() {
    let p = policy(
        r#"
rules:
  - id: loose
    outcome: ask
    reviewers: [alice, bob]
    quorum: 1
    max_expires_in_seconds: 600
    execute_within_seconds: 30
  - id: no-chain
    outcome: ask
    reviewers: [bob, carol, erin]
    quorum: 3
    max_expires_in_seconds: 86400
    agents_may_add_reviewers: false
  - id: chained
    outcome: ask
    escalation: [{after_seconds: 100, reviewers: ["role:ops"]}]
  - id: chained-later
    outcome: ask
    escalation: [{after_seconds: 5, reviewers: [dave]}]
"#,
    );
    let Ruling::Ask { gate } = decide(&p, &request("x")) else {
        panic!("asks ask")
    };
    assert_eq!(gate.reviewers, ["alice", "bob", "carol", "erin"]);
    assert_eq!(gate.min_quorum, 3);
    // Each rule keeps its own quorum among its own reviewers: the union does not dilute one.
    let own: Vec<_> = gate
        .requirements
        .iter()
        .map(|r| (r.rule.as_str(), r.reviewers.len(), r.quorum))
        .collect();
    assert_eq!(own, [("loose", 2, 1), ("no-chain", 3, 3)]);
    assert_eq!(gate.max_expires_in, Some(600));
    assert_eq!(gate.max_execute_within, Some(30));
    assert!(!gate.agent_may_add_reviewers, "one ask forbids it");
    assert_eq!(gate.escalation[0].reviewers, ["role:ops"]);
    assert_eq!(gate.escalation.len(), 1);
}

#[test]
fn no_match_falls_to_the_default() {
    let rules = "rules: [{id: never, match: {action: nothing}, outcome: allow}]";
    assert_eq!(
        decide(&policy(rules), &request("x")),
        Ruling::Ask {
            gate: Gate {
                governance: Some(governance(&[])),
                ..Gate::open()
            }
        }
    );
    assert_eq!(
        decide(&policy(&format!("default: deny\n{rules}")), &request("x")),
        Ruling::Deny {
            rule: "default".into(),
            reason: Some("no rule of the policy matches, and its default is deny".into()),
            governance: governance(&[]),
        }
    );
    // An empty policy is the default alone.
    assert_eq!(
        outcome(&decide(&policy("default: deny"), &request("x"))).0,
        "default"
    );
}

fn allowed(p: &Policy, caller: &str, r: &CreateRequest) -> bool {
    matches!(p.evaluate(&agent(caller), r, 1), Ruling::Allow { .. })
}

#[test]
fn globs_on_tool_action_agent_and_principal() {
    let tool = policy(
        r#"{"default": "deny", "rules": [{"id": "t", "match": {"tool": "payments.*"}, "outcome": "allow"}]}"#,
    );
    let call = |name: &str| request("x").tool_call(name, &json!({}));
    assert!(allowed(&tool, "b", &call("payments.refund")));
    assert!(
        allowed(&tool, "b", &call("payments.v2/refund")),
        "* crosses . and /"
    );
    assert!(!allowed(&tool, "b", &call("payment.refund")));
    assert!(
        !allowed(&tool, "b", &call("Payments.refund")),
        "case counts"
    );
    assert!(
        !allowed(&tool, "b", &request("payments.refund")),
        "no tool call, no tool match"
    );

    let action =
        policy("default: deny\nrules: [{id: a, match: {action: 'v? [rR]efund*'}, outcome: allow}]");
    assert!(allowed(&action, "b", &request("v2 Refund order 9")));
    assert!(!allowed(&action, "b", &request("v10 refund")));
    assert!(
        !allowed(&action, "b", &request("a v2 refund")),
        "a glob matches the whole name"
    );

    let agents =
        policy("default: deny\nrules: [{id: a, match: {agent: 'billing-*'}, outcome: allow}]");
    let mut named = request("x");
    named.agent_id = "billing-eu".into();
    assert!(allowed(&agents, "someone", &named));
    assert!(
        allowed(&agents, "billing-bot", &request("x")),
        "no agent_id: the caller's name"
    );
    assert!(!allowed(&agents, "support-bot", &request("x")));

    let principals =
        policy("default: deny\nrules: [{id: a, match: {principal: 'ops-*'}, outcome: allow}]");
    assert!(
        allowed(&principals, "ops-1", &named),
        "on the caller, not on agent_id"
    );
    assert!(!allowed(&principals, "billing-eu", &named));
}

#[test]
fn a_risk_range_is_inclusive_and_needs_a_score() {
    let p = policy(
        "default: deny\nrules: [{id: r, match: {risk: {min: 50, max: 80}}, outcome: allow}]",
    );
    for (score, hit) in [(49, false), (50, true), (80, true), (81, false)] {
        assert_eq!(allowed(&p, "b", &request("x").risk(score)), hit, "{score}");
    }
    assert!(
        !allowed(&p, "b", &request("x")),
        "a request without a risk score"
    );
    let p = policy("default: deny\nrules: [{id: r, match: {risk: {min: 90}}, outcome: allow}]");
    assert!(allowed(&p, "b", &request("x").risk(100)));
}

const PREDICATE: &str = "context.amount > 1000";

fn with_outcome(outcome: &str, when: &str) -> Policy {
    let default = if outcome == "allow" { "deny" } else { "ask" };
    policy(&format!(
        "default: {default}\nrules: [{{id: p, match: {{when: '{when}'}}, outcome: {outcome}}}]"
    ))
}

#[test]
fn a_predicate_decides_by_the_request() {
    let p = with_outcome("allow", PREDICATE);
    let amount = |a: serde_json::Value| request("x").context(&json!({ "amount": a }));
    assert!(allowed(&p, "b", &amount(json!(1001))));
    assert!(
        allowed(&p, "b", &amount(json!(1000.5))),
        "double against int"
    );
    assert!(
        allowed(&p, "b", &amount(json!(u64::MAX))),
        "uint against int"
    );
    assert!(!allowed(&p, "b", &amount(json!(1000))));
    assert!(!allowed(&p, "b", &amount(json!(-5))));

    let every = with_outcome(
        "allow",
        r#"tool.name == "db.query" && tool.arguments.rows.all(r, r < 10) && action.startsWith("read") && agent_id == "billing-bot" && principal == "billing-bot" && "bots" in roles && risk == 3"#,
    );
    let r = request("read rows")
        .tool_call("db.query", &json!({"rows": [1, 2]}))
        .risk(3);
    assert!(allowed(&every, "billing-bot", &r));
    assert!(!allowed(&every, "billing-bot", &r.clone().risk(4)));
}

#[test]
fn a_predicate_that_errs_fails_closed() {
    // A missing key, a wrong type, a null tool, a result that is not a boolean.
    let erring = [
        (request("x"), PREDICATE),
        (request("x").context(&json!({"amount": "lots"})), PREDICATE),
        (request("x"), r#"tool.name == "a""#),
        (
            request("x").context(&json!({"amount": 5})),
            "context.amount",
        ),
    ];
    for (r, when) in erring {
        assert!(
            !allowed(&with_outcome("allow", when), "b", &r),
            "an allow it cannot evaluate does not match: {when}"
        );
        assert_eq!(
            outcome(&decide(&with_outcome("deny", when), &r)),
            ("p", vec!["p"]),
            "a deny it cannot evaluate matches: {when}"
        );
        assert_eq!(
            outcome(&decide(&with_outcome("ask", when), &r)),
            ("ask", vec!["p"]),
            "an ask it cannot evaluate matches: {when}"
        );
    }
    // Guarded, the same predicate is simply false.
    let guarded = with_outcome("deny", "has(context.amount) && context.amount > 1000");
    assert_eq!(outcome(&decide(&guarded, &request("x"))), ("ask", vec![]));
}

fn finance() -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: "pay-bot".into(),
        roles: Vec::new(),
        kind: PrincipalKind::Agent,
    }
}

#[test]
fn the_readme_example_decides_three_requests() {
    let p = policy(EXAMPLE);
    assert_eq!(
        p.rule_ids().collect::<Vec<_>>(),
        ["production-deletes", "read-only-tools", "finance-payments"]
    );
    let refund = request("refund invoice 2291")
        .tool_call("payments.refund", &json!({"invoice": 2291}))
        .context(&json!({"amount": 2500, "currency": "EUR"}));
    let Ruling::Ask { gate } = p.evaluate(&finance(), &refund, 3) else {
        panic!("a large refund is asked")
    };
    assert_eq!(gate.reviewers, ["role:finance"]);
    assert_eq!((gate.min_quorum, gate.agent_may_add_reviewers), (2, false));
    assert_eq!(gate.escalation[0].reviewers, ["role:cfo"]);
    assert_eq!(
        (gate.max_expires_in, gate.max_execute_within),
        (Some(86_400), Some(600))
    );
    assert_eq!(
        gate.governance.as_ref().map(|g| g.rules.clone()),
        Some(vec!["finance-payments".into()])
    );
    // The agent's own, lenient reviewer does not survive the gate.
    let mut lenient = refund.clone();
    lenient.reviewers = vec!["intern".into()];
    assert_eq!(lenient.under(&gate).reviewers, ["role:finance"]);

    let lookup = request("look up the customer").tool_call("crm.get", &json!({"id": 4}));
    assert!(
        matches!(p.evaluate(&finance(), &lookup, 3), Ruling::Allow { rule, .. } if rule == "read-only-tools")
    );

    let delete = request("delete table orders").context(&json!({"environment": "production"}));
    let Ruling::Deny { rule, reason, .. } = p.evaluate(&finance(), &delete, 3) else {
        panic!("a production delete is denied")
    };
    assert_eq!(rule, "production-deletes");
    assert_eq!(
        reason.as_deref(),
        Some("Deleting in production goes through a change request.")
    );

    let staging = request("delete table orders").context(&json!({"environment": "staging"}));
    assert!(
        matches!(p.evaluate(&finance(), &staging, 3), Ruling::Ask { gate } if gate.reviewers.is_empty())
    );
}

#[test]
fn the_docs_quote_the_example_verbatim() {
    let docs = include_str!("../../../docs/policy.md");
    assert!(
        docs.contains(EXAMPLE),
        "docs/policy.md must quote policy::EXAMPLE as is"
    );
}

#[test]
fn a_ruling_serialises_for_policy_test() {
    let p = policy(THREE);
    let deny = serde_json::to_value(decide(&p, &request("drop x"))).expect("serialises");
    assert_eq!(
        deny,
        json!({"outcome": "deny", "rule": "no-drops", "reason": "never",
               "governance": {"policy_version": 7, "rules": ["no-drops", "anything"]}})
    );
    let ask = serde_json::to_value(decide(&p, &request("refund"))).expect("serialises");
    assert_eq!(ask["outcome"], "ask");
    assert_eq!(ask["gate"]["min_quorum"], 2);
    assert_eq!(
        ask["gate"]["governance"]["rules"],
        json!(["refunds", "anything"])
    );
}
