//! Sweep cost with many pending approvals (a benchmark, never part of the tests):
//! `infra/with-moto.sh cargo run --release -p holdpoint-tests --example sweep_cost`.
//! Prints how many items the due query read to find the due approvals, and how long it took.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let pending: usize = std::env::var("PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let due_count = 50;
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
    for run in 1..=3 {
        let started = Instant::now();
        let (due, read) = store
            .due_with_items_read(now, 1_000)
            .await
            .expect("due query");
        println!(
            "run {run}: found {} due, {read} items read, {} queries, {:.1?}",
            due.len(),
            counter.total(),
            started.elapsed()
        );
        counter.reset();
    }
}
