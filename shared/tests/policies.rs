//! Tenant policies over HTTP on the embedded store: admins set and read them, and every create
//! is ruled by the one in force — deny (403, recorded as rejected by `policy:<rule>`), allow
//! (approved by the rule, executed once with its hash), ask (the rule's gate, never weaker).

mod policies_held;
mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use holdpoint::directory::policy::embedded::EmbeddedPolicies;
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use support::{Reply, call, problem, send};

const AGENT: &str = "key-agent-0000000000";
const ADMIN: &str = "key-admin-0000000000";
const ALICE: &str = "key-alice-0000000000";
const BOB: &str = "key-bob-000000000000";
const HELPER_BOT: &str = "key-helper-bot-00000";
const GLOBEX_ADMIN: &str = "key-globex-admin-000";

fn router() -> Router {
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent", "kind": "agent"},
        ADMIN: {"tenant": "acme", "principal": "root", "roles": ["admin"]},
        ALICE: {"tenant": "acme", "principal": "alice", "roles": ["finance"]},
        BOB: {"tenant": "acme", "principal": "bob", "roles": ["finance", "cfo"]},
        HELPER_BOT: {"tenant": "acme", "principal": "helper-bot", "kind": "agent"},
        GLOBEX_ADMIN: {"tenant": "globex", "principal": "root", "roles": ["admin"]},
    });
    support::policy_router(&keys, Clock::system()).0
}

const POLICY: &str = r#"default: ask
rules:
  - id: production-deletes
    match:
      action: "*delete*"
      when: 'context.environment == "production"'
    outcome: deny
    reason: Deleting in production goes through a change request.
  - id: read-only-tools
    match:
      tool: "*.{get,list,read,search}"
    outcome: allow
  - id: finance-payments
    match:
      tool: "payments.*"
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
    max_expires_in_seconds: 3600
    agents_may_add_reviewers: false
  - id: high-risk
    match:
      risk: {min: 90}
    outcome: ask
    reviewers: ["bob"]
    max_expires_in_seconds: 600
"#;

fn put_policy(key: &str, text: &str, if_match: Option<&str>) -> Request<Body> {
    put_as(key, "application/yaml", text, if_match)
}

fn put_as(key: &str, media: &str, text: &str, if_match: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method("PUT")
        .uri("/v1/policy")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, media);
    if let Some(tag) = if_match {
        b = b.header(header::IF_MATCH, tag);
    }
    b.body(Body::from(text.to_owned())).unwrap()
}

async fn set(app: &Router, text: &str) -> Reply {
    let r = send(app, put_policy(ADMIN, text, None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r
}

fn request(action: &str, tool: &str, context: Value) -> Value {
    json!({
        "action": action,
        "reviewers": ["alice"],
        "tool_call": {"name": tool, "arguments": {}},
        "context": context,
    })
}

async fn create(app: &Router, body: Value) -> Reply {
    send(app, call("POST", "/v1/approvals", Some(AGENT), Some(body))).await
}

async fn get(app: &Router, key: &str, uri: &str) -> Reply {
    send(app, call("GET", uri, Some(key), None)).await
}

/// Seconds from an approval's creation to its deadline.
fn lifetime(a: &Value) -> i64 {
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(a[k].as_str().unwrap()).unwrap();
    (at("expires_at") - at("created_at")).num_seconds()
}

async fn audit(app: &Router, id: &str) -> Value {
    let r = get(app, AGENT, &format!("/v1/approvals/{id}/audit")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["valid"], true, "{}", r.body);
    r.body["records"].clone()
}

#[tokio::test]
async fn a_denied_request_is_refused_and_recorded_as_rejected_by_its_rule() {
    let app = router();
    set(&app, POLICY).await;
    let production = json!({"environment": "production"});
    let body = request("delete the orders table", "db.drop", production);
    let keyed = |body: &Value| {
        let mut req = call("POST", "/v1/approvals", Some(AGENT), Some(body.clone()));
        req.headers_mut()
            .insert("idempotency-key", "delete-1".parse().unwrap());
        req
    };
    let r = send(&app, keyed(&body)).await;
    problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
    assert_eq!(r.body["rule"], "production-deletes");
    assert_eq!(
        r.body["reason"],
        "Deleting in production goes through a change request."
    );
    let id = r.body["approval_id"].as_str().unwrap().to_owned();

    let a = get(&app, AGENT, &format!("/v1/approvals/{id}")).await.body;
    assert_eq!(a["status"], "rejected");
    assert_eq!(a["decision"]["by"], "policy:production-deletes");
    assert_eq!(a["governed_by"]["policy_version"], 1);
    let records = audit(&app, &id).await;
    assert_eq!(records[0]["event"], "created");
    assert_eq!(records[0]["payload"]["governed_by"]["policy_version"], 1);
    assert_eq!(records[1]["event"], "rejected");
    assert_eq!(records[1]["actor"], "policy:production-deletes");

    // A retry is the same refusal of the same approval.
    let again = send(&app, keyed(&body)).await;
    problem(&again, StatusCode::FORBIDDEN, "denied_by_policy");
    assert_eq!(again.body["approval_id"], id.as_str());
}

#[tokio::test]
async fn an_allowed_request_is_approved_by_its_rule_and_runs_once_with_its_hash() {
    let app = router();
    set(&app, POLICY).await;
    let r = create(&app, request("read the invoice", "invoices.get", json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["decision"]["by"], "policy:read-only-tools");
    assert_eq!(r.body["governed_by"]["rules"], json!(["read-only-tools"]));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let records = audit(&app, &id).await;
    assert_eq!(records[1]["event"], "approved");
    assert_eq!(records[1]["actor"], "policy:read-only-tools");

    let exec = format!("/v1/approvals/{id}/execute");
    let wrong = json!({"context_hash": "ab".repeat(32)});
    let mismatch = send(&app, call("POST", &exec, Some(AGENT), Some(wrong))).await;
    problem(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "context_mismatch",
    );
    let right = json!({"context_hash": r.body["context_hash"]});
    let done = send(&app, call("POST", &exec, Some(AGENT), Some(right.clone()))).await;
    assert_eq!(done.body["status"], "executed", "{}", done.body);
    let twice = send(&app, call("POST", &exec, Some(AGENT), Some(right))).await;
    problem(&twice, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn an_ask_gets_the_rules_gate_whatever_the_agent_named() {
    let app = router();
    set(&app, POLICY).await;
    let mut body = request("pay invoice 7", "payments.send", json!({"amount": 5000}));
    body["quorum"] = json!(1);
    body["expires_in_seconds"] = json!(86_400);
    let r = create(&app, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = &r.body;
    assert_eq!(a["status"], "pending");
    assert_eq!(
        a["reviewers"],
        json!(["role:finance"]),
        "alice is not the rule's"
    );
    assert_eq!(a["quorum"], 2);
    assert_eq!(a["governed_by"]["rules"], json!(["finance-payments"]));
    assert!(lifetime(a) <= 3600, "{a}");

    // With only the action, tool call and context, the policy chooses the reviewers.
    let bare =
        json!({"action": "pay invoice 8", "tool_call": {"name": "payments.send", "arguments": {}}});
    let r = create(&app, bare).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["reviewers"], json!(["role:finance"]));
    assert_eq!(r.body["agent_id"], "agent");
}

#[tokio::test]
async fn deny_beats_ask_beats_allow_and_two_asks_take_the_stricter_of_each() {
    let app = router();
    set(&app, POLICY).await;
    let denied = create(
        &app,
        request(
            "delete cache",
            "cache.get",
            json!({"environment": "production"}),
        ),
    )
    .await;
    problem(&denied, StatusCode::FORBIDDEN, "denied_by_policy");
    assert_eq!(denied.body["rule"], "production-deletes");

    // payments.get matches the allow, the finance ask and (at risk 95) the high-risk ask.
    let mut body = request("look up a payment", "payments.get", json!({}));
    body["risk_score"] = json!(95);
    let r = create(&app, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = &r.body;
    assert_eq!(a["status"], "pending");
    assert_eq!(a["reviewers"], json!(["role:finance", "bob"]));
    assert_eq!(a["quorum"], 2);
    assert_eq!(
        a["governed_by"]["rules"],
        json!(["read-only-tools", "finance-payments", "high-risk"])
    );
    assert!(lifetime(a) <= 600, "{a}");
}

#[tokio::test]
async fn a_policy_edit_governs_new_approvals_only() {
    let app = router();
    set(&app, POLICY).await;
    let first = create(&app, request("pay", "payments.send", json!({}))).await;
    assert_eq!(first.body["governed_by"]["policy_version"], 1);
    let edited = POLICY.replace("quorum: 2", "quorum: 1");
    let r = set(&app, &edited).await;
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.headers[header::ETAG], "\"2\"");
    let second = create(&app, request("pay", "payments.send", json!({}))).await;
    assert_eq!(second.body["governed_by"]["policy_version"], 2);
    assert_eq!(second.body["quorum"], 1);
    let id = first.body["id"].as_str().unwrap();
    let old = get(&app, AGENT, &format!("/v1/approvals/{id}")).await.body;
    assert_eq!(old["governed_by"]["policy_version"], 1);
    assert_eq!(old["quorum"], 2);

    let history = get(&app, ADMIN, "/v1/policy/history").await;
    let versions: Vec<_> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].clone(), v["set_by"].clone()))
        .collect();
    assert_eq!(
        versions,
        [(json!(2), json!("root")), (json!(1), json!("root"))]
    );
}

#[tokio::test]
async fn a_policy_that_does_not_hold_is_refused_naming_the_rule_and_the_old_one_stays() {
    let app = router();
    set(&app, POLICY).await;
    let unknown_role = POLICY.replace("role:finance", "role:treasury");
    let bad_predicate = POLICY.replace("context.environment ==", "context.environment ===");
    for (text, rule) in [
        (unknown_role.as_str(), json!("finance-payments")),
        (bad_predicate.as_str(), json!("production-deletes")),
        ("rules: [ {id: x, outcome: maybe} ]", json!("x")),
        ("rules: {{{", Value::Null),
    ] {
        let r = send(&app, put_policy(ADMIN, text, None)).await;
        problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy");
        assert_eq!(r.body["rule"], rule, "{}", r.body);
    }
    let current = get(&app, ADMIN, "/v1/policy").await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(
        (
            current.body["version"].clone(),
            current.body["text"].clone()
        ),
        (json!(1), json!(POLICY))
    );
}

#[tokio::test]
async fn edits_name_the_version_they_follow_and_bodies_are_bounded() {
    let app = router();
    let none = get(&app, ADMIN, "/v1/policy").await;
    problem(&none, StatusCode::NOT_FOUND, "no_policy");
    let r = send(&app, put_policy(ADMIN, POLICY, Some("\"0\""))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stale = send(&app, put_policy(ADMIN, "default: deny", Some("\"0\""))).await;
    problem(
        &stale,
        StatusCode::PRECONDITION_FAILED,
        "policy_version_mismatch",
    );
    assert_eq!(stale.body["current_version"], 1);
    let bad_tag = send(&app, put_policy(ADMIN, "default: deny", Some("one"))).await;
    problem(&bad_tag, StatusCode::BAD_REQUEST, "invalid_if_match");
    let huge = format!("# {}\ndefault: ask\n", "x".repeat(70 * 1024));
    let r = send(&app, put_policy(ADMIN, &huge, None)).await;
    problem(&r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let html = put_as(ADMIN, "text/html", "default: deny", None);
    problem(
        &send(&app, html).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let json_policy = put_as(
        ADMIN,
        "application/json",
        r#"{"default": "deny"}"#,
        Some("\"1\""),
    );
    let r = send(&app, json_policy).await;
    assert_eq!(
        (r.status, r.body["version"].clone()),
        (StatusCode::OK, json!(2)),
        "{}",
        r.body
    );
    let refused = create(&app, request("anything", "x.run", json!({}))).await;
    problem(&refused, StatusCode::FORBIDDEN, "denied_by_policy");
    assert_eq!(refused.body["rule"], "default");
}

#[tokio::test]
async fn only_admins_see_or_change_the_policy_and_only_their_tenants() {
    let app = router();
    set(&app, "default: deny").await;
    for key in [AGENT, ALICE] {
        for uri in ["/v1/policy", "/v1/policy/history"] {
            problem(
                &get(&app, key, uri).await,
                StatusCode::FORBIDDEN,
                "not_admin",
            );
        }
        let r = send(&app, put_policy(key, "default: ask", None)).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
        let body = request("read", "x.get", json!({}));
        let r = send(&app, call("POST", "/v1/policy/test", Some(key), Some(body))).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
    }
    assert_eq!(get(&app, ADMIN, "/v1/policy").await.body["version"], 1);
    // Another tenant's admin sees none, and its agents are not ruled by it.
    let other = get(&app, GLOBEX_ADMIN, "/v1/policy").await;
    problem(&other, StatusCode::NOT_FOUND, "no_policy");
    let history = get(&app, GLOBEX_ADMIN, "/v1/policy/history").await;
    assert_eq!(history.body["items"], json!([]));
    let body = request("read", "x.get", json!({}));
    let r = send(
        &app,
        call("POST", "/v1/approvals", Some(GLOBEX_ADMIN), Some(body)),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "acme's deny is not globex's: {}",
        r.body
    );
}

#[tokio::test]
async fn policy_test_answers_the_ruling_and_creates_nothing() {
    let app = router();
    set(&app, POLICY).await;
    let body = request(
        "delete cache",
        "cache.get",
        json!({"environment": "production"}),
    );
    let r = send(
        &app,
        call("POST", "/v1/policy/test", Some(ADMIN), Some(body)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "deny");
    assert_eq!(r.body["rule"], "production-deletes");
    assert_eq!(
        r.body["governance"]["rules"],
        json!(["production-deletes", "read-only-tools"])
    );
    let ask = request("pay", "payments.send", json!({}));
    let r = send(
        &app,
        call("POST", "/v1/policy/test", Some(ADMIN), Some(ask)),
    )
    .await;
    assert_eq!(r.body["outcome"], "ask");
    assert_eq!(r.body["gate"]["min_quorum"], 2);
    let listed = get(&app, ADMIN, "/v1/approvals").await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn an_agent_named_as_reviewer_is_refused_at_create() {
    let app = router();
    for reviewers in [json!(["helper-bot"]), json!(["alice", "helper-bot"])] {
        let mut body = request("restart", "svc.restart", json!({}));
        body["reviewers"] = reviewers;
        let r = create(&app, body).await;
        problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["field"], "reviewers");
    }
    let mut body = request("restart", "svc.restart", json!({}));
    body["escalation"] = json!([{"after_seconds": 60, "reviewers": ["helper-bot"]}]);
    let r = create(&app, body).await;
    problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(r.body["field"], "escalation[0].reviewers");
}
