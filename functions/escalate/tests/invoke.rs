//! The escalate binary, invoked through the Lambda Runtime API with a scheduled EventBridge event.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use holdpoint::store::Store;
use holdpoint_core::domain::approval::Status;
use holdpoint_tests::lambda::{Function, fixture, store_env};

#[tokio::test]
async fn the_scheduled_sweep_expires_due_approvals() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let overdue =
        holdpoint_tests::stored_approval(&store, &env, Utc::now() - TimeDelta::hours(2), 600).await;
    let current = holdpoint_tests::stored_approval(&store, &env, Utc::now(), 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_escalate")), &env).await;

    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventbridge-schedule.json");
    let report = function
        .invoke(fixture(&path, &[]))
        .await
        .expect("a response");
    assert_eq!(report["expired"], 1, "{report}");
    assert_eq!(report["escalated"], 0);
    let get = |id| store.get("acme", id);
    assert_eq!(
        get(overdue.id).await.unwrap().unwrap().status,
        Status::Expired
    );
    assert_eq!(
        get(current.id).await.unwrap().unwrap().status,
        Status::Pending
    );

    let again = function
        .invoke(fixture(&path, &[]))
        .await
        .expect("a response");
    assert_eq!(again["expired"], 0, "nothing left to expire");
}

#[tokio::test]
async fn a_sweep_near_its_deadline_leaves_due_approvals_to_the_next_run() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let overdue =
        holdpoint_tests::stored_approval(&store, &env, Utc::now() - TimeDelta::hours(2), 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_escalate")), &env).await;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventbridge-schedule.json");

    // Less time left than the sweep keeps in hand: it takes no batch at all.
    let report = function
        .invoke_within(fixture(&path, &[]), std::time::Duration::from_secs(5))
        .await
        .expect("a response");
    assert_eq!(report["unfinished"], true, "{report}");
    assert_eq!(report["expired"], 0);
    let stored = store.get("acme", overdue.id).await.unwrap().unwrap();
    assert_eq!(stored.version, overdue.version, "left for the next run");

    let report = function
        .invoke(fixture(&path, &[]))
        .await
        .expect("a response");
    assert_eq!(report["unfinished"], false, "{report}");
    assert_eq!(report["expired"], 1);

    // Both runs are counted in the logs as CloudWatch metrics.
    let metrics = function.metrics().await;
    let sum = |name: &str| -> f64 { metrics.iter().filter_map(|m| m[name].as_f64()).sum() };
    assert_eq!(sum("SweepsUnfinished"), 1.0, "{metrics:?}");
    assert_eq!(sum("ApprovalsExpired"), 1.0, "{metrics:?}");
}
