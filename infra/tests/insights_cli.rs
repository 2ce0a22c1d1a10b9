//! `holdpoint insights`: from a running server as its admin, and from the local store with
//! `--tenant`; the same figures either way.

mod support;

use serde_json::{Value, json};

use support::{ADMIN_KEY, AGENT_KEY, ALICE_KEY, Server, holdpoint, printed};

#[tokio::test]
async fn insights_from_the_server_and_from_the_store_agree() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let body = json!({"action": "Rotate the key", "agent_id": "ops-agent", "reviewers": ["alice"],
                      "context": {}, "tool_call": {"name": "kms.rotate", "arguments": {}}});
    let id = support::create(&server, AGENT_KEY, body.clone()).await;
    support::create(&server, AGENT_KEY, body).await;
    let decision = json!({"decision": "approved"});
    let path = format!("/v1/approvals/{id}/decision");
    let (status, _) = server
        .call("POST", &path, Some(ALICE_KEY), Some(&decision))
        .await
        .unwrap();
    assert_eq!(status, 200);

    let url = server.url();
    let remote = holdpoint(
        dir.path(),
        &["insights", "--json", "--url", &url, "--api-key", ADMIN_KEY],
        &[],
    );
    assert!(remote.status.success(), "{}", printed(&remote));
    let from_server: Value = serde_json::from_slice(&remote.stdout).unwrap();
    assert_eq!(from_server["counted"], 2, "{from_server}");
    assert_eq!(from_server["time_to_decision"]["decided"], 1);
    assert_eq!(
        from_server["by_tool"],
        json!([{"name": "kms.rotate", "count": 2}])
    );

    let local = holdpoint(dir.path(), &["insights", "--json", "--tenant", "t1"], &[]);
    assert!(local.status.success(), "{}", printed(&local));
    let from_store: Value = serde_json::from_slice(&local.stdout).unwrap();
    for field in [
        "tenant",
        "counted",
        "by_outcome",
        "by_agent",
        "by_tool",
        "time_to_decision",
    ] {
        assert_eq!(from_store[field], from_server[field], "{field}");
    }

    let text = holdpoint(dir.path(), &["insights", "--tenant", "t1"], &[]);
    let shown = printed(&text);
    assert!(text.status.success(), "{shown}");
    assert!(
        shown.contains("tenant t1: approvals created from"),
        "{shown}"
    );
    assert!(shown.contains("kms.rotate"), "{shown}");

    // Attacker try: a reviewer asks the server; refused (exit 1), nothing shown.
    let refused = holdpoint(
        dir.path(),
        &["insights", "--url", &url, "--api-key", ALICE_KEY],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", printed(&refused));
    assert!(printed(&refused).contains("admin"), "{}", printed(&refused));
    // A window past 90 days is refused before anything is read.
    let long = holdpoint(
        dir.path(),
        &[
            "insights",
            "--tenant",
            "t1",
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-06-01T00:00:00Z",
        ],
        &[],
    );
    assert_eq!(long.status.code(), Some(2), "{}", printed(&long));
    assert!(
        printed(&long).contains("at most 90 days"),
        "{}",
        printed(&long)
    );
}
