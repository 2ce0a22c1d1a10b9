//! `holdpoint audit verify` against stores tampered with by hand: it exits non-zero and names
//! the approval and the sequence.

mod support;

use std::path::Path;

use serde_json::json;
use support::{AGENT_KEY, REVIEWER_KEY, Server, create, holdpoint};

/// Rewrites, by hand (SQL on the file, as `sqlite3` would), the JSON of one stored row: the
/// audit record `sequence` of approval `id`, or the approval itself when `sequence` is `None`.
fn edit_row(dir: &Path, id: &str, sequence: Option<u64>, edit: impl Fn(&str) -> String) {
    let conn = rusqlite::Connection::open(dir.join(".holdpoint/holdpoint.db")).unwrap();
    let (select, update) = match sequence {
        Some(_) => (
            "SELECT body FROM audit WHERE approval_id = ?1 AND sequence = ?2",
            "UPDATE audit SET body = ?3 WHERE approval_id = ?1 AND sequence = ?2",
        ),
        None => (
            "SELECT body FROM approvals WHERE id = ?1 AND ?2 = 0",
            "UPDATE approvals SET body = ?3 WHERE id = ?1 AND ?2 = 0",
        ),
    };
    let seq = sequence.unwrap_or(0) as i64;
    let body: String = conn
        .query_row(select, rusqlite::params![id, seq], |r| r.get(0))
        .unwrap();
    let tampered = edit(&body);
    assert_ne!(tampered, body, "the edit changed the row");
    if sequence.is_some() {
        let refused = conn
            .execute(update, rusqlite::params![id, seq, tampered])
            .expect_err("the audit table refuses edits");
        assert!(refused.to_string().contains("append-only"), "{refused}");
        // What a hand must do first; verification still catches the edit.
        conn.execute_batch("DROP TRIGGER audit_no_update;").unwrap();
    }
    conn.execute(update, rusqlite::params![id, seq, tampered])
        .unwrap();
}

/// Creates an approval and approves it; its id.
async fn decided_approval(server: &Server) -> String {
    let body =
        json!({"action": "delete bucket logs-2019", "agent_id": "a", "reviewers": ["reviewer"]});
    let id = create(server, AGENT_KEY, body).await;
    let decision = json!({"decision": "approved", "comment": "ok"});
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{id}/decision"),
            Some(REVIEWER_KEY),
            Some(&decision),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    id
}

#[tokio::test]
async fn a_hand_edited_record_fails_verification_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let id = decided_approval(&server).await;
    let untouched = decided_approval(&server).await;
    server.kill();

    let ok = holdpoint(dir.path(), &["audit", "verify"], &[]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("2 chains verified, 0 broken"), "{stdout}");

    // Change who decided, in the decision's record, by hand.
    edit_row(dir.path(), &id, Some(2), |line| {
        line.replace("\"actor\":\"reviewer\"", "\"actor\":\"someone-else\"")
    });

    let broken = holdpoint(dir.path(), &["audit", "verify"], &[]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t1) at sequence 2")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ok     approval {untouched}")),
        "{stdout}"
    );

    let one = holdpoint(
        dir.path(),
        &["audit", "verify", "--approval", &untouched],
        &[],
    );
    assert!(one.status.success());
}

#[tokio::test]
async fn a_hand_edited_approval_state_is_named_and_nothing_runs_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let id = decided_approval(&server).await;
    server.kill();

    // Turn the stored comment of the approving vote into another one, in the approval only.
    edit_row(dir.path(), &id, None, |line| {
        line.replacen("\"comment\":\"ok\"", "\"comment\":\"ok, ship it\"", 1)
    });

    let broken = holdpoint(dir.path(), &["audit", "verify"], &[]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t1) at sequence 2"))
            && stdout.contains("(approvals)"),
        "names the approval and the field: {stdout}"
    );

    let server = Server::for_team(dir.path(), &[]).await;
    let (status, shown) = server
        .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
        .await
        .unwrap();
    assert_eq!((status, shown["integrity"].as_str()), (200, Some("broken")));
    let (status, problem) = server
        .call(
            "POST",
            &format!("/v1/approvals/{id}/execute"),
            Some(AGENT_KEY),
            Some(&json!({"context_hash": "0".repeat(64)})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, problem["code"].as_str()),
        (500, Some("integrity_violation"))
    );
}

#[tokio::test]
async fn verification_refuses_to_run_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = holdpoint(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signing-keys.json"));
}

#[tokio::test]
async fn a_hand_edited_dynamodb_record_fails_verification_by_name() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "run with infra/test.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (approvals, audit) = (
        format!("cli-approvals-{suffix}"),
        format!("cli-audit-{suffix}"),
    );
    let env = [
        ("HOLDPOINT_APPROVALS_TABLE", approvals.as_str()),
        ("HOLDPOINT_AUDIT_TABLE", audit.as_str()),
        ("HOLDPOINT_STORE", "dynamodb"),
    ];
    assert!(
        holdpoint(dir.path(), &["tables", "create"], &env)
            .status
            .success()
    );
    let server = Server::for_team(dir.path(), &env).await;
    let id = decided_approval(&server).await;
    server.kill();

    let ok = holdpoint(dir.path(), &["audit", "verify", "--tenant", "t1"], &env);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Rewrite the decision record's actor in the table itself.
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let key = |seq: u64| {
        std::collections::HashMap::from([
            (
                "approval".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("t1#{id}")),
            ),
            (
                "seq".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N(seq.to_string()),
            ),
        ])
    };
    let item = client
        .get_item()
        .table_name(&audit)
        .set_key(Some(key(2)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // Kept deflated; written back as text, which the store reads as well.
    let doc = holdpoint::store::dynamodb::item::doc_text(&item, "audit").unwrap();
    let edited = doc.replace("\"actor\":\"reviewer\"", "\"actor\":\"someone-else\"");
    assert_ne!(edited, doc);
    client
        .update_item()
        .table_name(&audit)
        .set_key(Some(key(2)))
        .update_expression("SET doc = :d")
        .expression_attribute_values(":d", aws_sdk_dynamodb::types::AttributeValue::S(edited))
        .send()
        .await
        .unwrap();

    let broken = holdpoint(dir.path(), &["audit", "verify", "--tenant", "t1"], &env);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t1) at sequence 2")),
        "{stdout}"
    );
}
