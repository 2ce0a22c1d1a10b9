//! A reminder in the evidence: an approval's bundle holding its `reminded` record verifies
//! offline in both verifiers (Holdpoint's own and tools/verify_bundle.py); the reminder's record
//! edited (its time left, or its event renamed) fails both.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{AGENT_KEY, Server, create, free_port, holdpoint, printed, team_keys};

fn python_verifies(bundle: &Path, keys: &Path) -> (bool, String) {
    let verifier: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/verify_bundle.py");
    let python = std::env::var("HOLDPOINT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(verifier)
        .arg(bundle)
        .arg("--keys")
        .arg(keys)
        .output()
        .expect("python runs");
    (out.status.success(), printed(&out))
}

/// The bundle of `id` once a checkpoint recorded its reminder (head 2).
async fn reminded_and_checkpointed(server: &Server, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let path = format!("/v1/approvals/{id}/evidence");
        let (status, bundle) = server
            .call("GET", &path, Some(AGENT_KEY), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{bundle}");
        let recorded = bundle["checkpoints"].as_array().unwrap().iter().any(|c| {
            c["heads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["approval_id"] == id && h["sequence"].as_u64() == Some(2))
        });
        if recorded {
            return bundle;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint recorded the reminder of {id}: {bundle}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_bundle_with_a_reminder_verifies_in_both_verifiers_and_an_edit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let keys = team_keys();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_CHECKPOINT_SECONDS", "1"),
        ("HOLDPOINT_SWEEP_SECONDS", "1"),
        ("HOLDPOINT_REMIND_AT", "0.02"),
    ];
    let server = Server::start(dir.path(), &env, free_port()).await;
    let body = json!({"action": "rotate keys", "agent_id": "a", "reviewers": ["reviewer"],
                      "expires_in_seconds": 300});
    let id = create(&server, AGENT_KEY, body).await;
    let bundle = reminded_and_checkpointed(&server, &id).await;
    assert_eq!(bundle["records"][1]["event"], "reminded", "{bundle}");

    let (status, published) = server
        .call("GET", "/.well-known/holdpoint/audit-keys", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, published.to_string()).unwrap();
    let file = dir.path().join("bundle.json");
    let out = holdpoint(
        dir.path(),
        &["audit", "export", &id, "--out", file.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}", printed(&out));
    let verify = |bundle: &Path| {
        let (b, k) = (bundle.to_str().unwrap(), keys_file.to_str().unwrap());
        holdpoint(dir.path(), &["audit", "verify-bundle", b, "--keys", k], &[])
    };
    let out = verify(&file);
    assert!(out.status.success(), "{}", printed(&out));
    let (ok, said) = python_verifies(&file, &keys_file);
    assert!(ok, "the Python verifier agrees: {said}");

    // Attacker tries: the reminder's time left rewritten, or its record passed off as another
    // event; each fails in both verifiers.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"seconds_left\":"), "{text}");
    let edits = [
        text.replacen("\"seconds_left\":", "\"seconds_left\":1", 1),
        text.replacen("\"event\": \"reminded\"", "\"event\": \"extended\"", 1),
    ];
    for (i, edited) in edits.into_iter().enumerate() {
        assert_ne!(edited, text, "edit {i} applies");
        let path = dir.path().join(format!("edited-{i}.json"));
        std::fs::write(&path, edited).unwrap();
        let out = verify(&path);
        assert!(!out.status.success(), "edit {i}: {}", printed(&out));
        assert!(!python_verifies(&path, &keys_file).0, "edit {i}");
    }
}
