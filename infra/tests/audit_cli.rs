//! `holdpoint audit verify` against stores tampered with by hand: it exits non-zero and names
//! the approval and the sequence.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use support::{Server, free_port};

const AGENT: &str = "agent-key-0000000000";
const REVIEWER: &str = "reviewer-key-0000000";

fn keys() -> String {
    json!({
        AGENT: {"tenant": "t", "principal": "agent"},
        REVIEWER: {"tenant": "t", "principal": "reviewer"},
    })
    .to_string()
}

fn holdpoint(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .output()
        .expect("holdpoint runs")
}

/// Rewrites, by hand, every journal line that records a transition of approval `id`.
fn edit_transitions(dir: &Path, id: &str, edit: impl Fn(&str) -> String) {
    let journal = dir.join(".holdpoint/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let tampered: Vec<String> = text
        .lines()
        .map(|line| {
            if line.contains(id) && line.contains("\"op\":\"transition\"") {
                edit(line)
            } else {
                line.to_owned()
            }
        })
        .collect();
    let tampered = tampered.join("\n") + "\n";
    assert_ne!(tampered, text, "the edit changed the journal");
    std::fs::write(&journal, tampered).unwrap();
}

/// Creates an approval and approves it; its id.
async fn decided_approval(server: &Server) -> String {
    let body =
        json!({"action": "delete bucket logs-2019", "agent_id": "a", "reviewers": ["reviewer"]});
    let (status, a) = server
        .call("POST", "/v1/approvals", Some(AGENT), Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let decision = json!({"decision": "approved", "comment": "ok"});
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{id}/decision"),
            Some(REVIEWER),
            Some(&decision),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    id
}

#[tokio::test]
async fn a_hand_edited_journal_fails_verification_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let env = [("HOLDPOINT_API_KEYS", keys.as_str())];
    let server = Server::start(dir.path(), &env, free_port()).await;
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
    edit_transitions(dir.path(), &id, |line| {
        line.replace("\"actor\":\"reviewer\"", "\"actor\":\"someone-else\"")
    });

    let broken = holdpoint(dir.path(), &["audit", "verify"], &[]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t) at sequence 2")),
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
    let keys = keys();
    let env = [("HOLDPOINT_API_KEYS", keys.as_str())];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let id = decided_approval(&server).await;
    server.kill();

    // Turn the stored comment of the approving vote into another one, in the approval only.
    edit_transitions(dir.path(), &id, |line| {
        line.replacen("\"comment\":\"ok\"", "\"comment\":\"ok, ship it\"", 1)
    });

    let broken = holdpoint(dir.path(), &["audit", "verify"], &[]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t) at sequence 2"))
            && stdout.contains("(approvals)"),
        "names the approval and the field: {stdout}"
    );

    let server = Server::start(dir.path(), &env, free_port()).await;
    let (status, shown) = server
        .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT), None)
        .await
        .unwrap();
    assert_eq!((status, shown["integrity"].as_str()), (200, Some("broken")));
    let (status, problem) = server
        .call(
            "POST",
            &format!("/v1/approvals/{id}/execute"),
            Some(AGENT),
            Some(&json!({})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, problem["code"].as_str()),
        (500, Some("integrity_violation"))
    );
}

#[tokio::test]
async fn a_journal_line_that_cannot_be_read_stops_the_server_by_name_and_store_check_explains() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let env = [("HOLDPOINT_API_KEYS", keys.as_str())];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let id = decided_approval(&server).await;
    server.kill();
    edit_transitions(dir.path(), &id, |line| {
        line.replacen("\"version\":2", "\"version\":\"two\"", 1)
    });

    let start = Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .arg("serve")
        .current_dir(dir.path())
        .envs(env)
        .env("HOLDPOINT_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("holdpoint runs");
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert_eq!(start.status.code(), Some(2), "{stderr}");
    // The line of the edited transition, named by the server and by the check alike.
    let journal = std::fs::read_to_string(dir.path().join(".holdpoint/journal.jsonl")).unwrap();
    let line = journal
        .lines()
        .position(|l| l.contains("\"version\":\"two\""))
        .unwrap()
        + 1;
    let named = format!("line {line} cannot be read");
    assert!(
        stderr.contains(&named) && stderr.contains("holdpoint store check"),
        "{stderr}"
    );

    let check = holdpoint(dir.path(), &["store", "check"], &[]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&named), "{stdout}");
    assert!(stdout.contains("recovery:"), "{stdout}");
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
    let keys = keys();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_APPROVALS_TABLE", approvals.as_str()),
        ("HOLDPOINT_AUDIT_TABLE", audit.as_str()),
        ("HOLDPOINT_STORE", "dynamodb"),
    ];
    assert!(
        holdpoint(dir.path(), &["tables", "create"], &env)
            .status
            .success()
    );
    let server = Server::start(dir.path(), &env, free_port()).await;
    let id = decided_approval(&server).await;
    server.kill();

    let ok = holdpoint(dir.path(), &["audit", "verify", "--tenant", "t"], &env);
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
                aws_sdk_dynamodb::types::AttributeValue::S(format!("t#{id}")),
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
    let aws_sdk_dynamodb::types::AttributeValue::S(doc) = &item["doc"] else {
        panic!("doc")
    };
    let edited = doc.replace("\"actor\":\"reviewer\"", "\"actor\":\"someone-else\"");
    assert_ne!(&edited, doc);
    client
        .update_item()
        .table_name(&audit)
        .set_key(Some(key(2)))
        .update_expression("SET doc = :d")
        .expression_attribute_values(":d", aws_sdk_dynamodb::types::AttributeValue::S(edited))
        .send()
        .await
        .unwrap();

    let broken = holdpoint(dir.path(), &["audit", "verify", "--tenant", "t"], &env);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN approval {id} (tenant t) at sequence 2")),
        "{stdout}"
    );
}
