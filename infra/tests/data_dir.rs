//! The data directory's lifecycle: `holdpoint backup` copies a running store, and a server
//! started on the copy has it all; `holdpoint store check` reads the store with SQLite's
//! integrity check.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::json;
use support::{AGENT_KEY, Server, create, team_keys};

/// `holdpoint ARGS…` in `dir`, beside a server that knows the team's keys.
fn holdpoint(dir: &Path, args: &[&str]) -> Output {
    support::holdpoint(dir, args, &[("HOLDPOINT_API_KEYS", &team_keys())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_writes_restores_every_approval_with_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(Server::for_team(dir.path(), &[]).await);
    let create = |server: std::sync::Arc<Server>, i: usize| async move {
        let body = json!({"action": format!("rotate key {i}"), "agent_id": "a", "reviewers": ["reviewer"]});
        create(&server, AGENT_KEY, body).await
    };
    let mut before = Vec::new();
    for i in 0..20 {
        before.push(create(server.clone(), i).await);
    }
    // Writes keep coming while the copy is taken.
    let writing = tokio::spawn({
        let server = server.clone();
        async move {
            for i in 20..60 {
                create(server.clone(), i).await;
            }
        }
    });
    let copy = dir.path().join("copy.db");
    let out = holdpoint(dir.path(), &["backup", copy.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("approvals copied"), "{stdout}");
    writing.await.unwrap();
    let again = holdpoint(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing file is never overwritten"
    );
    server.kill();

    // Restore: the copy in place of holdpoint.db, beside the same signing keys.
    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join(".holdpoint");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&copy, data.join("holdpoint.db")).unwrap();
    std::fs::copy(
        dir.path().join(".holdpoint/signing-keys.json"),
        data.join("signing-keys.json"),
    )
    .unwrap();
    let verify = holdpoint(restored.path(), &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{stdout}");
    assert!(stdout.contains(" chains verified, 0 broken"), "{stdout}");
    let check = holdpoint(restored.path(), &["store", "check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(
        stdout.contains("integrity check finds nothing wrong"),
        "{stdout}"
    );
    let server = Server::for_team(restored.path(), &[]).await;
    for id in &before {
        let (status, a) = server
            .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{a}");
        assert!(a.get("integrity").is_none(), "{a}");
    }
}

#[test]
fn store_check_where_there_is_no_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let check = holdpoint(dir.path(), &["store", "check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no embedded store here"), "{stderr}");
}

#[tokio::test]
async fn store_check_names_a_damaged_index_and_the_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let body = json!({"action": "rotate key", "agent_id": "a", "reviewers": ["reviewer"]});
    create(&server, AGENT_KEY, body).await;
    server.kill();
    // An index whose entries no longer match its table, as a damaged page leaves it.
    let conn = rusqlite::Connection::open(dir.path().join(".holdpoint/holdpoint.db")).unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE INDEX approvals_by_agent ON approvals \
         (tenant, status, created_at, id)' WHERE name = 'approvals_by_agent';",
    )
    .unwrap();
    drop(conn);

    let check = holdpoint(dir.path(), &["store", "check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("approvals_by_agent"), "{stdout}");
    assert!(stdout.contains("recovery:"), "{stdout}");
}
