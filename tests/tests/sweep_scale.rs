//! The sweep keeps up: 2,000 due approvals, every DynamoDB call held 10 ms by a latency proxy,
//! swept within one invocation's deadline while a second sweep runs at the same time, and every
//! approval transitioned exactly once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use holdpoint::service::Service;
use holdpoint::service::sweep::SWEEP_CONCURRENCY;
use holdpoint::store::{ListFilter, Store};
use holdpoint_core::audit::AuditEvent;
use holdpoint_core::domain::approval::Status;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::keys::{Key, KeyRing};
use holdpoint_core::time::Clock;
use holdpoint_tests::fault_proxy::FaultProxy;

const DUE: usize = 2_000;
const LATENCY: Duration = Duration::from_millis(10);
/// The escalate function's 60 s timeout less the 10 s it keeps in hand.
const BUDGET: Duration = Duration::from_secs(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweeps_at_once_transition_each_of_2000_due_approvals_once_through_a_slow_store() {
    let (direct, _) = holdpoint_tests::fresh_store().await;
    let key = Key::new("sweep-scale", b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
    let seeding = Instant::now();
    let ids =
        holdpoint_tests::seed_created(&direct, &key, DUE, Utc::now() - TimeDelta::hours(2)).await;
    println!("seeded {DUE} due approvals in {:.1?}", seeding.elapsed());

    let proxy = FaultProxy::start(&holdpoint_tests::endpoint()).await;
    proxy.delay(LATENCY);
    let slow = proxy.store_like(&direct).await;
    let sweeper = Service::new(
        Arc::new(slow),
        Arc::new(KeyRing::new(key, vec![])),
        Clock::system(),
        ExpiryBounds::default(),
    );

    let started = Instant::now();
    let deadline = Some(started + BUDGET);
    let (first, second) =
        tokio::join!(sweeper.sweep_until(deadline), sweeper.sweep_until(deadline));
    let took = started.elapsed();
    let (first, second) = (first.expect("first sweep"), second.expect("second sweep"));
    println!(
        "swept {DUE} due approvals through a {LATENCY:?} proxy in {took:.1?} \
         ({:.0} approvals/s; {SWEEP_CONCURRENCY} at once per sweep, two sweeps; \
         {} store calls): {first:?} {second:?}",
        DUE as f64 / took.as_secs_f64(),
        proxy.seen("Query") + proxy.seen("GetItem") + proxy.seen("TransactWriteItems")
    );

    assert!(
        !first.unfinished || !second.unfinished,
        "one sweep finished before its deadline"
    );
    assert_eq!(
        first.expired + second.expired,
        DUE,
        "every due approval expired"
    );
    assert_eq!(first.failed + second.failed, 0);
    assert_eq!(first.escalated + second.escalated, 0);

    // What is stored: every approval expired at version 2, so by exactly one transition after
    // its creation (a transition writes the record of its version in the same transaction).
    let filter = ListFilter {
        status: Some(Status::Expired),
        ..ListFilter::default()
    };
    let (mut expired, mut after) = (BTreeSet::new(), None);
    loop {
        let page = direct
            .list("acme", &filter, 1_000, after.as_ref(), Utc::now())
            .await
            .expect("listed");
        for a in &page.items {
            assert_eq!(a.version, 2, "{}", a.id);
            expired.insert(a.id);
        }
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(expired, ids.iter().copied().collect(), "each one expired");
    // And a sample of chains, read whole: created, then expired, nothing else.
    for id in ids.iter().step_by(DUE / 10) {
        let events: Vec<AuditEvent> = direct
            .audit("acme", *id)
            .await
            .expect("chain")
            .iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(events, [AuditEvent::Created, AuditEvent::Expired], "{id}");
    }

    let again = sweeper.sweep().await.expect("a third sweep");
    assert_eq!(again.expired, 0, "nothing left: {again:?}");
}
