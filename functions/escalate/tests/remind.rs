//! The escalate binary reminds reviewers, once, when a scheduled EventBridge event runs the sweep
//! past an approval's reminder and before its deadline.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use holdpoint::store::Store;
use holdpoint_core::audit::AuditEvent;
use holdpoint_core::domain::approval::Status;
use holdpoint_tests::lambda::{Function, fixture, store_env};

#[tokio::test]
async fn the_scheduled_sweep_reminds_once_before_the_deadline() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    // 600 s from 500 s ago: its reminder (0.8 of the window) came 20 s ago, 100 s are left.
    let created = Utc::now() - TimeDelta::seconds(500);
    let waiting = holdpoint_tests::stored_approval(&store, &env, created, 600).await;
    assert_eq!(
        waiting.reminds_at,
        Some(waiting.created_at + TimeDelta::seconds(480))
    );
    // Made now: its reminder is 480 s away.
    let fresh = holdpoint_tests::stored_approval(&store, &env, Utc::now(), 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_escalate")), &env).await;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventbridge-schedule.json");

    let report = function
        .invoke(fixture(&path, &[]))
        .await
        .expect("a response");
    assert_eq!(report["reminded"], 1, "{report}");
    assert_eq!(
        (report["expired"].as_u64(), report["failed"].as_u64()),
        (Some(0), Some(0))
    );
    let stored = store.get("acme", waiting.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.reminds_at), (Status::Pending, None));
    assert!(stored.row_mismatch.is_empty(), "{:?}", stored.row_mismatch);
    let events: Vec<_> = store
        .audit("acme", waiting.id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(events, [AuditEvent::Created, AuditEvent::Reminded]);
    let untouched = store.get("acme", fresh.id).await.unwrap().unwrap();
    assert_eq!(untouched.version, fresh.version, "not due yet");

    let again = function
        .invoke(fixture(&path, &[]))
        .await
        .expect("a response");
    assert_eq!(again["reminded"], 0, "once: {again}");
    let metrics = function.metrics().await;
    let sum = |name: &str| -> f64 { metrics.iter().filter_map(|m| m[name].as_f64()).sum() };
    assert_eq!(sum("ApprovalsReminded"), 1.0, "{metrics:?}");
}
