//! The embedded store at scale (a benchmark, never part of the tests; `infra/bench/run.sh` runs
//! it):
//!
//!     cargo run --release -p holdpoint-tests --example store_scale -- \
//!         target/release/holdpoint 10000 100000 1000000
//!
//! For each size, grows one data directory to that many approvals of one tenant (made and signed
//! by the service, as the server would, then stored through the store's group commit), starts
//! `holdpoint serve` on it and reports: start-up (spawn → /health answered), RSS after start-up
//! and after the reads, database size, and GET and list (newest 20, and pending only) latency,
//! p50/p99 of `READS` (default 2,000) sequential requests each. Then the sweep's due query at 1 %
//! due among 10,000 and 100,000 pending approvals (or `SWEEP_SIZES`). Figures also as
//! `BENCH {json}` lines for the report.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use holdpoint::keys::local::LocalKeys;
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::time::Clock;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

const AGENT_KEY: &str = "bench-agent-key-000000000000";

fn agent() -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    }
}

fn request(i: usize) -> CreateRequest {
    serde_json::from_value(json!({
        "action": format!("Terminate EC2 instance i-{i:08x}"),
        "agent_id": format!("ops-agent-{}", i % 10),
        "reviewers": ["reviewer"],
        "context": {"instance_id": format!("i-{i:08x}"), "region": "eu-west-1"},
        "risk_score": (i % 100) as u8,
        "expires_in_seconds": 2_592_000,
    }))
    .expect("valid request")
}

/// Adds approvals to the store in `dir` until it holds `total`; the ids of a sample of them.
async fn grow(dir: &Path, from: usize, total: usize) -> Vec<uuid::Uuid> {
    let store = Arc::new(EmbeddedStore::open(dir).expect("store"));
    let keys = Arc::new(LocalKeys::open_or_create(dir).expect("keys"));
    let service = Arc::new(Service::new(
        store,
        keys,
        Clock::system(),
        ExpiryBounds::default(),
    ));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (service, next) = (service.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut sample = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return sample;
                }
                let (a, _) = service
                    .create(&agent(), request(i), None)
                    .await
                    .expect("created");
                if i % 97 == 0 {
                    sample.push(a.id);
                }
            }
        }));
    }
    let mut sample = Vec::new();
    for t in tasks {
        sample.extend(t.await.expect("creator"));
    }
    sample
}

struct Running {
    child: std::process::Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

type Http = Client<HttpConnector, Empty<axum::body::Bytes>>;

async fn get(http: &Http, url: &str) -> (u16, Duration) {
    let started = Instant::now();
    let req = http::Request::get(url)
        .header("authorization", format!("Bearer {AGENT_KEY}"))
        .body(Empty::new())
        .expect("request");
    match http.request(req).await {
        Ok(r) => {
            let status = r.status().as_u16();
            let _ = r.into_body().collect().await;
            (status, started.elapsed())
        }
        Err(_) => (0, started.elapsed()),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    (ms(at(0.5)), ms(at(0.99)))
}

async fn measure(binary: &str, dir: &Path, size: usize, sample: &[uuid::Uuid], reads: usize) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let keys = json!({AGENT_KEY: {"tenant": "acme", "principal": "agent"}}).to_string();
    let started = Instant::now();
    let child = std::process::Command::new(binary)
        .arg("serve")
        .env("HOLDPOINT_DATA_DIR", dir)
        .env("HOLDPOINT_ADDR", format!("127.0.0.1:{port}"))
        .env("HOLDPOINT_API_KEYS", keys)
        .env("HOLDPOINT_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new()).build(connector);
    loop {
        if get(&http, &format!("{}/health", server.url)).await.0 == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let startup = started.elapsed();
    let rss_started = server.rss_mib();
    let mut gets = Vec::with_capacity(reads);
    for i in 0..reads {
        let id = sample[i % sample.len()];
        let (status, took) = get(&http, &format!("{}/v1/approvals/{id}", server.url)).await;
        assert_eq!(status, 200);
        gets.push(took);
    }
    let mut lists = Vec::with_capacity(reads);
    let mut pending = Vec::with_capacity(reads);
    for _ in 0..reads {
        let (status, took) = get(&http, &format!("{}/v1/approvals?limit=20", server.url)).await;
        assert_eq!(status, 200);
        lists.push(took);
        let (status, took) = get(
            &http,
            &format!("{}/v1/approvals?limit=20&status=pending", server.url),
        )
        .await;
        assert_eq!(status, 200);
        pending.push(took);
    }
    let db = std::fs::metadata(dir.join(holdpoint::store::embedded::FILE))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.join("holdpoint.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    let (get_p50, get_p99) = percentiles(gets);
    let (list_p50, list_p99) = percentiles(lists);
    let (pending_p50, pending_p99) = percentiles(pending);
    let line = json!({
        "kind": "scale",
        "approvals": size,
        "startup_ms": ms(startup),
        "rss_started_mib": (rss_started * 10.0).round() / 10.0,
        "rss_after_reads_mib": (server.rss_mib() * 10.0).round() / 10.0,
        "db_mib": (db as f64 / 1048576.0).round(),
        "get_p50_ms": get_p50, "get_p99_ms": get_p99,
        "list_p50_ms": list_p50, "list_p99_ms": list_p99,
        "pending_list_p50_ms": pending_p50, "pending_list_p99_ms": pending_p99,
    });
    println!("{size} approvals: {line}");
    println!("BENCH {line}");
}

/// The due query among `pending` approvals of which 1 % are past their deadline.
async fn sweep(pending: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
    let now = Utc::now();
    let due = pending / 100;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= pending {
                    return;
                }
                let created = if i < due {
                    now - TimeDelta::hours(2)
                } else {
                    now
                };
                let mut r = request(i);
                r.expires_in_seconds = Some(3600);
                let (mut a, record) = r
                    .into_approval(
                        &agent(),
                        &holdpoint_core::domain::request::Gate::open(),
                        ExpiryBounds::default(),
                        created,
                    )
                    .expect("valid");
                a.published_seq = record.sequence;
                store.create(&a, &record, None).await.expect("stored");
            }
        }));
    }
    for t in tasks {
        t.await.expect("seeder");
    }
    let started = Instant::now();
    let (found, full_scan_steps) = store
        .due_with_full_scan_steps(now, 1_000)
        .await
        .expect("due");
    let took = started.elapsed();
    assert_eq!(found.len(), due.min(1_000));
    let line = json!({
        "kind": "sweep", "store": "embedded (SQLite)", "pending": pending, "due": due,
        "items_read": found.len(), "full_scan_steps": full_scan_steps, "ms": ms(took),
    });
    println!("sweep {pending}: {line}");
    println!("BENCH {line}");
}

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (binary, sizes_args) = args
        .split_first()
        .expect("usage: store_scale BINARY SIZES...");
    let reads = std::env::var("READS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut held = 0;
    let mut sample = Vec::new();
    for size in sizes_args
        .iter()
        .map(|s| s.parse::<usize>().expect("a size"))
    {
        let started = Instant::now();
        sample.extend(grow(dir.path(), held, size).await);
        eprintln!(
            "grew to {size} approvals in {:.1?} ({:.0}/s)",
            started.elapsed(),
            (size - held) as f64 / started.elapsed().as_secs_f64()
        );
        held = size;
        measure(binary, dir.path(), size, &sample, reads).await;
    }
    for pending in sizes("SWEEP_SIZES", &[10_000, 100_000]) {
        sweep(pending).await;
    }
}
