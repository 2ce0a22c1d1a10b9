//! The decide binary's CloudWatch metrics end to end: a reviewer's decision, sent as a real API
//! Gateway HTTP API event, writes one EMF line with `ApprovalsDecided` and `TimeToDecision`.

use std::path::Path;

use holdpoint_tests::lambda::{Function, fixture, store_env};

fn fixture_path(name: &str) -> std::path::PathBuf {
    holdpoint_tests::lambda::fixture_path(env!("CARGO_MANIFEST_DIR"), name)
}

#[tokio::test]
async fn a_decision_is_counted_with_the_time_it_took() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    // Requested 90 s ago: the decision below took at least that long.
    let waited = chrono::TimeDelta::seconds(90);
    let created = chrono::Utc::now() - waited;
    let approval = holdpoint_tests::stored_approval(&store, &env, created, 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_decide")), &env).await;

    let decision = fixture(
        &fixture_path("apigw-v2-decision.json"),
        &[("ID", &approval.id.to_string())],
    );
    let started = std::time::Instant::now();
    let response = function.invoke(decision).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let slack = started.elapsed().as_millis() as f64 + 1_000.0;

    let decided: Vec<_> = function
        .metrics()
        .await
        .into_iter()
        .filter(|m| m.get("ApprovalsDecided").is_some())
        .collect();
    assert_eq!(decided.len(), 1, "{:?}", function.stdout());
    let m = &decided[0];
    assert_eq!(m["ApprovalsDecided"], 1.0, "{m}");
    assert_eq!(m["Outcome"], "approved", "{m}");
    let took = m["TimeToDecision"].as_f64().expect("TimeToDecision");
    let least = waited.num_milliseconds() as f64;
    assert!(
        (least..least + slack).contains(&took),
        "{took} ms, expected from {least} ms"
    );
    let declared = &m["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declared["Namespace"], "Holdpoint");
    assert_eq!(
        declared["Metrics"],
        serde_json::json!([
            {"Name": "ApprovalsDecided", "Unit": "Count"},
            {"Name": "TimeToDecision", "Unit": "Milliseconds"}
        ])
    );
    assert_eq!(declared["Dimensions"], serde_json::json!([[], ["Outcome"]]));
}
