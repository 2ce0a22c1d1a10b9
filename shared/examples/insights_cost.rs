//! What `GET /v1/insights` costs on the embedded store, for one tenant of N approvals all in the
//! window:
//!
//!     cargo run --release -p holdpoint --features embedded --example insights_cost -- 10000 100001
//!
//! (default sizes 10,000 and 100,001). For each N, in a fresh temp dir: N approvals made and
//! sealed as the service would (a tenth of them decided by their reviewer), then
//! `Service::insights_of` over the last day, timed; past 100,000 it must say `truncated`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::{Decision, Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::integrity;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};
use holdpoint_core::keys::{Key, KeyRing};
use holdpoint_core::time::Clock;
use serde_json::json;

const TENANT: &str = "acme";

fn key() -> Key {
    Key::new("bench", vec![9; 32]).expect("key")
}

fn request(i: usize) -> CreateRequest {
    serde_json::from_value(json!({
        "action": format!("Terminate EC2 instance i-{i:08x}"),
        "agent_id": format!("ops-agent-{}", i % 25),
        "reviewers": ["reviewer"],
        "context": {"instance_id": format!("i-{i:08x}")},
        "tool_call": {"name": format!("tool-{}", i % 15), "arguments": {}},
        "expires_in_seconds": 2_592_000,
    }))
    .expect("valid request")
}

/// Stores `n` approvals, signed and sealed as `Service::create` does, every tenth stored decided
/// (its decision `i` seconds after creation), by 32 writers sharing the group commit.
async fn grow(store: &Arc<EmbeddedStore>, n: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let who = Principal {
        tenant: TENANT.into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (store, next, who) = (store.clone(), next.clone(), who.clone());
        tasks.push(tokio::spawn(async move {
            let key = key();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let now = Utc::now() - TimeDelta::hours(1);
                let (mut a, mut r) = request(i)
                    .into_approval(&who, &Gate::open(), ExpiryBounds::default(), now)
                    .expect("valid");
                if i % 10 == 0 {
                    a.status = Status::Rejected;
                    a.decision = Some(Decision {
                        decision: Verdict::Rejected,
                        by: "reviewer".into(),
                        at: now + TimeDelta::seconds((i % 3600) as i64),
                        comment: Some("no".into()),
                        modified_output: None,
                        signature: None,
                    });
                }
                r.sign(&key);
                a.published_seq = r.sequence;
                integrity::seal(&mut a, &key);
                store.create(&a, &r, None).await.expect("stored");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number of approvals"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_001]
    } else {
        sizes
    };
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
        let started = Instant::now();
        grow(&store, n).await;
        let grown = started.elapsed();
        let service = Service::new(
            store,
            Arc::new(KeyRing::new(key(), vec![])),
            Clock::system(),
            ExpiryBounds::default(),
        );
        let until = Utc::now();
        let started = Instant::now();
        let i = service
            .insights_of(TENANT, until - TimeDelta::days(1), until)
            .await
            .expect("insights");
        let took = started.elapsed();
        assert_eq!(i.truncated, n > 100_000);
        println!(
            "N={n}: grown in {grown:.1?}; insights counted {} (truncated {}) in {took:.2?}, decided {}, p50 {:?} ms, {} agents listed",
            i.counted,
            i.truncated,
            i.time_to_decision.decided,
            i.time_to_decision.p50_ms,
            i.by_agent.len()
        );
    }
}
