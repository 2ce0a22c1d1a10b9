//! The local server's log fits where it goes: written to a file (not a terminal), it carries no
//! ANSI colour codes.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AGENT: &str = "agent-key-0000000000";

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = json!({AGENT: {"tenant": "t", "principal": "agent"}}).to_string();
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let log = dir.path().join("holdpoint.log");
    // Started here rather than by `Server::start`, which leaves stderr to the test's terminal.
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdpoint"))
        .args(["serve", "--sweep-seconds", "1"])
        .current_dir(dir.path())
        .env("HOLDPOINT_ADDR", addr.to_string())
        .env("HOLDPOINT_API_KEYS", &keys)
        .env("HOLDPOINT_MIN_EXPIRY_SECONDS", "1")
        .env("HOLDPOINT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("holdpoint starts");

    // An approval that expires at once: the next sweep logs that it expired it.
    let body =
        json!({"action": "a", "agent_id": "a", "reviewers": ["rev"], "expires_in_seconds": 1});
    let started = Instant::now();
    loop {
        if create(addr, &body)
            .await
            .is_ok_and(|r| r.starts_with("HTTP/1.1 201"))
        {
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
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("sweep"), "the sweep logged: {text:?}");
    assert!(!text.contains("\x1b["), "no colour codes: {text:?}");
}

/// POST /v1/approvals as the agent; the raw response.
async fn create(addr: SocketAddr, body: &serde_json::Value) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let body = body.to_string();
    let req = format!(
        "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \
         {AGENT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut out = String::new();
    stream.read_to_string(&mut out).await?;
    Ok(out)
}
