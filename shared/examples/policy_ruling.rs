//! What a tenant policy costs a create: parsing the README's worked example (once per process
//! and version) and ruling on requests with it (on every create), and a create on the embedded
//! store with and without a policy in force:
//! `cargo run --release -p holdpoint --features embedded --example policy_ruling`.

use std::sync::Arc;
use std::time::Instant;

use holdpoint::directory::policy::embedded::EmbeddedPolicies;
use holdpoint::policy::{EXAMPLE, Policy, Ruling};
use holdpoint::service::Service;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::keys::{Key, KeyRing};
use holdpoint_core::time::Clock;
use serde_json::json;

fn who(name: &str, roles: &[&str]) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        kind: Default::default(),
    }
}

fn requests() -> Vec<(&'static str, CreateRequest)> {
    vec![
        (
            "deny (production delete)",
            CreateRequest::new("delete table orders", "bot", ["reviewer"])
                .context(&json!({"environment": "production"})),
        ),
        (
            "allow (read-only tool)",
            CreateRequest::new("Look up a customer", "bot", Vec::<String>::new())
                .tool_call("crm.get", &json!({"id": 7})),
        ),
        (
            "ask (finance, CEL true)",
            CreateRequest::new("Refund order 1234", "bot", ["reviewer"])
                .tool_call("payments.refund", &json!({"order": 1234}))
                .context(&json!({"amount": 2500, "currency": "EUR"})),
        ),
        (
            "default (no rule)",
            CreateRequest::new("Restart a pod", "bot", ["reviewer"]),
        ),
    ]
}

/// Median of `runs` timings of `f`, in microseconds.
fn median_us(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

#[tokio::main]
async fn main() {
    let roles = ["finance".to_owned(), "cfo".to_owned()];
    let parse = median_us(200, || {
        Policy::parse(EXAMPLE, &roles).expect("the example parses");
    });
    println!("parse the README example (3 rules):      {parse:>8.1} µs (median of 200)");
    let policy = Policy::parse(EXAMPLE, &roles).unwrap();
    let agent = who("agent", &[]);
    for (name, request) in requests() {
        let us = median_us(20_000, || {
            std::hint::black_box(policy.evaluate(&agent, &request, 1));
        });
        let outcome = match policy.evaluate(&agent, &request, 1) {
            Ruling::Deny { .. } => "deny",
            Ruling::Allow { .. } => "allow",
            Ruling::Ask { .. } => "ask",
        };
        println!("rule on {name:<28} {us:>8.2} µs -> {outcome} (median of 20,000)");
    }

    // A whole create in process, with and without a policy in force.
    for with_policy in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = Key::new("bench", vec![9; 32]).expect("key");
        let mut service = Service::new(
            Arc::new(EmbeddedStore::open(dir.path()).expect("store")),
            Arc::new(KeyRing::new(key, vec![])),
            Clock::system(),
            ExpiryBounds::default(),
        );
        if with_policy {
            let policies = Arc::new(EmbeddedPolicies::open(dir.path()).expect("policies"));
            service = service.with_policies(policies);
            // No directory here: roles are checked when set, so a policy naming none is set.
            let text = "rules:\n  - id: payments\n    match: {tool: \"payments.*\", when: 'context.amount > 1000'}\n    outcome: ask\n    reviewers: [alice, bob]\n    quorum: 2\n";
            service
                .set_policy(&who("root", &["admin"]), text, None)
                .await
                .expect("set");
        }
        let request = CreateRequest::new("Refund order 1234", "bot", ["alice", "bob"])
            .tool_call("payments.refund", &json!({"order": 1234}))
            .context(&json!({"amount": 2500}));
        let mut times = Vec::new();
        for _ in 0..300 {
            let start = Instant::now();
            service
                .create(&agent, request.clone(), None)
                .await
                .expect("created");
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "create in process, {:<17} {:>8.0} µs median, {:>8.0} µs p90 (300 creates, synced commits)",
            if with_policy {
                "with a policy:"
            } else {
                "without a policy:"
            },
            times[150],
            times[270]
        );
    }
}
