//! What binding the state to its chain costs per transition: the seal written with the change
//! and the check made before it, on a typical approval (the README's walkthrough request, one
//! vote). `cargo run --release -p holdpoint-core --example state_check`.

use std::time::Instant;

use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::integrity;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::keys::Key;

fn main() {
    let key = Key::new("bench", vec![9; 32]).expect("key");
    let request: CreateRequest = serde_json::from_value(serde_json::json!({
        "action": "Terminate EC2 instance i-0abc123", "agent_id": "ops-agent",
        "reviewers": ["alice", "bob"], "quorum": 2,
        "context": {"instance_id": "i-0abc123", "region": "eu-west-1"},
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
        "reason": "Idle for 30 days", "risk_score": 80
    }))
    .expect("request");
    let agent = Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let (mut a, _) = request
        .into_approval(
            &agent,
            &holdpoint_core::domain::request::Gate::open(),
            ExpiryBounds::default(),
            chrono::Utc::now(),
        )
        .expect("approval");
    integrity::seal(&mut a, &key);
    let runs = 20_000u32;

    let started = Instant::now();
    for _ in 0..runs {
        integrity::check(&a, |_| Some(key.clone())).expect("intact");
    }
    let check = started.elapsed() / runs;
    let started = Instant::now();
    for _ in 0..runs {
        // What every change does: take the state down once (its digest goes in the record),
        // then seal it to the new head.
        std::hint::black_box(integrity::take_state(&mut a));
        integrity::seal(&mut a, &key);
    }
    let seal = started.elapsed() / runs;
    // What the seal adds to the stored approval: its member, with the comma before it.
    let seal_bytes = serde_json::to_vec(&a.seal).map_or(0, |v| v.len()) + ",\"seal\":".len();
    let approval_bytes = serde_json::to_vec(&a).map_or(0, |v| v.len());
    println!(
        "state check {:.1} µs, state taken down and sealed {:.1} µs: {:.1} µs per transition; \
         seal adds {seal_bytes} bytes to the stored approval of {approval_bytes} (mean of {runs})",
        check.as_secs_f64() * 1e6,
        seal.as_secs_f64() * 1e6,
        (check + seal).as_secs_f64() * 1e6,
    );
}
