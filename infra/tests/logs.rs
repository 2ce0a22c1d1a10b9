//! The local server's log fits where it goes: written to a file (not a terminal), it carries no
//! ANSI colour codes.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{AGENT_KEY, free_port, team_keys};

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("holdpoint.log");
    let out = dir.path().join("holdpoint.out");
    // Left by development versions: no longer read, and the server says so.
    let data = dir.path().join(".holdpoint");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("api-keys.json"), "{}").unwrap();
    std::fs::write(data.join("journal.jsonl"), "").unwrap();
    // Started here rather than by `Server::start`, which leaves stderr to the test's own.
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(["serve", "--sweep-seconds", "1"])
        .current_dir(dir.path())
        .env("HOLDPOINT_ADDR", &addr)
        .env("HOLDPOINT_API_KEYS", team_keys())
        .env("HOLDPOINT_MIN_EXPIRY_SECONDS", "1")
        .env("HOLDPOINT_LOG", "info")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("holdpoint starts");

    // An approval that expires at once: the next sweep logs that it expired it.
    let body = json!({"action": "a", "agent_id": "a", "reviewers": ["reviewer"],
        "expires_in_seconds": 1});
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let created = http
            .post(format!("http://{addr}/v1/approvals"))
            .bearer_auth(AGENT_KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        if created.is_ok_and(|r| r.status() == 201) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "holdpoint did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut text = String::new();
    while started.elapsed() < Duration::from_secs(30) && !text.contains("sweep") {
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = std::fs::read_to_string(&log).unwrap();
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(text.contains("sweep"), "the sweep logged: {text:?}");
    assert!(!text.contains("\x1b["), "no colour codes: {text:?}");
    let said = std::fs::read_to_string(&out).unwrap();
    for old in ["api-keys.json", "journal.jsonl"] {
        assert!(
            said.contains(&format!(
                "{old} is from a development version and is no longer read"
            )),
            "{said}"
        );
    }
}
