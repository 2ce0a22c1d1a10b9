//! Where a read's server time goes, step by step, on the embedded store (the README's
//! walkthrough approval): `cargo run --release -p holdpoint --features embedded --example read_path`.

use std::sync::Arc;
use std::time::Instant;

use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::integrity;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::json::members;
use holdpoint_core::keys::{Key, KeyRing};
use holdpoint_core::time::Clock;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
    let key = Key::new("bench", vec![9; 32]).expect("key");
    let service = Service::new(
        store.clone(),
        Arc::new(KeyRing::new(key.clone(), vec![])),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let agent = Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest = serde_json::from_str(
        r#"{"action": "Terminate EC2 instance i-0abc123", "agent_id": "ops-agent",
        "reviewers": ["alice", "bob"], "quorum": 2,
        "context": {"instance_id": "i-0abc123", "region": "eu-west-1"},
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
        "reason": "Idle for 30 days", "risk_score": 80}"#,
    )
    .expect("request");
    let (a, _) = service
        .create(&agent, request, None)
        .await
        .expect("created");
    let runs = 20_000u32;
    let time = |label: &str, started: Instant| {
        println!(
            "{label:<28} {:>7.1} µs",
            (started.elapsed() / runs).as_secs_f64() * 1e6
        );
    };

    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(store.get("acme", a.id).await.expect("read"));
    }
    time("store.get (read, decode, row)", started);
    let stored = store.get("acme", a.id).await.expect("read").expect("found");
    let started = Instant::now();
    for _ in 0..runs {
        integrity::check(&stored, |_| Some(key.clone())).expect("intact");
    }
    time("seal check", started);
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(members::of(&stored, &["seal"]));
    }
    time("shown (members)", started);
    let shown = members::of(&stored, &["seal"]);
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(serde_json::to_vec(&shown).expect("json"));
    }
    time("answer body", started);
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(service.get(&agent, a.id).await.expect("get"));
    }
    time("service.get (all of it)", started);
}
