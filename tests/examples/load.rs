//! HTTP load on a running approval service (a benchmark, never part of the tests), for
//! `infra/bench/run.sh`: Holdpoint's local server, the benchmark's peer and its floor
//! (`floor.rs`: create, get and list only) answer the same requests, so one generator measures
//! all three.
//!
//!     cargo run --release -p holdpoint-tests --example load -- URL SCENARIO SECONDS CONNECTIONS [LABEL]
//!
//! with `AGENT_KEY` and `REVIEWER_KEY` (bearer keys of an agent and of the reviewer `reviewer`)
//! in the environment. SCENARIO is `create`, `get`, `list`, `decide` (each request decides
//! another approval created beforehand; `DECIDE_POOL` of them, default 50,000, and the run ends
//! early when they are used up) or `mix` (create → decide → execute, one flow after another).
//! Prints one `BENCH {json}` line: the label, requests, seconds, requests/s, p50 and p99 in ms,
//! failures, and with `SERVER_PID` (the server's process id) the server's CPU time per request:
//! its user+system time (`/proc/PID/stat`) over the timed run alone, so the setup's creates are
//! not counted, divided by the requests completed. Several instances: comma-separated URLs
//! (connection i speaks to URL i mod n) and process ids (their CPU time together).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

type Http = Client<HttpConnector, Full<axum::body::Bytes>>;

#[derive(Clone)]
struct Target {
    http: Http,
    url: String,
    agent: String,
    reviewer: String,
}

impl Target {
    /// One request; the status and the body, and how long it took.
    async fn call(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, Value, Duration) {
        let started = Instant::now();
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {key}"));
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                serde_json::to_vec(b).expect("encodes")
            }
            None => Vec::new(),
        };
        let req = req.body(Full::from(bytes)).expect("request");
        match self.http.request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                let elapsed = started.elapsed();
                let value = body
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                (status, value, elapsed)
            }
            Err(_) => (0, Value::Null, started.elapsed()),
        }
    }

    async fn create(&self) -> (u16, Option<String>, Duration) {
        let (status, body, took) = self
            .call("POST", "/v1/approvals", &self.agent, Some(&create_body()))
            .await;
        let id = body["id"].as_str().map(str::to_owned);
        (status, id, took)
    }

    async fn decide(&self, id: &str) -> (u16, Duration) {
        let body = json!({"decision": "approved", "comment": "load test"});
        let (status, _, took) = self
            .call(
                "POST",
                &format!("/v1/approvals/{id}/decision"),
                &self.reviewer,
                Some(&body),
            )
            .await;
        (status, took)
    }
}

fn create_body() -> Value {
    json!({
        "action": "Terminate EC2 instance i-0abc123",
        "agent_id": "ops-agent",
        "reviewers": ["reviewer"],
        "context": {"instance_id": "i-0abc123", "region": "eu-west-1"},
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
        "risk_score": 80,
        "expires_in_seconds": 3600
    })
}

/// The context hash of [`create_body`], which execute proves.
fn context_hash() -> String {
    serde_json::from_value::<holdpoint_core::domain::request::CreateRequest>(create_body())
        .expect("a valid request")
        .context_hash(None)
}

/// Creates `n` approvals with `connections` at a time; their ids.
async fn create_many(target: &Target, n: usize, connections: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (target, next) = (target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                if let (201, Some(id), _) = target.create().await {
                    ids.push(id);
                }
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.expect("creator"));
    }
    ids
}

/// The process's user+system CPU time so far, in seconds (Linux; clock ticks of `CLK_TCK`).
/// The CPU seconds of every process in `pids` (comma-separated: several instances) together.
fn cpu_seconds(pids: &str, ticks_per_second: f64) -> Option<f64> {
    pids.split(',')
        .map(|pid| cpu_seconds_of(pid.trim(), ticks_per_second))
        .sum()
}

fn cpu_seconds_of(pid: &str, ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name (in parentheses), fields 3 on: utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / ticks_per_second)
}

fn clock_ticks_per_second() -> Option<f64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    failures: usize,
}

impl Tally {
    fn record(&mut self, ok: bool, took: Duration) {
        self.latencies.push(took);
        if !ok {
            self.failures += 1;
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, scenario, seconds, connections, label) = match &args[..] {
        [u, s, d, c] => (u, s, d, c, "service"),
        [u, s, d, c, l] => (u, s, d, c, l.as_str()),
        _ => {
            eprintln!("usage: load URL[,URL…] SCENARIO SECONDS CONNECTIONS [LABEL]");
            std::process::exit(2);
        }
    };
    let duration = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let connections: usize = connections.parse().expect("connections");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build(connector);
    // Several URLs (instances behind no balancer): connection i speaks to URL i mod n.
    let urls: Vec<String> = url
        .split(',')
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    let target = Target {
        http,
        url: urls[0].clone(),
        agent: std::env::var("AGENT_KEY").expect("AGENT_KEY"),
        reviewer: std::env::var("REVIEWER_KEY").expect("REVIEWER_KEY"),
    };

    // What each scenario needs before the clock starts.
    let pool: Arc<Vec<String>> = Arc::new(match scenario.as_str() {
        "get" | "list" => create_many(&target, 100, connections).await,
        "decide" => {
            let n = std::env::var("DECIDE_POOL")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(50_000);
            create_many(&target, n, connections).await
        }
        "create" | "mix" => Vec::new(),
        other => {
            eprintln!("unknown scenario {other}");
            std::process::exit(2);
        }
    });

    let server = std::env::var("SERVER_PID").ok();
    let cpu = |tick: Option<f64>| cpu_seconds(server.as_deref()?, tick?);
    let tick = clock_ticks_per_second();
    let cpu_before = cpu(tick);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for i in 0..connections {
        let (mut target, pool, next, scenario) =
            (target.clone(), pool.clone(), next.clone(), scenario.clone());
        target.url = urls[i % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                match scenario.as_str() {
                    "create" => {
                        let (status, _, took) = target.create().await;
                        tally.record(status == 201, took);
                    }
                    "get" => {
                        let path = format!("/v1/approvals/{}", pool[0]);
                        let (status, _, took) =
                            target.call("GET", &path, &target.agent, None).await;
                        tally.record(status == 200, took);
                    }
                    "list" => {
                        let (status, _, took) = target
                            .call("GET", "/v1/approvals?limit=20", &target.agent, None)
                            .await;
                        tally.record(status == 200, took);
                    }
                    "decide" => {
                        let Some(id) = pool.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        let (status, took) = target.decide(id).await;
                        tally.record(status == 200, took);
                    }
                    _ => {
                        let (status, id, took) = target.create().await;
                        tally.record(status == 201, took);
                        let Some(id) = id else { continue };
                        let (status, took) = target.decide(&id).await;
                        tally.record(status == 200, took);
                        let path = format!("/v1/approvals/{id}/execute");
                        let proof = json!({"context_hash": context_hash()});
                        let (status, _, took) = target
                            .call("POST", &path, &target.agent, Some(&proof))
                            .await;
                        tally.record(status == 200, took);
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.expect("worker");
        all.latencies.extend(t.latencies);
        all.failures += t.failures;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_used = cpu(tick)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    all.latencies.sort();
    let at = |p: f64| {
        all.latencies
            .get(((all.latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let n = all.latencies.len();
    println!(
        "BENCH {}",
        json!({
            "kind": "load",
            "service": label,
            "connections": connections,
            "scenario": scenario,
            "requests": n,
            "seconds": (elapsed * 100.0).round() / 100.0,
            "rps": (n as f64 / elapsed).round(),
            "p50_ms": (at(0.5) * 100.0).round() / 100.0,
            "p99_ms": (at(0.99) * 100.0).round() / 100.0,
            "failures": all.failures,
            "cpu_us_per_req": cpu_used
                .filter(|_| n > 0)
                .map(|s| (s * 1e6 / n as f64 * 10.0).round() / 10.0),
        })
    );
}
