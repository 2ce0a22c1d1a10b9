//! `holdpoint serve --store dynamodb` keeps its deliveries where `holdpoint deliveries --store
//! dynamodb` reads them: the DynamoDB deliveries table, not a `deliveries.db` beside the keys.

mod support;

use std::time::Duration;

use holdpoint_tests::receivers::eventually;
use serde_json::{Value, json};
use support::{Server, create, free_port, fresh_tables, holdpoint, printed};

#[tokio::test]
async fn serve_on_dynamodb_sends_deliveries_and_keeps_them_where_the_deliveries_command_reads_them()
{
    holdpoint_tests::endpoint(); // a local DynamoDB-protocol server, or the test refuses
    let dir = tempfile::tempdir().unwrap();
    let tables = fresh_tables("serve");
    let mut env: Vec<(&str, &str)> = tables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        // No mail server: bob's mail fails at once, and is recorded.
        ("HOLDPOINT_DELIVERY_ATTEMPTS", "1"),
    ]);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--store", "dynamodb"]);
        let out = holdpoint(dir.path(), &all, &env);
        assert!(out.status.success(), "{args:?}: {}", printed(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let created = holdpoint(dir.path(), &["tables", "create"], &env);
    assert!(created.status.success(), "{}", printed(&created));
    let added = run(&["principals", "add", "acme/agent"]);
    let key = added
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .expect("an API key")
        .trim()
        .to_owned();
    run(&[
        "principals",
        "add",
        "acme/bob",
        "--email",
        "bob@example.com",
    ]);

    let server = Server::start_with(dir.path(), &env, free_port(), &["--store", "dynamodb"]).await;
    let id = create(
        &server,
        &key,
        json!({"action": "Drop table", "agent_id": "db", "reviewers": ["bob"]}),
    )
    .await;
    let listed = eventually(
        Duration::from_secs(20),
        async || {
            let out = run(&[
                "deliveries",
                "--tenant",
                "acme",
                "--approval",
                &id,
                "--json",
            ]);
            serde_json::from_str::<Vec<Value>>(&out).unwrap_or_default()
        },
        // Sent from the server's local queue, its outcome recorded in the table.
        |l| l.first().is_some_and(|d| d["attempts"] == 1),
    )
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let d = &listed[0];
    assert_eq!(
        (&d["recipient"], &d["channel"], &d["approval_id"]),
        (&json!("bob"), &json!("email"), &json!(id)),
        "{d}"
    );
    assert_eq!(
        (&d["attempts"], &d["status"]),
        (&json!(1), &json!("failed")),
        "{d}"
    );
}
