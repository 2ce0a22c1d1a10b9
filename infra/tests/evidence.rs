//! An auditor's session against the local server (issue 24): fetch the published keys, export an
//! approval's evidence bundle, check it offline with both verifiers (Holdpoint's own and the
//! standalone Python one); an edited bundle fails naming what; a rollback from a backup taken
//! before the decision is caught by `audit verify` and by the bundle once a checkpoint covered
//! the decision; a rotated key keeps old bundles verifying.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{AGENT_KEY, REVIEWER_KEY, Server, create, free_port, holdpoint, printed, team_keys};

fn python_verifier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/verify_bundle.py")
}

/// `tools/verify_bundle.py BUNDLE --keys KEYS`: whether it passed, and what it printed.
fn python_verifies(bundle: &Path, keys: &Path) -> (bool, String) {
    let python = std::env::var("HOLDPOINT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(python_verifier())
        .arg(bundle)
        .arg("--keys")
        .arg(keys)
        .output()
        .expect("python runs");
    (out.status.success(), printed(&out))
}

/// Approves approval `id` as the reviewer.
async fn approve(server: &Server, id: &str) {
    let decision = json!({"decision": "approved", "comment": "ok"});
    let (status, body) = server
        .call(
            "POST",
            &format!("/v1/approvals/{id}/decision"),
            Some(REVIEWER_KEY),
            Some(&decision),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// Waits until a checkpoint records approval `id` at head `sequence`.
async fn checkpointed(server: &Server, id: &str, sequence: u64) -> Value {
    let started = Instant::now();
    loop {
        let (status, bundle) = server
            .call(
                "GET",
                &format!("/v1/approvals/{id}/evidence"),
                Some(AGENT_KEY),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{bundle}");
        let recorded = bundle["checkpoints"].as_array().unwrap().iter().any(|c| {
            c["heads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["approval_id"] == id && h["sequence"].as_u64() == Some(sequence))
        });
        if recorded {
            return bundle;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no checkpoint recorded {id} at {sequence}: {bundle}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The published keys, written to `path`.
async fn fetch_keys(server: &Server, path: &Path) -> Value {
    let (status, keys) = server
        .call("GET", "/.well-known/holdpoint/audit-keys", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200, "no credentials needed: {keys}");
    std::fs::write(path, keys.to_string()).unwrap();
    keys
}

#[tokio::test]
async fn an_auditor_checks_a_bundle_offline_and_a_rollback_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let keys = team_keys();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_CHECKPOINT_SECONDS", "1"),
    ];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let body = json!({"action": "drop table invoices", "agent_id": "a", "reviewers": ["reviewer"],
                      "context": {"rows": 12_000, "ratio": 0.25}});
    let id = create(&server, AGENT_KEY, body).await;

    // A backup taken before the decision: the approval row and its records as they are now.
    let db = dir.path().join(".holdpoint/holdpoint.db");
    let backup = dir.path().join("backup.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("ATTACH ?1 AS b", [backup.to_str().unwrap()])
            .unwrap();
        conn.execute(
            "CREATE TABLE b.approvals AS SELECT * FROM approvals WHERE id = ?1",
            [&id],
        )
        .unwrap();
        conn.execute(
            "CREATE TABLE b.audit AS SELECT * FROM audit WHERE approval_id = ?1",
            [&id],
        )
        .unwrap();
    }
    approve(&server, &id).await;
    checkpointed(&server, &id, 2).await;

    // The auditor: keys, the bundle, both verifiers, with no service, store or secret.
    let keys_file = dir.path().join("keys.json");
    let published = fetch_keys(&server, &keys_file).await;
    assert_eq!(published["keys"][0]["crv"], "P-256", "{published}");
    let bundle = dir.path().join("bundle.json");
    let out = holdpoint(
        dir.path(),
        &["audit", "export", &id, "--out", bundle.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}", printed(&out));
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(
        text.contains("ratio") && text.contains("0.25"),
        "the documents as written: {text}"
    );
    let verify = |bundle: &Path, keys: &Path| {
        holdpoint(
            dir.path(),
            &[
                "audit",
                "verify-bundle",
                bundle.to_str().unwrap(),
                "--keys",
                keys.to_str().unwrap(),
            ],
            &[],
        )
    };
    let out = verify(&bundle, &keys_file);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("the bundle verifies"),
        "{}",
        printed(&out)
    );
    let (ok, said) = python_verifies(&bundle, &keys_file);
    assert!(ok, "the Python verifier agrees: {said}");

    // An edited bundle fails, naming the record.
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, text.replacen("\"reviewer\"", "\"mallory\"", 1)).unwrap();
    let out = verify(&edited, &keys_file);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(printed(&out).contains("FAILED"), "{}", printed(&out));
    assert!(!python_verifies(&edited, &keys_file).0);

    // The rollback: the approval row and its records put back from the backup, consistently,
    // after a checkpoint recorded the decision.
    server.kill();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("ATTACH ?1 AS b", [backup.to_str().unwrap()])
            .unwrap();
        conn.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
        conn.execute("DELETE FROM audit WHERE approval_id = ?1", [&id])
            .unwrap();
        conn.execute("INSERT INTO audit SELECT * FROM b.audit", [])
            .unwrap();
        conn.execute("DELETE FROM approvals WHERE id = ?1", [&id])
            .unwrap();
        conn.execute("INSERT INTO approvals SELECT * FROM b.approvals", [])
            .unwrap();
    }
    let out = holdpoint(dir.path(), &["audit", "verify"], &env);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains(&format!("BROKEN approval {id}"))
            && printed(&out).contains("rolled back"),
        "{}",
        printed(&out)
    );
    let rolled = dir.path().join("rolled-back.json");
    let out = holdpoint(
        dir.path(),
        &["audit", "export", &id, "--out", rolled.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}", printed(&out));
    let out = verify(&rolled, &keys_file);
    assert!(
        !out.status.success(),
        "the bundle shows it too: {}",
        printed(&out)
    );
    assert!(!python_verifies(&rolled, &keys_file).0);

    // A rotated key: new checkpoints are signed by it, and the old bundle still verifies with
    // the key set published now.
    let out = holdpoint(dir.path(), &["audit", "keys", "--rotate"], &env);
    assert!(out.status.success(), "{}", printed(&out));
    let server = Server::start(dir.path(), &env, free_port()).await;
    let second = create(
        &server,
        AGENT_KEY,
        json!({"action": "x", "agent_id": "a", "reviewers": ["reviewer"]}),
    )
    .await;
    let later = checkpointed(&server, &second, 1).await;
    let rotated = dir.path().join("keys-now.json");
    let now = fetch_keys(&server, &rotated).await;
    assert_eq!(now["keys"].as_array().unwrap().len(), 2, "{now}");
    let newest_kid = later["checkpoints"].as_array().unwrap().last().unwrap()["key_id"].clone();
    assert_ne!(
        newest_kid, published["keys"][0]["kid"],
        "signed by the new key"
    );
    let out = verify(&bundle, &rotated);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(python_verifies(&bundle, &rotated).0);

    // The rolled-back approval is pending again: decided anew, its chain moves past what the
    // checkpoint recorded with a record 2 other than the recorded one. No checkpoint signs over
    // it, and its bundle (from the first checkpoint that recorded it) fails.
    approve(&server, &id).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rewritten = dir.path().join("rewritten.json");
    let out = holdpoint(
        dir.path(),
        &["audit", "export", &id, "--out", rewritten.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}", printed(&out));
    let out = verify(&rewritten, &rotated);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(!python_verifies(&rewritten, &rotated).0);

    // The server's checkpoints since the restart found the rolled-back chain: never recorded
    // (no checkpoint vouches for it), announced, and still named by audit verify.
    let events = std::fs::read_to_string(dir.path().join(".holdpoint/events.jsonl")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("Approval Integrity Violation")
                && l.contains(&id)
                && l.contains("rolled back")),
        "{events}"
    );
    let out = holdpoint(dir.path(), &["audit", "verify"], &env);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(printed(&out).contains("rolled back"), "{}", printed(&out));
}

#[tokio::test]
async fn a_siem_reads_the_trail_as_json_lines_and_resumes_by_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let keys = team_keys();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_CHECKPOINT_SECONDS", "1"),
    ];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let body = json!({"action": "x", "agent_id": "a", "reviewers": ["reviewer"]});
    let first = create(&server, AGENT_KEY, body.clone()).await;
    let second = create(&server, AGENT_KEY, body).await;
    approve(&server, &first).await;
    checkpointed(&server, &first, 2).await;
    checkpointed(&server, &second, 1).await;

    let export = |args: &[&str]| {
        let mut all = vec!["audit", "export", "--format", "jsonl", "--tenant", "t1"];
        all.extend_from_slice(args);
        holdpoint(dir.path(), &all, &env)
    };
    let out = export(&[]);
    assert!(out.status.success(), "{}", printed(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let records: Vec<(String, u64)> = lines
        .iter()
        .filter(|l| l["kind"] == "record")
        .map(|l| {
            (
                l["approval_id"].as_str().unwrap().to_owned(),
                l["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    // Every record once, each before the checkpoint that covers it; a checkpoint last.
    let mut sorted = records.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), records.len(), "each record once: {records:?}");
    let mut expected = vec![(first.clone(), 1), (first.clone(), 2), (second.clone(), 1)];
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(lines.last().unwrap()["kind"], "checkpoint");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let cursor = said.rsplit("--cursor ").next().unwrap().trim().to_owned();
    let checkpoints = lines.iter().filter(|l| l["kind"] == "checkpoint").count();
    assert_eq!(cursor.parse::<usize>().unwrap(), checkpoints + 1, "{said}");
    // Resumed from the cursor: nothing new until something moves and is checkpointed.
    let out = export(&["--cursor", &cursor]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(out.stdout.is_empty(), "{}", printed(&out));
    let third = create(
        &server,
        AGENT_KEY,
        json!({"action": "y", "agent_id": "a", "reviewers": ["reviewer"]}),
    )
    .await;
    checkpointed(&server, &third, 1).await;
    let out = export(&["--cursor", &cursor]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(&third), "{text}");

    // An approval deleted outright, records and all, after a checkpoint recorded it: the export
    // says so rather than skip it, and audit verify walks it and names it.
    server.kill();
    {
        let conn = rusqlite::Connection::open(dir.path().join(".holdpoint/holdpoint.db")).unwrap();
        conn.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
        conn.execute("DELETE FROM audit WHERE approval_id = ?1", [&second])
            .unwrap();
        conn.execute("DELETE FROM approvals WHERE id = ?1", [&second])
            .unwrap();
    }
    let out = export(&[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("\"kind\":\"mismatch\"") && l.contains(&second)),
        "{text}"
    );
    let out = holdpoint(dir.path(), &["audit", "verify"], &env);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains(&format!("BROKEN approval {second}")),
        "{}",
        printed(&out)
    );
}
