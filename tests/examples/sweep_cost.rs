//! Sweep cost on DynamoDB with many pending approvals (a benchmark, never part of the tests;
//! `infra/bench/run.sh` runs it):
//! `PENDING=10000,100000 infra/with-moto.sh cargo run --release -p holdpoint-tests --example sweep_cost`.
//! For each size (default 50,000), 1 % of the pending approvals are due (or `DUE`); prints how
//! many items the due query read to find them, in how many queries and how long, three runs,
//! and one `BENCH {json}` line for the report.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("PENDING")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50_000]);
    for pending in sizes {
        let due_count = std::env::var("DUE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(pending / 100);
        let (store, counter) = holdpoint_tests::fresh_store().await;
        let now = chrono::Utc::now();
        let seeding = Instant::now();
        holdpoint_tests::seed(
            &store,
            &holdpoint_tests::pending_approvals(pending, due_count, now),
        )
        .await;
        println!(
            "seeded {pending} pending approvals ({due_count} due) in {:.1?}",
            seeding.elapsed()
        );
        counter.reset();
        let mut last = serde_json::Value::Null;
        for run in 1..=3 {
            let started = Instant::now();
            let (due, read) = store
                .due_with_items_read(now, 1_000)
                .await
                .expect("due query");
            let took = started.elapsed();
            println!(
                "run {run}: found {} due, {read} items read, {} queries, {took:.1?}",
                due.len(),
                counter.total(),
            );
            last = serde_json::json!({
                "kind": "sweep", "store": "DynamoDB (moto)", "pending": pending,
                "due": due_count, "items_read": read, "queries": counter.total(),
                "ms": (took.as_secs_f64() * 100_000.0).round() / 100.0,
            });
            counter.reset();
        }
        println!("BENCH {last}");
    }
}
