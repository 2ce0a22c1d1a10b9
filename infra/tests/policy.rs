//! `holdpoint policy get | set | test | history` against a running local server, and
//! `approvals show` of a request the policy settled.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::{ADMIN_KEY, AGENT_KEY, Server, create, holdpoint};

/// `holdpoint ARGS…` as the principal of `key` against `url`, in `dir`.
fn as_key(dir: &Path, url: &str, key: &str, args: &[&str]) -> Output {
    holdpoint(
        dir,
        args,
        &[("HOLDPOINT_URL", url), ("HOLDPOINT_API_KEY", key)],
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
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
    quorum: 1
  - id: agents-never-refund
    match:
      principal: agent
      tool: "payments.refund"
    outcome: deny
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_reads_traces_and_tests_the_policy_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::for_team(dir.path(), &[]).await;
    let url = s.url();
    let d = dir.path();
    let run = |key: &str, args: &[&str]| as_key(d, &url, key, args);

    let none = run(ADMIN_KEY, &["policy", "get"]);
    assert_eq!(none.status.code(), Some(1), "{}", err(&none));
    assert!(err(&none).contains("no_policy (404)"), "{}", err(&none));

    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let set = run(ADMIN_KEY, &["policy", "set", "policy.yaml"]);
    assert_eq!(set.status.code(), Some(0), "{}", err(&set));
    assert_eq!(text(&set).trim(), "policy version 1 set");

    // A policy naming a role nobody holds is refused, naming its rule; version 1 stays.
    std::fs::write(
        d.join("bad.yaml"),
        POLICY.replace("role:finance", "role:treasury"),
    )
    .unwrap();
    let bad = run(ADMIN_KEY, &["policy", "set", "bad.yaml"]);
    assert_eq!(bad.status.code(), Some(1), "{}", err(&bad));
    assert!(err(&bad).contains("invalid_policy (422)"), "{}", err(&bad));
    assert!(err(&bad).contains("finance-payments"), "{}", err(&bad));

    let got = run(ADMIN_KEY, &["policy", "get"]);
    assert!(
        text(&got).starts_with("version 1  set by root"),
        "{}",
        text(&got)
    );
    assert!(text(&got).contains("id: read-only-tools"), "{}", text(&got));
    assert_eq!(
        json_of(&run(ADMIN_KEY, &["policy", "get", "--json"]))["text"],
        POLICY
    );

    // An edit after a version no longer in force is refused; after the current one it lands.
    let edited = POLICY.replace("quorum: 1", "quorum: 2");
    std::fs::write(d.join("edited.yaml"), &edited).unwrap();
    let stale = run(ADMIN_KEY, &["policy", "set", "edited.yaml", "--after", "0"]);
    assert_eq!(stale.status.code(), Some(1), "{}", err(&stale));
    assert!(
        err(&stale).contains("policy_version_mismatch (412)"),
        "{}",
        err(&stale)
    );
    let ok = run(ADMIN_KEY, &["policy", "set", "edited.yaml", "--after", "1"]);
    assert_eq!(text(&ok).trim(), "policy version 2 set", "{}", err(&ok));

    let history = json_of(&run(ADMIN_KEY, &["policy", "history", "--json"]));
    let versions: Vec<_> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].clone(), v["set_by"].clone()))
        .collect();
    assert_eq!(
        versions,
        [(json!(2), json!("root")), (json!(1), json!("root"))]
    );
    let lines = text(&run(ADMIN_KEY, &["policy", "history"]));
    assert_eq!(lines.lines().count(), 2, "{lines}");

    // test: which rules decide, and what would happen; nothing is created.
    let request = json!({
        "action": "delete the orders table",
        "tool_call": {"name": "db.read", "arguments": {}},
        "context": {"environment": "production"},
    });
    std::fs::write(d.join("request.json"), request.to_string()).unwrap();
    let tested = text(&run(ADMIN_KEY, &["policy", "test", "request.json"]));
    assert!(
        tested.starts_with("deny, by rule production-deletes: Deleting in production"),
        "{tested}"
    );
    assert!(
        tested.contains("policy version 2: rules production-deletes, read-only-tools"),
        "{tested}"
    );
    let ruling = json_of(&run(
        ADMIN_KEY,
        &["policy", "test", "request.json", "--json"],
    ));
    assert_eq!(ruling["outcome"], "deny");
    // As sent by another principal: the rule on who asks decides.
    let refund =
        json!({"action": "refund", "tool_call": {"name": "payments.refund", "arguments": {}}});
    std::fs::write(d.join("refund.json"), refund.to_string()).unwrap();
    let mine = text(&run(ADMIN_KEY, &["policy", "test", "refund.json"]));
    assert!(
        mine.starts_with("ask\n  reviewers    role:finance"),
        "{mine}"
    );
    let agents = text(&run(
        ADMIN_KEY,
        &["policy", "test", "refund.json", "--as", "agent"],
    ));
    assert!(
        agents.starts_with("deny, by rule agents-never-refund"),
        "{agents}"
    );
    let nobody = run(ADMIN_KEY, &["policy", "test", "refund.json", "--as", "zed"]);
    assert!(
        err(&nobody).contains("invalid_field (422)"),
        "{}",
        err(&nobody)
    );
    let listed = json_of(&run(ADMIN_KEY, &["approvals", "list", "--json"]));
    assert_eq!(listed["items"], json!([]));

    // The agent is not an admin.
    let refused = run(AGENT_KEY, &["policy", "get"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        err(&refused).contains("not_admin (403)"),
        "{}",
        err(&refused)
    );

    // A request the policy allowed shows as decided by its rule, with what governed it.
    let id = create(
        &s,
        AGENT_KEY,
        json!({"action": "read the invoice", "tool_call": {"name": "invoices.get", "arguments": {}}}),
    )
    .await;
    let shown = text(&run(ADMIN_KEY, &["approvals", "show", &id]));
    assert!(shown.contains("status      approved"), "{shown}");
    assert!(
        shown.contains(
            "approved by policy:read-only-tools (the tenant's policy; no reviewer asked)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("policy      version 2, rules read-only-tools"),
        "{shown}"
    );
}
