//! `holdpoint mcp` in a real MCP session: rmcp's own client starts it as a child process over
//! stdio, initializes, lists the tools, calls each one against a running local server, and gets
//! refusals back as tool errors.

mod support;

use std::time::Duration;

use holdpoint_client::{Client, Credentials, Decision};
use holdpoint_core::domain::approval::Verdict;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{Peer, RoleClient};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use support::{AGENT_KEY, REVIEWER_KEY, Server};

async fn call(peer: &Peer<RoleClient>, tool: &'static str, args: Value) -> (bool, Value) {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    let result: CallToolResult = peer
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect::<String>();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (result.is_error.unwrap_or(false), value)
}

#[tokio::test]
async fn an_mcp_client_asks_waits_and_executes_through_holdpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::for_team(dir.path(), &[]).await;
    let url = s.url();
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_holdpoint")).configure(|c| {
            c.arg("mcp")
                .env("HOLDPOINT_URL", &url)
                .env("HOLDPOINT_API_KEY", AGENT_KEY);
        }),
    )
    .unwrap();
    let session = ().serve(transport).await.unwrap();
    let info = session.peer_info().expect("initialized");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("holdpoint")
    );
    let peer = session.peer().clone();

    // tools/list: five tools, each described, each with an input schema naming its fields.
    let tools = peer.list_all_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cancel_approval",
            "get_approval",
            "mark_executed",
            "request_approval",
            "wait_for_decision"
        ]
    );
    for t in &tools {
        assert!(
            t.description.as_ref().is_some_and(|d| d.len() > 40),
            "{}",
            t.name
        );
        assert_eq!(t.input_schema["type"], "object", "{}", t.name);
        assert!(t.input_schema["properties"]["id"].is_object() || t.name == "request_approval");
    }
    let request = tools.iter().find(|t| t.name == "request_approval").unwrap();
    let required = request.input_schema["required"].as_array().unwrap();
    // Only the action: the tenant's policy may name the reviewers, the credentials the agent.
    assert_eq!(required, &[json!("action")], "{required:?}");
    assert!(request.input_schema["properties"]["execute_within_seconds"].is_object());

    // request_approval → get_approval → (a reviewer approves) → wait_for_decision → mark_executed.
    let (err, asked) = call(
        &peer,
        "request_approval",
        json!({
            "action": "Send the quarterly VAT filing",
            "agent_id": "tax-agent",
            "reviewers": ["reviewer"],
            "context": {"period": "2026-Q3", "amount_eur": 18250},
            "tool_call": {"name": "tax.file", "arguments": {"period": "2026-Q3"}},
            "risk_score": 90,
            "reason": "due Friday",
        }),
    )
    .await;
    assert!(!err, "{asked}");
    assert_eq!(asked["status"], "pending");
    assert!(
        !asked.to_string().contains("/review/"),
        "no link reaches the agent"
    );
    let id = asked["id"].as_str().unwrap().to_owned();

    let (err, got) = call(&peer, "get_approval", json!({"id": id})).await;
    assert!(!err);
    assert_eq!(got["action"], "Send the quarterly VAT filing");

    let (err, waited) = call(
        &peer,
        "wait_for_decision",
        json!({"id": id, "timeout_seconds": 1}),
    )
    .await;
    assert!(!err);
    assert_eq!(waited["outcome"], "timed_out");

    let reviewer = Client::new(&url, Credentials::api_key(REVIEWER_KEY)).unwrap();
    let edit = json!({"period": "2026-Q3", "amount_eur": 18205});
    reviewer
        .decide(
            id.parse().unwrap(),
            Decision {
                verdict: Verdict::Modified,
                comment: Some("typo in the amount".into()),
                modified_output: Some(edit.clone().into()),
            },
        )
        .await
        .unwrap();
    let (err, waited) = call(
        &peer,
        "wait_for_decision",
        json!({"id": id, "timeout_seconds": 30}),
    )
    .await;
    assert!(!err, "{waited}");
    assert_eq!(waited["outcome"], "modified");
    assert_eq!(waited["modified_output"], edit);
    assert_eq!(waited["by"], "reviewer");

    // This session asked, so it proves what runs is what was approved (with the edits).
    let (err, done) = call(&peer, "mark_executed", json!({"id": id})).await;
    assert!(!err, "{done}");
    assert_eq!(done["status"], "executed");

    // cancel_approval withdraws a second request.
    let (_, second) = call(
        &peer,
        "request_approval",
        json!({"action": "Rotate the root key", "agent_id": "ops", "reviewers": ["reviewer"]}),
    )
    .await;
    let (err, cancelled) = call(
        &peer,
        "cancel_approval",
        json!({"id": second["id"], "reason": "not needed"}),
    )
    .await;
    assert!(!err);
    assert_eq!(cancelled["status"], "cancelled");

    // Refusals are tool errors carrying the problem code.
    let (err, text) = call(&peer, "get_approval", json!({"id": "nope"})).await;
    assert!(
        err && text.as_str().unwrap().starts_with("invalid_id"),
        "{text}"
    );
    let (err, text) = call(
        &peer,
        "get_approval",
        json!({"id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert!(
        err && text.as_str().unwrap().starts_with("not_found"),
        "{text}"
    );
    let (err, text) = call(&peer, "mark_executed", json!({"id": id})).await;
    assert!(
        err && text.as_str().unwrap().starts_with("conflict"),
        "{text}"
    );
    let (err, text) = call(
        &peer,
        "request_approval",
        json!({"action": " ", "agent_id": "a", "reviewers": ["reviewer"]}),
    )
    .await;
    assert!(
        err && text.as_str().unwrap().starts_with("invalid_field"),
        "{text}"
    );

    session.cancel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// An approval asked for elsewhere (here by the client, not this session) and approved with
/// edits: `mark_executed` reads it and proves what runs from its action, tool call, context and
/// the reviewer's edits, the hash recomputed rather than echoed.
#[tokio::test]
async fn mark_executed_proves_an_approval_asked_in_another_session() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::for_team(dir.path(), &[]).await;
    let url = s.url();
    let agent = Client::new(&url, Credentials::api_key(AGENT_KEY)).unwrap();
    let request = holdpoint_client::ApprovalRequest::new("Resize the cluster", "ops", ["reviewer"])
        .context(&json!({"nodes": 12}));
    let ticket = agent.request_approval(&request).await.unwrap();
    let reviewer = Client::new(&url, Credentials::api_key(REVIEWER_KEY)).unwrap();
    let edit = json!({"nodes": 6});
    let decision = Decision {
        verdict: Verdict::Modified,
        comment: None,
        modified_output: Some(edit.clone().into()),
    };
    let decided = reviewer.decide(ticket.id(), decision).await.unwrap();
    assert_eq!(
        decided.context_hash,
        request.context_hash(Some(&edit.into()))
    );

    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_holdpoint")).configure(|c| {
            c.arg("mcp")
                .env("HOLDPOINT_URL", &url)
                .env("HOLDPOINT_API_KEY", AGENT_KEY);
        }),
    )
    .unwrap();
    let session = ().serve(transport).await.unwrap();
    let peer = session.peer().clone();
    let id = ticket.id().to_string();
    // Told what is about to run, it proves that, not the approval's own hash: running
    // something other than what was asked (and edited) is refused, and nothing is recorded.
    for ran in [
        json!({"id": id, "context": {"nodes": 24}}),
        json!({"id": id, "context": {"nodes": 12}, "tool_call": {"name": "k8s.scale"}}),
    ] {
        let (err, text) = call(&peer, "mark_executed", ran).await;
        assert!(
            err && text.as_str().unwrap().starts_with("context_mismatch"),
            "{text}"
        );
    }
    let (err, done) = call(
        &peer,
        "mark_executed",
        json!({"id": id, "context": {"nodes": 12}}),
    )
    .await;
    assert!(!err, "{done}");
    assert_eq!(done["status"], "executed");
    let audit = agent.audit(ticket.id()).await.unwrap();
    let executed = audit.records.last().unwrap();
    assert_eq!(executed.event.as_str(), "executed");

    // Told nothing, it recomputes the hash from the approval itself (which proves only that
    // this is the approval asked about).
    let other = agent.request_approval(&request).await.unwrap();
    let approve = Decision {
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    reviewer.decide(other.id(), approve).await.unwrap();
    let (err, done) = call(
        &peer,
        "mark_executed",
        json!({"id": other.id().to_string()}),
    )
    .await;
    assert!(!err, "{done}");
    assert_eq!(done["status"], "executed");
    session.cancel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
}
