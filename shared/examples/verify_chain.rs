//! How long verifying a 1,000-record chain takes: `cargo run --release -p holdpoint --example verify_chain`.

use std::time::Instant;

use holdpoint_core::audit::{self, AuditEvent, AuditRecord};
use holdpoint_core::keys::Key;

fn main() {
    let key = Key::new("bench", vec![9; 32]).expect("key");
    let id = uuid::Uuid::new_v4();
    let at = holdpoint_core::time::truncate_millis(chrono::Utc::now());
    let mut chain: Vec<AuditRecord> = Vec::with_capacity(1_000);
    for i in 0..1_000 {
        let head = chain.last().map(AuditRecord::head);
        let payload = serde_json::json!({"decision": "approved", "comment": format!("approval {i}"), "modified_output": null});
        let mut r = AuditRecord::next(
            head.as_ref(),
            id,
            "acme",
            AuditEvent::ApprovalRecorded,
            "reviewer",
            at,
            payload.into(),
        )
        .with_state(holdpoint_core::audit::SignedState {
            digest: "0".repeat(64),
            fields: "0".repeat(6 * 30),
        });
        r.sign(&key);
        chain.push(r);
    }
    let head = chain[999].head();
    let bytes: usize = chain
        .iter()
        .map(|r| serde_json::to_vec(r).map_or(0, |v| v.len()))
        .sum();
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        let v = audit::verify(&chain, &head, |_| Some(key.clone()));
        assert!(v.valid);
    }
    let each = started.elapsed() / runs;
    println!(
        "verify 1000-record chain: {each:.2?} per chain ({:.1} µs per record), mean of {runs} runs",
        each.as_secs_f64() * 1e6 / 1000.0
    );
    println!(
        "record size: {} bytes of JSON on average",
        bytes / chain.len()
    );
}
