//! The data directory's lifecycle. A directory of the journal store (before SQLite) is imported
//! on the first start: chains verified, then stored, then the journal renamed; a journal that
//! cannot be read or does not verify stops the server by name and imports nothing.
//! `holdpoint backup` copies a running store, and a server started on the copy has it all.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::{Server, free_port};

const AGENT: &str = "agent-key-0000000000";
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/journal-v0");
const EXECUTED: &str = "45cf1145-066c-4f2d-8e0b-0183c685bbb7";
const REJECTED: &str = "105f4bb3-e9c6-4903-ab2f-be555040627a";
const CANCELLED: &str = "231bebbb-c295-403a-8d63-58b365c5816e";
const LEFT_PENDING: [&str; 2] = [
    "6d590cb4-526a-4cdd-803e-abd1670cd087",
    "37136812-d30f-4977-a4bc-ef7dee8db571",
];

fn keys() -> String {
    json!({
        AGENT: {"tenant": "t", "principal": "agent"},
        "reviewer-key-000000000": {"tenant": "t", "principal": "rev"},
    })
    .to_string()
}

/// A copy of the fixture as `.holdpoint` in `dir`, with `edit` applied to the journal's text.
fn data_dir(dir: &Path, edit: impl Fn(&str) -> String) {
    let data = dir.join(".holdpoint");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        Path::new(FIXTURE).join("signing-keys.json"),
        data.join("signing-keys.json"),
    )
    .unwrap();
    let journal = std::fs::read_to_string(Path::new(FIXTURE).join("journal.jsonl")).unwrap();
    std::fs::write(data.join("journal.jsonl"), edit(&journal)).unwrap();
}

fn holdpoint(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(args)
        .current_dir(dir)
        .env("HOLDPOINT_API_KEYS", keys())
        .env("HOLDPOINT_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("holdpoint runs")
}

#[tokio::test]
async fn a_journal_of_an_earlier_version_is_imported_verified_and_renamed() {
    let dir = tempfile::tempdir().unwrap();
    data_dir(dir.path(), str::to_owned);
    let keys = keys();
    let env = [("HOLDPOINT_API_KEYS", keys.as_str())];
    let server = Server::start(dir.path(), &env, free_port()).await;

    let data = dir.path().join(".holdpoint");
    assert!(!data.join("journal.jsonl").exists());
    assert!(data.join("journal.jsonl.imported").exists());
    let mut statuses = Vec::new();
    for id in [EXECUTED, REJECTED, CANCELLED]
        .into_iter()
        .chain(LEFT_PENDING)
    {
        let (status, a) = server
            .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{a}");
        // `integrity` appears only when the stored state contradicts its signed chain.
        assert!(a.get("integrity").is_none(), "{a}");
        statuses.push(a["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses[..3], ["executed", "rejected", "cancelled"]);
    for s in &statuses[3..] {
        assert!(s == "pending" || s == "expired", "{s}");
    }
    let (status, page) = server
        .call("GET", "/v1/approvals?limit=10", Some(AGENT), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 5, "{page}");

    // The imported idempotency key still answers with the approval it made.
    let first = json!({"action": "pay invoice 1", "agent_id": "billing", "reviewers": ["rev"],
        "context": {"amount": 100}, "risk_score": 15});
    let again = raw_create(&server, &first, "journal-import-key-1").await;
    assert!(again.contains(EXECUTED), "{again}");

    server.kill();
    let verify = holdpoint(dir.path(), &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{stdout}");
    assert!(stdout.contains("5 chains verified, 0 broken"), "{stdout}");

    // A second start imports nothing again and keeps what is stored.
    let server = Server::start(dir.path(), &env, free_port()).await;
    let (status, page) = server
        .call("GET", "/v1/approvals?limit=10", Some(AGENT), None)
        .await
        .unwrap();
    assert_eq!((status, page["items"].as_array().unwrap().len()), (200, 5));
}

/// POST /v1/approvals with an Idempotency-Key; the raw response.
async fn raw_create(server: &Server, body: &serde_json::Value, key: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let body = body.to_string();
    let req = format!(
        "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \
         {AGENT}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn a_journal_line_that_cannot_be_read_stops_the_server_by_name_and_store_check_explains() {
    let dir = tempfile::tempdir().unwrap();
    // The first transition's line, its version made unreadable.
    let line = std::fs::read_to_string(Path::new(FIXTURE).join("journal.jsonl"))
        .unwrap()
        .lines()
        .position(|l| l.contains("\"op\":\"transition\""))
        .unwrap()
        + 1;
    data_dir(dir.path(), |text| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[line - 1] = lines[line - 1].replacen("\"version\":2", "\"version\":\"two\"", 1);
        lines.join("\n") + "\n"
    });

    let start = holdpoint(dir.path(), &["serve"]);
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert_eq!(start.status.code(), Some(2), "{stderr}");
    let named = format!("line {line} cannot be read");
    assert!(
        stderr.contains(&named) && stderr.contains("holdpoint store check"),
        "{stderr}"
    );
    assert!(dir.path().join(".holdpoint/journal.jsonl").exists());

    let check = holdpoint(dir.path(), &["store", "check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&named), "{stdout}");
    assert!(stdout.contains("recovery:"), "{stdout}");
    assert!(
        stdout.contains("integrity check finds nothing wrong"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_journal_whose_chain_does_not_verify_is_not_imported() {
    let dir = tempfile::tempdir().unwrap();
    // Who rejected, changed in the rejection's record.
    data_dir(dir.path(), |text| {
        text.lines()
            .map(|l| {
                if l.contains(REJECTED) && l.contains("\"op\":\"transition\"") {
                    l.replace("\"actor\":\"rev\"", "\"actor\":\"mallory\"")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });

    let start = holdpoint(dir.path(), &["serve"]);
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert_eq!(start.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(REJECTED) && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    assert!(dir.path().join(".holdpoint/journal.jsonl").exists());
    let verify = holdpoint(dir.path(), &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        stdout.contains("0 chains verified"),
        "nothing stored: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_writes_restores_every_approval_with_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let env = [("HOLDPOINT_API_KEYS", keys.as_str())];
    let server = std::sync::Arc::new(Server::start(dir.path(), &env, free_port()).await);
    let create = |server: std::sync::Arc<Server>, i: usize| async move {
        let body =
            json!({"action": format!("rotate key {i}"), "agent_id": "a", "reviewers": ["rev"]});
        let (status, a) = server
            .call("POST", "/v1/approvals", Some(AGENT), Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 201, "{a}");
        a["id"].as_str().unwrap().to_owned()
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
    let server = Server::start(restored.path(), &env, free_port()).await;
    for id in &before {
        let (status, a) = server
            .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{a}");
        assert!(a.get("integrity").is_none(), "{a}");
    }
}

#[tokio::test]
async fn the_api_keys_file_of_an_earlier_version_is_imported_into_the_directory_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".holdpoint");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("api-keys.json"), keys()).unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let (status, me) = server
        .call("GET", "/v1/me", Some(AGENT), None)
        .await
        .unwrap();
    assert_eq!(
        (status, me["principal"].as_str()),
        (200, Some("agent")),
        "{me}"
    );
    assert!(!data.join("api-keys.json").exists());
    assert!(data.join("api-keys.json.imported").exists());
    assert!(
        !data.join("dev-keys.json").exists(),
        "no development keys besides"
    );
    server.kill();

    let list = holdpoint(dir.path(), &["principals", "list", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<_> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agent", "rev"]);
    // Removing one stays removed: the file is never read again.
    assert!(
        holdpoint(dir.path(), &["principals", "remove", "t/rev"])
            .status
            .success()
    );
    let server = Server::start(dir.path(), &[], free_port()).await;
    let (status, _) = server
        .call("GET", "/v1/me", Some("reviewer-key-000000000"), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}
