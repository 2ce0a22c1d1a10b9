//! `/metrics` on the local server, read with a Prometheus text-format parser: its counters move
//! with the decisions the test makes, and only loopback peers read it.

mod support;

use std::net::{IpAddr, SocketAddr};

use prometheus_parse::{Scrape, Value};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::{AGENT_KEY, ALICE_KEY, BOB_KEY, Server, free_port};

async fn scrape(server: &Server) -> Scrape {
    let res = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .expect("the server answers");
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let text = res.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of `metric` with `label` = `value` (0 when not yet measured).
fn counter(s: &Scrape, metric: &str, label: &str, value: &str) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && x.labels.get(label) == Some(value))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is not a counter: {other:?}"),
        })
        .sum()
}

/// How many observations the time-to-decision histogram holds for `outcome`, per bucket bound.
fn decisions(s: &Scrape, outcome: &str) -> Vec<(f64, f64)> {
    s.samples
        .iter()
        .filter(|x| {
            x.metric == "holdpoint_time_to_decision_seconds"
                && x.labels.get("outcome") == Some(outcome)
        })
        .find_map(|x| match &x.value {
            Value::Histogram(b) => Some(b.iter().map(|c| (c.less_than, c.count)).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

async fn decide(server: &Server, key: &str, id: &str, decision: &str) {
    let body = json!({"decision": decision, "comment": "checked"});
    let path = format!("/v1/approvals/{id}/decision");
    let (status, a) = server
        .call("POST", &path, Some(key), Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 200, "{a}");
}

fn request() -> serde_json::Value {
    json!({"action": "Restart the queue", "agent_id": "ops-agent", "reviewers": ["alice", "bob"],
           "context": {"queue": "billing"}})
}

#[tokio::test]
async fn counters_move_with_the_decisions_made() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let before = scrape(&server).await;
    let events = "holdpoint_approval_events_total";

    let approved = support::create(&server, AGENT_KEY, request()).await;
    let rejected = support::create(&server, AGENT_KEY, request()).await;
    let third = support::create(&server, AGENT_KEY, request()).await;
    decide(&server, ALICE_KEY, &approved, "approved").await;
    decide(&server, BOB_KEY, &rejected, "rejected").await;
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{third}/cancel"),
            Some(AGENT_KEY),
            Some(&json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);

    let after = scrape(&server).await;
    let moved = |event: &str| {
        counter(&after, events, "event", event) - counter(&before, events, "event", event)
    };
    assert_eq!(moved("created"), 3.0);
    assert_eq!(moved("approved"), 1.0);
    assert_eq!(moved("rejected"), 1.0);
    assert_eq!(moved("cancelled"), 1.0);
    assert_eq!(moved("expired"), 0.0);
    // One approval decided within seconds: in every bucket from 60 s up, to +Inf.
    for outcome in ["approved", "rejected"] {
        let buckets = decisions(&after, outcome);
        let inf = buckets.iter().find(|(le, _)| le.is_infinite()).map(|b| b.1);
        assert_eq!(inf, Some(1.0), "{outcome}: {buckets:?}");
        let minute = buckets.iter().find(|(le, _)| *le == 60.0).map(|b| b.1);
        assert_eq!(minute, Some(1.0), "{outcome}: {buckets:?}");
    }
    assert!(decisions(&after, "modified").is_empty());
}

/// A non-loopback address of this host, to reach the server as another host would.
fn outside_address() -> IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    // Connecting a UDP socket sends nothing; it picks the interface a packet would leave by.
    probe.connect("192.0.2.1:9").expect("a route off this host");
    let ip = probe.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback(),
        "this host needs a non-loopback address for the test"
    );
    ip
}

/// Attacker try: a peer that is not on this host asks for the metrics.
#[tokio::test]
async fn another_host_gets_no_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let everywhere = format!("0.0.0.0:{port}");
    let keys = support::team_keys();
    let env = [
        ("HOLDPOINT_API_KEYS", keys.as_str()),
        ("HOLDPOINT_ADDR", everywhere.as_str()),
    ];
    let server = Server::start(dir.path(), &env, port).await;
    let outside = SocketAddr::new(outside_address(), port);
    let mut stream = tokio::net::TcpStream::connect(outside).await.unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {outside}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    assert!(raw.contains("\"code\":\"no_route\""), "{raw}");
    assert!(!raw.contains("holdpoint_"), "{raw}");
    // The same server answers its loopback peers.
    support::create(&server, AGENT_KEY, request()).await;
    let events = "holdpoint_approval_events_total";
    assert_eq!(
        counter(&scrape(&server).await, events, "event", "created"),
        1.0
    );
}
