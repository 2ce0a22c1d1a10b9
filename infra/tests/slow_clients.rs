//! Slow and many clients against the local server's bounds, loopback only: what a client holds
//! while it trickles is its own (its caller's share and its body's bytes), never the request
//! slots others need; a connection past the cap gets its `503` (or its `/health`) in full.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{AGENT_KEY, REVIEWER_KEY, Server};

/// The share of one caller (`holdpoint::http::limits::PER_CALLER`).
const PER_CALLER: usize = 16;

/// `request` sent on a new connection; the whole answer (the server closes or 10 s pass).
fn ask(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A connection that sent `head` and the start of a body it never finishes.
fn trickle(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s
}

fn slow_create(key: &str) -> String {
    format!(
        "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 131072\r\n\r\n{{\"action\": \""
    )
}

fn list(key: &str) -> String {
    format!(
        "GET /v1/approvals?limit=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Connection: close\r\n\r\n"
    )
}

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn assert_busy(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
}

#[tokio::test]
async fn clients_that_never_finish_a_body_hold_no_request_slot() {
    let dir = tempfile::tempdir().unwrap();
    // Two request slots: were a trickling body to hold one, two of them would stop everything.
    let server = Server::for_team(dir.path(), &[("HOLDPOINT_MAX_REQUESTS", "2")]).await;
    let addr = server.addr;
    let (unknown, review, own_share, listed, other, health) =
        tokio::task::spawn_blocking(move || {
            // Without credentials: refused before a byte of the body is read, holding nothing.
            let started = Instant::now();
            let unknown = ask(
                addr,
                "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 100000\r\n\r\n{\"a",
            );
            let unknown_took = started.elapsed();
            // Review forms never finished, from one peer: its share, then refused.
            let form = "POST /review/6f9619ff-8b86-d011-b42d-00cf4fc964ff HTTP/1.1\r\nHost: x\r\n\
                        Content-Type: application/x-www-form-urlencoded\r\n\
                        Content-Length: 60000\r\n\r\ntoken=";
            let forms: Vec<_> = (0..PER_CALLER).map(|_| trickle(addr, form)).collect();
            std::thread::sleep(Duration::from_millis(300));
            let review = ask(addr, &format!("{form}x"));
            // One agent's creates never finished: its share, then its next request refused.
            let creates: Vec<_> = (0..PER_CALLER)
                .map(|_| trickle(addr, &slow_create(AGENT_KEY)))
                .collect();
            std::thread::sleep(Duration::from_millis(300));
            let own_share = ask(addr, &list(AGENT_KEY));
            // Everyone else is served as ever, and quickly.
            let started = Instant::now();
            let listed = ask(addr, &list(REVIEWER_KEY));
            let other_took = started.elapsed();
            let health = ask(addr, HEALTH);
            drop((forms, creates));
            (
                (unknown, unknown_took),
                review,
                own_share,
                listed,
                other_took,
                health,
            )
        })
        .await
        .unwrap();
    assert!(unknown.0.starts_with("HTTP/1.1 401"), "{}", unknown.0);
    assert!(
        unknown.1 < Duration::from_secs(5),
        "refused at once: {:?}",
        unknown.1
    );
    assert_busy(&review);
    assert!(review.contains("too many requests in hand"), "{review}");
    assert_busy(&own_share);
    assert!(
        listed.starts_with("HTTP/1.1 200"),
        "another caller is served: {listed}"
    );
    assert!(
        other < Duration::from_secs(5),
        "without waiting on the trickles: {other:?}"
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

#[tokio::test]
async fn connections_past_the_cap_get_their_answer_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[("HOLDPOINT_MAX_CONNECTIONS", "4")]).await;
    let addr = server.addr;
    let (silent, posted, health, after) = tokio::task::spawn_blocking(move || {
        // Four idle connections hold every slot (for the header time, 10 s). On a busy machine
        // one may reach the server while a probe's slot is still being freed and be refused
        // itself: taken only once the server refuses a probe and none of the four has been
        // answered (a refused one is answered within its second), else replaced.
        let probe = "GET /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let until = Instant::now() + Duration::from_secs(8);
        let mut held: Vec<TcpStream> = Vec::new();
        loop {
            assert!(
                Instant::now() < until,
                "the four connections were never all held"
            );
            while held.len() < 4 {
                held.push(TcpStream::connect(addr).unwrap());
            }
            if !ask(addr, probe).starts_with("HTTP/1.1 503") {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            std::thread::sleep(Duration::from_millis(1200));
            held.retain(|c| {
                c.set_nonblocking(true).unwrap();
                let mut byte = [0u8; 1];
                let served = matches!(
                    (&*c).read(&mut byte),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                );
                c.set_nonblocking(false).unwrap();
                served
            });
            if held.len() == 4 {
                break;
            }
        }
        // Nothing sent: refused after the second it had to send its request.
        let silent = ask(addr, "");
        // A request with a body: read, then answered, not reset with its request unread.
        let posted = ask(
            addr,
            &format!(
                "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AGENT_KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: 600\r\n\r\n{}",
                "x".repeat(600)
            ),
        );
        // A monitor still sees the process alive.
        let health = ask(addr, HEALTH);
        drop(held);
        std::thread::sleep(Duration::from_millis(200));
        (silent, posted, health, ask(addr, HEALTH))
    })
    .await
    .unwrap();
    assert_busy(&silent);
    assert_busy(&posted);
    assert!(posted.contains("too many connections"), "{posted}");
    assert!(
        health.starts_with("HTTP/1.1 200"),
        "past the cap /health answers: {health}"
    );
    assert!(health.ends_with("{\"status\":\"ok\"}"), "{health}");
    assert!(
        after.starts_with("HTTP/1.1 200"),
        "served again once slots free: {after}"
    );
}

#[tokio::test]
async fn bodies_past_the_shared_budget_are_refused_until_it_frees() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[("HOLDPOINT_BODY_BUDGET_MIB", "1")]).await;
    let addr = server.addr;
    let (refused, health, later) = tokio::task::spawn_blocking(move || {
        // Eight maximal creates whose bodies never finish hold the whole MiB.
        let held: Vec<_> = (0..8)
            .map(|_| trickle(addr, &slow_create(AGENT_KEY)))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let small = format!(
            "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {REVIEWER_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        let refused = ask(addr, &small);
        let health = ask(addr, HEALTH);
        drop(held);
        std::thread::sleep(Duration::from_millis(300));
        (refused, health, ask(addr, &small))
    })
    .await
    .unwrap();
    assert_busy(&refused);
    assert!(refused.contains("request bodies"), "{refused}");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        later.starts_with("HTTP/1.1 4") && !later.starts_with("HTTP/1.1 413"),
        "once freed, read and judged: {later}"
    );
}

#[tokio::test]
async fn forms_without_credentials_read_from_a_pool_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB for callers' bodies; a quarter of it (four forms) for bodies without credentials.
    let server = Server::for_team(dir.path(), &[("HOLDPOINT_BODY_BUDGET_MIB", "1")]).await;
    let addr = server.addr;
    let (refused, create) = tokio::task::spawn_blocking(move || {
        let form = "POST /review/6f9619ff-8b86-d011-b42d-00cf4fc964ff HTTP/1.1\r\nHost: x\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\n\
                    Transfer-Encoding: chunked\r\n\r\n1\r\nt\r\n";
        let held: Vec<_> = (0..4).map(|_| trickle(addr, form)).collect();
        std::thread::sleep(Duration::from_millis(300));
        let refused = ask(addr, form);
        let create = ask(
            addr,
            &format!(
                "POST /v1/approvals HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Authorization: Bearer {AGENT_KEY}\r\nContent-Type: application/json\r\n\
                 Content-Length: 2\r\n\r\n{{}}"
            ),
        );
        drop(held);
        (refused, create)
    })
    .await
    .unwrap();
    assert_busy(&refused);
    assert!(refused.contains("request bodies"), "{refused}");
    assert!(
        create.starts_with("HTTP/1.1 4") && !create.starts_with("HTTP/1.1 413"),
        "a caller's body is read and judged as ever: {create}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let addr = server.addr;
    let (closed, waited) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        // Far more pipelined answers than the socket buffers hold, none of them read.
        let burst = HEALTH.replace("Connection: close\r\n", "").repeat(20_000);
        let _ = s.write_all(burst.as_bytes());
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(14));
        // What was sent before the cut is still there to read; then the end.
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut sink = vec![0u8; 1 << 16];
        let closed = loop {
            match s.read(&mut sink) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        (closed, started.elapsed())
    })
    .await
    .unwrap();
    assert!(
        closed,
        "the connection was ended (checked after {waited:?})"
    );
}

#[tokio::test]
async fn a_review_form_too_large_is_refused_by_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let addr = server.addr;
    let (declared, chunked) = tokio::task::spawn_blocking(move || {
        let head = "POST /review/6f9619ff-8b86-d011-b42d-00cf4fc964ff HTTP/1.1\r\nHost: x\r\n\
                    Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n";
        let form = format!("token={}", "a".repeat(70_000));
        let declared = ask(
            addr,
            &format!("{head}Content-Length: {}\r\n\r\n{form}", form.len()),
        );
        let chunked = ask(
            addr,
            &format!(
                "{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{form}\r\n0\r\n\r\n",
                form.len()
            ),
        );
        (declared, chunked)
    })
    .await
    .unwrap();
    // Past the 64 KiB a form may hold, declared or not: the page's own answer, as HTML.
    for answer in [declared, chunked] {
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{answer}"
        );
    }
}
