//! A rule's quorum is met by its own reviewers only, over HTTP: combining two asks, or letting
//! the agent add reviewers, widens who is asked but never who can satisfy a rule, and an agent's
//! own escalation chain can never replace a rule's reviewers.

mod support;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use holdpoint_core::time::Clock;
use support::{call, send};

const AGENT: &str = "key-agent-0000000000";
const ADMIN: &str = "key-admin-0000000000";
const FIN1: &str = "key-fin1-00000000000";
const FIN2: &str = "key-fin2-00000000000";
const OPS1: &str = "key-ops1-00000000000";
const OPS2: &str = "key-ops2-00000000000";
const PAL: &str = "key-pal-000000000000";

fn router() -> Router {
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent", "kind": "agent"},
        ADMIN: {"tenant": "acme", "principal": "root", "roles": ["admin"]},
        FIN1: {"tenant": "acme", "principal": "fin1", "roles": ["finance"]},
        FIN2: {"tenant": "acme", "principal": "fin2", "roles": ["finance"]},
        OPS1: {"tenant": "acme", "principal": "ops1", "roles": ["ops"]},
        OPS2: {"tenant": "acme", "principal": "ops2", "roles": ["ops"]},
        PAL: {"tenant": "acme", "principal": "pal"},
    });
    support::policy_router(&keys, Clock::system()).0
}

/// Two asks on one payment: finance (2 of them) and ops (1); the agent may add reviewers.
const POLICY: &str = r#"rules:
  - id: finance
    match: {tool: "payments.*"}
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
  - id: ops
    match: {tool: "payments.*"}
    outcome: ask
    reviewers: ["role:ops"]
"#;

async fn set_policy(app: &Router) {
    let put = Request::builder()
        .method("PUT")
        .uri("/v1/policy")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(POLICY))
        .unwrap();
    let r = send(app, put).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn approve(app: &Router, key: &str, id: &str) -> Value {
    let r = send(
        app,
        call(
            "POST",
            &format!("/v1/approvals/{id}/decision"),
            Some(key),
            Some(json!({"decision": "approved"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

#[tokio::test]
async fn no_rule_is_met_by_another_rules_reviewers_or_the_agents() {
    let app = router();
    set_policy(&app).await;
    let r = send(
        &app,
        call(
            "POST",
            "/v1/approvals",
            Some(AGENT),
            Some(json!({
                "action": "Pay invoice 7",
                "tool_call": {"name": "payments.send", "arguments": {}},
                "reviewers": ["pal"],
                "quorum": 1,
                "escalation": [{"after_seconds": 1, "reviewers": ["pal"]}],
            })),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = r.body;
    let id = a["id"].as_str().unwrap();
    assert_eq!(a["reviewers"], json!(["role:finance", "role:ops", "pal"]));
    assert_eq!(a["quorum"], 2);
    assert_eq!(a["escalation"], json!([]), "the agent's chain is dropped");
    assert_eq!(a["requirements"].as_array().unwrap().len(), 2, "{a}");

    // The agent's reviewer and both of ops: three approvals, and no rule of finance is met.
    approve(&app, PAL, id).await;
    approve(&app, OPS1, id).await;
    let a = approve(&app, OPS2, id).await;
    assert_eq!(a["status"], "pending", "{a}");
    let a = approve(&app, FIN1, id).await;
    assert_eq!(a["status"], "pending", "one of finance is not two: {a}");
    let a = approve(&app, FIN2, id).await;
    assert_eq!(a["status"], "approved", "{a}");
    assert_eq!(a["approvals"][4]["meets"], json!(["finance"]));
    assert_eq!(a["approvals"][1]["meets"], json!(["ops"]));
}

#[tokio::test]
async fn the_policy_test_shows_what_a_request_would_be_asked_with() {
    let app = router();
    set_policy(&app).await;
    let r = send(
        &app,
        call(
            "POST",
            "/v1/policy/test",
            Some(ADMIN),
            Some(json!({
                "action": "Pay invoice 8",
                "tool_call": {"name": "payments.send", "arguments": {}},
                "reviewers": ["pal"],
                "escalation": [{"after_seconds": 1, "reviewers": ["pal"]}],
            })),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "ask");
    let asked = &r.body["asked"];
    assert_eq!(
        asked["reviewers"],
        json!(["role:finance", "role:ops", "pal"])
    );
    assert_eq!(asked["quorum"], 2);
    assert!(asked.get("escalation").is_none(), "dropped: {asked}");
    // No rule matches: the default asks the agent's own reviewers.
    let r = send(
        &app,
        call(
            "POST",
            "/v1/policy/test",
            Some(ADMIN),
            Some(json!({"action": "Pay nobody", "reviewers": ["pal"]})),
        ),
    )
    .await;
    assert_eq!(r.body["outcome"], "ask", "the default: {}", r.body);
    assert_eq!(r.body["asked"]["reviewers"], json!(["pal"]));
}
