//! How long from a decision to the agent's callback, on the local server: `holdpoint serve` on
//! its embedded store, an agent in the directory with a callback receiver on loopback (in this
//! process), and N approvals created and approved one after the other. The latency of each is
//! from just before the decision is sent to the moment the receiver has the callback of that
//! decision. Prints one `BENCH {json}` line (kind `callback`) with p50 and p99 in ms.
//!
//! usage: callback_latency HOLDPOINT_BINARY [N=200]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry, key_hash, new_webhook_secret};
use serde_json::{Value, json};
use tokio::sync::Notify;

type Arrivals = Arc<(Mutex<HashMap<String, Instant>>, Notify)>;

async fn receive(State(arrivals): State<Arrivals>, body: String) -> &'static str {
    let at = Instant::now();
    let event: Value = serde_json::from_str(&body).unwrap_or_default();
    if let Some(id) = event["data"]["event_id"].as_str() {
        arrivals.0.lock().unwrap().insert(id.to_owned(), at);
        arrivals.1.notify_waiters();
    }
    ""
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .expect("usage: callback_latency HOLDPOINT_BINARY [N]");
    let n: usize = args.next().map_or(200, |v| v.parse().expect("N"));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".holdpoint");
    let directory = EmbeddedDirectory::open(&data).unwrap();
    let (agent_key, reviewer_key) = (
        "bench-agent-key-0123456789",
        "bench-reviewer-key-0123456789",
    );
    for (name, key) in [("agent", agent_key), ("reviewer", reviewer_key)] {
        let entry = Entry {
            tenant: "bench".into(),
            name: name.into(),
            roles: vec![],
            email: None,
            webhook: None,
            iam_arns: vec![],
            key_hash: Some(key_hash(key)),
            slack: None,
            webhook_secret: Some(new_webhook_secret()),
            instance: None,
            kind: Default::default(),
        };
        directory.put(&entry, true).await.unwrap();
    }

    let arrivals: Arrivals = Arc::new((Mutex::new(HashMap::new()), Notify::new()));
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/callback", receiver.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/callback", post(receive))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(receiver, app).await });

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut server = Command::new(&binary)
        .arg("serve")
        .current_dir(dir.path())
        .env("HOLDPOINT_ADDR", format!("127.0.0.1:{port}"))
        .env("HOLDPOINT_LOG", "error")
        .env("HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS", "1")
        .stdout(Stdio::null())
        .spawn()
        .expect("holdpoint starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "holdpoint did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let created: Value = http
            .post(format!("{base}/v1/approvals"))
            .bearer_auth(agent_key)
            .json(
                &json!({"action": "Rotate keys", "agent_id": "bench", "reviewers": ["reviewer"],
                          "callback_url": callback}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().expect("created").to_owned();
        let decided_event = format!("{id}:2");
        let sent = Instant::now();
        let decided = http
            .post(format!("{base}/v1/approvals/{id}/decision"))
            .bearer_auth(reviewer_key)
            .json(&json!({"decision": "approved"}))
            .send()
            .await
            .unwrap();
        assert!(decided.status().is_success(), "{}", decided.status());
        let arrived = loop {
            let waiting = arrivals.1.notified();
            if let Some(at) = arrivals.0.lock().unwrap().get(&decided_event) {
                break *at;
            }
            if tokio::time::timeout(Duration::from_secs(10), waiting)
                .await
                .is_err()
            {
                panic!("no callback for {decided_event} within 10 s");
            }
        };
        latencies.push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
    }
    let _ = server.kill();
    let _ = server.wait();
    latencies.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 100.0).round() / 100.0;
    println!(
        "decision → callback over {n} approvals: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    println!(
        "BENCH {}",
        json!({"kind": "callback", "approvals": n,
               "p50_ms": round(percentile(&latencies, 0.5)),
               "p99_ms": round(percentile(&latencies, 0.99)),
               "max_ms": round(latencies[latencies.len() - 1])})
    );
}
