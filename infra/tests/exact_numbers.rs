//! Numbers exactly as the agent and the reviewer wrote them, on every surface and on both stores:
//! `18446744073709551616`, `1.50` and `1e2` come back byte for byte in the answers to create,
//! get, list, decide and execute, in the audit endpoint's records, in the lifecycle events and
//! in the callback body; a number outside f64's range (`1e400`) is kept as written, and the
//! tenant's list (over HTTP and `holdpoint approvals list`) still answers.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdpoint_tests::receivers::eventually;
use support::{Server, free_port, fresh_tables, holdpoint, printed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the agent sends as context, tool arguments and state snapshot, compact as stored.
const DOC: &str = r#"{"big":18446744073709551616,"price":1.50,"hundred":1e2}"#;
/// The reviewer's edits.
const EDIT: &str = r#"{"big":18446744073709551616,"price":1.50,"hundred":1e2,"edited":true}"#;
/// Outside f64's range.
const HUGE: &str = r#"{"huge":1e400}"#;

/// Every request body a callback URL receives, byte for byte (the shared webhook receiver
/// re-parses bodies, so it cannot tell `1.50` from `1.5`).
struct Callbacks {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Callbacks {
    async fn start() -> Callbacks {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 8192];
                    let body = loop {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        raw.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&raw).into_owned();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break body.to_owned();
                        }
                    };
                    kept.lock().unwrap().push(body);
                    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                    let _ = stream.write_all(ok.as_bytes()).await;
                });
            }
        });
        Callbacks { port, bodies }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/agent", self.port)
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// `holdpoint ARGS… STORE_ARGS…` in `dir` with `env`; what it printed, after asserting success.
fn run(dir: &Path, args: &[&str], store: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = args.to_vec();
    all.extend_from_slice(store);
    let out = holdpoint(dir, &all, env);
    assert!(out.status.success(), "{all:?}: {}", printed(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn api_key(added: &str) -> String {
    added
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .expect("an API key")
        .trim()
        .to_owned()
}

/// One request with a raw JSON body; the status and the raw answer.
async fn call(
    server: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: Option<String>,
) -> (u16, String) {
    let http = reqwest::Client::new();
    let mut request = http
        .request(method.parse().unwrap(), format!("{}{path}", server.url()))
        .bearer_auth(key);
    if let Some(b) = body {
        request = request.header("content-type", "application/json").body(b);
    }
    let answer = request.send().await.expect("the server answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

fn id_in(answer: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    // Not a `Value`: it cannot hold 1e400.
    serde_json::from_str::<Id>(answer).expect("an id").id
}

fn times(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The whole run against a server on `store` (`[]` embedded, `["--store", "dynamodb"]`).
/// `sends_callbacks`: whether this server sends them itself (`serve --store dynamodb` keeps them
/// in the deliveries table for the notify function, which builds the same body).
async fn numbers_survive_every_surface(
    store: &[&str],
    extra_env: &[(&str, &str)],
    sends_callbacks: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let callbacks = Callbacks::start().await;
    let mut env = vec![("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1")];
    env.extend_from_slice(extra_env);
    if !store.is_empty() {
        run(dir.path(), &["tables", "create"], &[], &env);
    }
    let agent = api_key(&run(
        dir.path(),
        &["principals", "add", "acme/agent"],
        store,
        &env,
    ));
    let bob = api_key(&run(
        dir.path(),
        &["principals", "add", "acme/bob"],
        store,
        &env,
    ));
    let server = Server::start_with(dir.path(), &env, free_port(), store).await;

    let request = format!(
        r#"{{"action": "Pay", "agent_id": "bot", "reviewers": ["bob"], "context": {DOC},
            "tool_call": {{"name": "pay", "arguments": {DOC}}}, "state_snapshot": {DOC},
            "callback_url": "{}"}}"#,
        callbacks.url()
    );
    let (status, created) = call(&server, "POST", "/v1/approvals", &agent, Some(request)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        times(&created, DOC),
        3,
        "context, arguments, snapshot: {created}"
    );
    let id = id_in(&created);
    let (status, got) = call(&server, "GET", &format!("/v1/approvals/{id}"), &agent, None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(times(&got, DOC), 3, "{got}");

    let decision =
        format!(r#"{{"decision": "modified", "comment": "less", "modified_output": {EDIT}}}"#);
    let decision_path = format!("/v1/approvals/{id}/decision");
    let (status, decided) = call(&server, "POST", &decision_path, &bob, Some(decision)).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        (times(&decided, DOC), times(&decided, EDIT)),
        (3, 2),
        "{decided}"
    );
    let (status, executed) = call(
        &server,
        "POST",
        &format!("/v1/approvals/{id}/execute"),
        &agent,
        // The hash binds the edits; read from the answer only to be sent back.
        Some(format!(
            r#"{{"context_hash": {}}}"#,
            serde_json::from_str::<serde_json::Value>(&decided).unwrap()["context_hash"]
        )),
    )
    .await;
    assert_eq!(status, 200, "{executed}");
    assert_eq!(
        (times(&executed, DOC), times(&executed, EDIT)),
        (3, 2),
        "{executed}"
    );

    let (status, audit) = call(
        &server,
        "GET",
        &format!("/v1/approvals/{id}/audit"),
        &agent,
        None,
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit.contains(r#""valid":true"#), "{audit}");
    // The created record carries the tool call; the decision carries the edits.
    assert_eq!((times(&audit, DOC), times(&audit, EDIT)), (1, 1), "{audit}");

    // A number no f64 holds is kept as written, and nobody's list breaks over it.
    let huge = format!(
        r#"{{"action": "Huge", "agent_id": "bot", "reviewers": ["bob"], "context": {HUGE},
            "tool_call": {{"name": "n", "arguments": {HUGE}}}, "state_snapshot": {HUGE}}}"#
    );
    let (status, made) = call(&server, "POST", "/v1/approvals", &agent, Some(huge)).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(times(&made, HUGE), 3, "{made}");
    let huge_id = id_in(&made);
    assert!(!made.contains(r#""integrity""#), "its seal holds: {made}");
    let (status, got) = call(
        &server,
        "GET",
        &format!("/v1/approvals/{huge_id}"),
        &bob,
        None,
    )
    .await;
    assert_eq!((status, times(&got, HUGE)), (200, 3), "{got}");
    let (status, audit) = call(
        &server,
        "GET",
        &format!("/v1/approvals/{huge_id}/audit"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    assert!(
        audit.contains(r#""valid":true"#) && audit.contains(HUGE),
        "{audit}"
    );

    let (status, page) = call(&server, "GET", "/v1/approvals", &bob, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (times(&page, DOC), times(&page, EDIT), times(&page, HUGE)),
        (3, 2, 3),
        "{page}"
    );
    let listed: serde_json::Value = serde_json::from_str(&page.replace("1e400", "0")).unwrap();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "{page}");

    // The CLI lists the tenant's approvals, and its JSON keeps the numbers as written.
    let url = server.url();
    let cli_env = [
        ("HOLDPOINT_URL", url.as_str()),
        ("HOLDPOINT_API_KEY", bob.as_str()),
    ];
    let table = run(dir.path(), &["approvals", "list"], &[], &cli_env);
    assert!(table.contains(&id) && table.contains(&huge_id), "{table}");
    let json = run(dir.path(), &["approvals", "list", "--json"], &[], &cli_env);
    for number in [
        "18446744073709551616",
        "\"price\": 1.50",
        "\"hundred\": 1e2",
        "\"huge\": 1e400",
    ] {
        assert!(json.contains(number), "{number} in {json}");
    }
    let shown = run(
        dir.path(),
        &["approvals", "show", &huge_id, "--json"],
        &[],
        &cli_env,
    );
    assert!(shown.contains("\"huge\": 1e400"), "{shown}");

    // The lifecycle events, as the local server writes them.
    let file = dir.path().join(".holdpoint/events.jsonl");
    let events = eventually(
        Duration::from_secs(10),
        async || std::fs::read_to_string(&file).unwrap_or_default(),
        |e| e.contains(EDIT) && e.contains(HUGE),
    )
    .await;
    let of = |needle: &str| events.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        (of(DOC), of(EDIT), of(HUGE)),
        (1, 1, 1),
        "created, modified, huge created: {events}"
    );

    // The agent's callbacks: the decision's edits as the reviewer wrote them.
    if !sends_callbacks {
        // Kept for the notify function, whose body `message::callback` builds (tested there).
        let (status, kept) = call(
            &server,
            "GET",
            &format!("/v1/approvals/{id}/deliveries"),
            &agent,
            None,
        )
        .await;
        assert_eq!(status, 200, "{kept}");
        assert!(
            kept.contains(r#""event_type":"approval.modified""#),
            "{kept}"
        );
        return;
    }
    let bodies = eventually(
        Duration::from_secs(30),
        async || callbacks.bodies(),
        |b| b.iter().any(|body| body.contains(EDIT)),
    )
    .await;
    assert!(
        bodies
            .iter()
            .all(|b| !b.contains("1.5,") && !b.contains("100.0")),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn numbers_are_kept_as_written_on_the_embedded_store() {
    numbers_survive_every_surface(&[], &[], true).await;
}

#[tokio::test]
async fn numbers_are_kept_as_written_on_dynamodb() {
    holdpoint_tests::endpoint(); // a local DynamoDB-protocol server, or the test refuses
    let tables = fresh_tables("numbers");
    let env: Vec<(&str, &str)> = tables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    numbers_survive_every_surface(&["--store", "dynamodb"], &env, false).await;
}
