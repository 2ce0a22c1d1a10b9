//! Function binaries through the loopback Lambda Runtime API against the local protocol server
//! (a benchmark, never part of the tests; `infra/bench/run.sh` runs it):
//!
//!     infra/with-moto.sh cargo run --release -p holdpoint-tests --example lambda_timings -- \
//!         target/release/read target/release/create [other binaries to compare...]
//!
//! Cold starts: for each binary named, `STARTS` (default 25) fresh processes each answer their
//! first invocation: GET /health for an API function, then for a read function (the read
//! function, `sequential_read`, the minimal Rust function making the read's three calls one
//! after the other, or the Python peer's `bootstrap`, which fetches its secret at init) one
//! GET /v1/approvals/{id}; a scheduled event for the sweep. Median and p90 of spawn → answered, the peak RSS, and the file's size.
//! Warm invocations (unless `WARM=0`): `target/release/create` creates and `target/release/decide`
//! approves `WARM` (default 50) approvals; median and p90 of one invocation, round trip through
//! the runtime API included (the handler's share of a billed duration, with moto's latency).
//! Each figure is also printed as one `BENCH {json}` line for the report.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use holdpoint_tests::lambda::{Function, fixture, store_env};

fn fixture_of(function: &str, name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../functions/{function}/tests/fixtures/{name}"))
}

fn health_event() -> serde_json::Value {
    let mut event = fixture(
        &fixture_of("read", "apigw-v2-get.json"),
        &[("ID", "00000000-0000-4000-8000-000000000000")],
    );
    event["rawPath"] = "/health".into();
    event["routeKey"] = "GET /health".into();
    event["pathParameters"] = serde_json::Value::Null;
    event
}

fn percentile(times: &[Duration], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    format!(
        "median {:.1?}, p90 {:.1?} (n={})",
        at(0.5),
        at(0.9),
        times.len()
    )
}

fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let starts = count("STARTS", 25);
    let warm = count("WARM", 50);
    let (store, _) = holdpoint_tests::fresh_store().await;
    let mut env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, Utc::now(), 3600).await;
    // `sequential_read` authenticates no one: it is told whose approval to read.
    env.push(("HOLDPOINT_BENCH_TENANT", approval.tenant.to_string()));
    let get = fixture(
        &fixture_of("read", "apigw-v2-get.json"),
        &[("ID", &approval.id.to_string())],
    );
    let sweep = fixture(&fixture_of("escalate", "eventbridge-schedule.json"), &[]);
    for binary in std::env::args().skip(1) {
        let (mut to_first, mut to_get, mut peak) = (Vec::new(), Vec::new(), 0);
        let reads = binary.contains("read") || binary.ends_with("bootstrap");
        for _ in 0..starts {
            let started = Instant::now();
            let function = Function::start(Path::new(&binary), &env).await;
            let first = if binary.contains("escalate") {
                sweep.clone()
            } else {
                health_event()
            };
            let answer = function.invoke(first).await.expect("first invocation");
            assert!(
                answer["statusCode"] == 200 || binary.contains("escalate"),
                "{answer}"
            );
            to_first.push(started.elapsed());
            if reads {
                let got = function.invoke(get.clone()).await.expect("get");
                assert_eq!(got["statusCode"], 200, "{got}");
                to_get.push(started.elapsed());
            }
            peak = peak.max(function.peak_rss_kib().unwrap_or(0));
        }
        let what = if binary.contains("escalate") {
            "spawn → first sweep answered"
        } else {
            "spawn → GET /health answered"
        };
        println!("cold {binary}: {what}: {}", summary(to_first.clone()));
        let (measured, times) = if to_get.is_empty() {
            (what, &to_first)
        } else {
            println!(
                "cold {binary}: spawn → then GET approval answered: {}",
                summary(to_get.clone())
            );
            (
                "spawn → GET approval answered (secret fetched, one GetItem)",
                &to_get,
            )
        };
        let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
        println!(
            "BENCH {}",
            serde_json::json!({
                "kind": "cold",
                "function": binary.rsplit('/').next().unwrap_or(&binary),
                "measured": measured,
                "starts": times.len(),
                "median_ms": (percentile(times, 0.5) * 10.0).round() / 10.0,
                "p90_ms": (percentile(times, 0.9) * 10.0).round() / 10.0,
                "peak_rss_mib": (peak as f64 / 1024.0 * 10.0).round() / 10.0,
                "size_mib": (size as f64 / 1048576.0 * 10.0).round() / 10.0,
            })
        );
    }
    if warm == 0 {
        return;
    }

    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    let create = Function::start(&release.join("create"), &env).await;
    let decide = Function::start(&release.join("decide"), &env).await;
    let (mut creates, mut decisions) = (Vec::new(), Vec::new());
    for i in 0..=warm {
        let event = fixture(
            &fixture_of("create", "apigw-v2-create.json"),
            &[("KEY", &format!("timing-{i}-{}", uuid::Uuid::new_v4()))],
        );
        let started = Instant::now();
        let created = create.invoke(event).await.expect("create");
        let took = started.elapsed();
        assert_eq!(created["statusCode"], 201, "{created}");
        let id = holdpoint_tests::lambda::body(&created)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let event = fixture(
            &fixture_of("decide", "apigw-v2-decision.json"),
            &[("ID", &id)],
        );
        let started = Instant::now();
        let decided = decide.invoke(event).await.expect("decide");
        let took_decision = started.elapsed();
        assert_eq!(decided["statusCode"], 200, "{decided}");
        // The first of each is the cold one.
        if i > 0 {
            creates.push(took);
            decisions.push(took_decision);
        }
    }
    println!("warm create: {}", summary(creates));
    println!("warm decision: {}", summary(decisions));
}
