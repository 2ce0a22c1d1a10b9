//! What holds a policy in place: only a human admin sets it (an agent holding `admin` cannot
//! rewrite the rules that gate it), its named reviewers are no agents, and a stored version is
//! ruled by alike in every process, whoever has left the directory since it was set.

use super::*;

use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint_core::domain::approval::Status;
use holdpoint_core::domain::identity::PrincipalKind;
use holdpoint_core::domain::request::CreateRequest;

const OPS_BOT: &str = "key-ops-bot-00000000";

fn router_with_an_agent_admin() -> Router {
    let dir = tempfile::tempdir().unwrap().keep();
    let keys = json!({
        ADMIN: {"tenant": "acme", "principal": "root", "roles": ["admin"]},
        ALICE: {"tenant": "acme", "principal": "alice", "roles": ["finance"]},
        OPS_BOT: {"tenant": "acme", "principal": "ops-bot", "roles": ["admin"], "kind": "agent"},
        HELPER_BOT: {"tenant": "acme", "principal": "helper-bot", "kind": "agent"},
    });
    let auth = Authenticator::api_keys_from_json(&keys.to_string()).unwrap();
    let service = service(&dir, auth.directory().clone());
    let state = AppState {
        service,
        auth: Arc::new(auth),
    };
    app(state, &Routes::ALL)
}

fn service(dir: &std::path::Path, directory: Arc<dyn Directory>) -> Service {
    Service::new(
        Arc::new(EmbeddedStore::open(dir).unwrap()),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory)
    .with_policies(Arc::new(EmbeddedPolicies::open(dir).unwrap()))
}

#[tokio::test]
async fn an_agent_holding_admin_cannot_set_the_policy_that_gates_it() {
    let app = router_with_an_agent_admin();
    set(&app, "default: deny").await;
    for if_match in [None, Some("\"1\"")] {
        let r = send(&app, put_policy(OPS_BOT, "default: ask", if_match)).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
        assert!(
            r.body["detail"].as_str().unwrap().contains("agent"),
            "{}",
            r.body
        );
    }
    let current = get(&app, ADMIN, "/v1/policy").await;
    assert_eq!(
        (
            current.body["version"].clone(),
            current.body["text"].clone()
        ),
        (json!(1), json!("default: deny"))
    );
    let body = request("anything", "x.run", json!({}));
    let r = send(
        &app,
        call("POST", "/v1/approvals", Some(OPS_BOT), Some(body)),
    )
    .await;
    problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
}

#[tokio::test]
async fn a_policy_naming_an_agent_as_reviewer_is_refused_naming_the_rule() {
    let app = router_with_an_agent_admin();
    let named = "rules:\n  - id: pay\n    outcome: ask\n    reviewers: [alice, helper-bot]\n";
    let escalated = "rules:\n  - id: late\n    outcome: ask\n    reviewers: [alice]\n    \
                     escalation: [{after_seconds: 60, reviewers: [helper-bot]}]\n";
    for (text, rule) in [(named, "pay"), (escalated, "late")] {
        let r = send(&app, put_policy(ADMIN, text, None)).await;
        problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy");
        assert_eq!(r.body["rule"], rule, "{}", r.body);
        assert!(r.body["detail"].as_str().unwrap().contains("helper-bot"));
    }
    problem(
        &get(&app, ADMIN, "/v1/policy").await,
        StatusCode::NOT_FOUND,
        "no_policy",
    );
}

fn entry(name: &str, roles: &[&str], kind: PrincipalKind) -> Entry {
    Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        kind,
        email: None,
        webhook: None,
        iam_arns: vec![],
        key_hash: None,
        slack: None,
        webhook_secret: None,
        instance: None,
    }
}

/// Roles are checked when the policy is set, never again when ruling: once the last holder of
/// a role it asks has left, a process that had not parsed the version yet rules as one that had.
#[tokio::test]
async fn a_stored_policy_rules_alike_in_every_process_after_a_roles_last_holder_left() {
    let data = tempfile::tempdir().unwrap().keep();
    let directory = Arc::new(EmbeddedDirectory::open(&data).unwrap());
    let root = entry("root", &["admin"], PrincipalKind::Human);
    let agent = entry("agent", &[], PrincipalKind::Agent);
    for e in [
        &root,
        &agent,
        &entry("alice", &["finance"], PrincipalKind::Human),
    ] {
        directory.put(e, true).await.unwrap();
    }
    let warm = service(&data, directory.clone());
    let text = "rules:\n  - id: finance\n    match: {tool: \"payments.*\"}\n    outcome: ask\n    \
                reviewers: [\"role:finance\"]\n";
    warm.set_policy(&root.principal(), text, None)
        .await
        .unwrap();
    assert!(directory.remove("acme", "alice").await.unwrap());

    let pay = CreateRequest::new("pay the invoice", "agent", Vec::<String>::new())
        .tool_call("payments.send", &json!({"amount": 10}));
    let cold_dir = tempfile::tempdir().unwrap().keep();
    let cold = Service::new(
        Arc::new(EmbeddedStore::open(&cold_dir).unwrap()),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory.clone())
    .with_policies(Arc::new(EmbeddedPolicies::open(&data).unwrap()));
    for (process, service) in [("warm", &warm), ("cold", &cold)] {
        let (a, created) = service
            .create(&agent.principal(), pay.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("{process}: {e:?}"));
        assert!(created, "{process}");
        assert_eq!(a.status, Status::Pending, "{process}");
        assert!(
            a.reviewers.contains(&"role:finance".to_owned()),
            "{process}: {:?}",
            a.reviewers
        );
    }
    // A new version is checked against the directory as it is now.
    let refused = warm.set_policy(&root.principal(), text, None).await;
    assert!(format!("{refused:?}").contains("finance"), "{refused:?}");
}

/// docs/policy.md's advice on `tool` and `risk`, as written: a request without a tool call or a
/// risk score escapes the deny keyed on them but meets the rules that cover what lacks them.
#[test]
fn the_documented_rules_for_requests_without_a_tool_call_or_a_score_hold() {
    let docs = include_str!("../../../docs/policy.md");
    let start = docs
        .find("  - id: production-drops")
        .expect("the documented rules");
    let snippet = &docs[start..start + docs[start..].find("```").unwrap()];
    let policy =
        holdpoint::policy::Policy::parse(&format!("rules:\n{snippet}"), &["sre".to_owned()])
            .unwrap_or_else(|e| panic!("{e:?}"));
    let caller = entry("agent", &[], PrincipalKind::Agent).principal();
    let bare = CreateRequest::new("drop the table", "agent", Vec::<String>::new());
    let ruled = |request: &CreateRequest| match policy.evaluate(&caller, request, 1) {
        holdpoint::policy::Ruling::Ask { gate } => gate.governance.unwrap().rules,
        other => panic!("{other:?}"),
    };
    assert_eq!(ruled(&bare), ["no-tool-call", "unscored"]);
    let dropped = bare.clone().tool_call("db.drop_table", &json!({})).risk(10);
    assert!(matches!(
        policy.evaluate(&caller, &dropped, 1),
        holdpoint::policy::Ruling::Deny { rule, .. } if rule == "production-drops"
    ));
    // The guard the docs give a deny: a request that leaves the key out still meets it.
    let guarded = "rules:\n  - id: large\n    match: {when: '!has(context.amount) || \
                   context.amount > 1000'}\n    outcome: deny\n";
    let policy = holdpoint::policy::Policy::parse(guarded, &[]).unwrap();
    for (context, denied) in [(json!({}), true), (json!({"amount": 5}), false)] {
        let request = bare.clone().context(&context);
        let ruling = policy.evaluate(&caller, &request, 1);
        let was = matches!(ruling, holdpoint::policy::Ruling::Deny { .. });
        assert_eq!(was, denied, "{context}");
    }
}
