//! Hostile clients against the local server: what it answers by itself is a problem document,
//! bodies are refused before they are read, and slow or idle connections are let go.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{Server, free_port};

fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn problem_code(answer: &str) -> (u16, String) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    let body: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn what_the_server_answers_itself_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let addr = server.addr;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400, "malformed_request"),
        (
            format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000))
                .into_bytes(),
            431,
            "headers_too_large",
        ),
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 404, "no_route"),
        (
            b"DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            405,
            "method_not_allowed",
        ),
        (
            b"POST /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 999999999\r\n\r\n".to_vec(),
            401,
            "unauthenticated",
        ),
    ];
    for (request, status, code) in cases {
        let answer = tokio::task::spawn_blocking(move || exchange(addr, &request))
            .await
            .unwrap();
        assert_eq!(problem_code(&answer), (status, code.to_owned()), "{answer}");
    }
}

#[tokio::test]
async fn bodies_are_refused_before_they_are_read_and_memory_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let addr = server.addr;
    let id = uuid::Uuid::new_v4();
    // A declared body over the form's limit is refused at once, without waiting for it.
    let declared = format!(
        "POST /review/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\n"
    );
    let answer = tokio::task::spawn_blocking(move || exchange(addr, declared.as_bytes()))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // 200 unauthenticated connections, each sending the largest form the route reads.
    let before = server.rss_kib();
    let prefix = "decision=approved&token=";
    let body = format!(
        "{prefix}{}",
        "a".repeat(holdpoint_core::domain::request::limits::FORM_BYTES - prefix.len())
    );
    let request = format!(
        "POST /review/{id} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        held.push(s);
    }
    let (mut peak, mut judged) = (0, 0);
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = [0u8; 200];
        s.read_exact(&mut head).unwrap();
        let head = String::from_utf8_lossy(&head);
        // From one address, at most its share (16) is in hand at once; the rest are shed.
        if head.starts_with("HTTP/1.1 403") {
            judged += 1;
        } else {
            assert!(
                head.starts_with("HTTP/1.1 503") && head.contains("retry-after: 1"),
                "a form with a bad link is refused, or shed: {head}"
            );
        }
        peak = peak.max(server.rss_kib());
    }
    assert!(
        judged >= 16,
        "one address's share is read and judged: {judged}"
    );
    println!(
        "local server RSS: {before} KiB before, {peak} KiB at most while answering 200 connections \
         sending a maximal review form each ({judged} judged, the rest shed)"
    );
    assert!(peak < 150 * 1024, "RSS {peak} KiB");
}

#[tokio::test]
async fn slow_and_idle_clients_are_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let addr = server.addr;
    let held = tokio::task::spawn_blocking(move || {
        // Headers trickling in, one byte a second: let go once the header time is up.
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let started = Instant::now();
        let mut closed_after = None;
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if slow.write_all(&[*byte]).is_err() {
                closed_after = Some(started.elapsed());
                break;
            }
            let mut buf = [0u8; 64];
            if matches!(slow.read(&mut buf), Ok(0)) {
                closed_after = Some(started.elapsed());
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
            std::thread::sleep(Duration::from_millis(800));
        }
        // Idle after one answer on a keep-alive connection: let go too.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        let mut idle_closed = None;
        while let Ok(n) = idle.read(&mut buf) {
            if n == 0 {
                idle_closed = Some(started.elapsed());
                break;
            }
        }
        (closed_after, idle_closed)
    })
    .await
    .unwrap();
    println!(
        "slow headers let go after {:?}, idle keep-alive after {:?}",
        held.0, held.1
    );
    let limit = Duration::from_secs(20);
    assert!(
        held.0.is_some_and(|d| d < limit),
        "slow client held: {held:?}"
    );
    assert!(
        held.1.is_some_and(|d| d < limit),
        "idle client held: {held:?}"
    );
}
