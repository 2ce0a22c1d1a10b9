//! Function binaries through the loopback Lambda Runtime API against the local protocol server
//! (a benchmark, never part of the tests):
//!
//!     infra/with-moto.sh cargo run --release -p holdpoint-tests --example lambda_timings -- \
//!         target/release/read target/release/create [other binaries to compare...]
//!
//! Cold starts: for each API function binary named, `STARTS` (default 25) fresh processes each
//! answer one GET /health (every API function serves it) and, for a read binary, then one GET
//! /v1/approvals/{id}; median and p90 of spawn → each answer.
//! Warm invocations: `target/release/create` creates and `target/release/decide` approves
//! `WARM` (default 50) approvals; median and p90 of one invocation, round trip through the
//! runtime API included (the handler's share of a billed duration, with moto's latency).

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
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, Utc::now(), 3600).await;
    let get = fixture(
        &fixture_of("read", "apigw-v2-get.json"),
        &[("ID", &approval.id.to_string())],
    );
    for binary in std::env::args().skip(1) {
        let (mut to_health, mut to_get) = (Vec::new(), Vec::new());
        for _ in 0..starts {
            let started = Instant::now();
            let function = Function::start(Path::new(&binary), &env).await;
            let health = function.invoke(health_event()).await.expect("health");
            assert_eq!(health["statusCode"], 200, "{health}");
            to_health.push(started.elapsed());
            if binary.contains("read") {
                let got = function.invoke(get.clone()).await.expect("get");
                assert_eq!(got["statusCode"], 200, "{got}");
                to_get.push(started.elapsed());
            }
        }
        println!(
            "cold {binary}: spawn → GET /health answered: {}",
            summary(to_health)
        );
        if !to_get.is_empty() {
            println!(
                "cold {binary}: spawn → then GET approval answered: {}",
                summary(to_get)
            );
        }
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
