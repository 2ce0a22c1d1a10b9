//! The decide binary, invoked through the Lambda Runtime API with API Gateway HTTP API events.

use std::path::Path;

use holdpoint::store::Store;
use holdpoint_core::domain::approval::Status;
use holdpoint_tests::lambda::{Function, body, fixture, store_env};

fn fixture_path(name: &str) -> std::path::PathBuf {
    holdpoint_tests::lambda::fixture_path(env!("CARGO_MANIFEST_DIR"), name)
}

#[tokio::test]
async fn a_reviewer_decides_and_the_requester_cannot() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_decide")), &env).await;
    let id = approval.id.to_string();

    let own = fixture(&fixture_path("apigw-v2-self-decision.json"), &[("ID", &id)]);
    let response = function.invoke(own).await.expect("a response");
    assert_eq!(response["statusCode"], 403, "{response}");
    assert_eq!(body(&response)["code"], "self_approval");

    let decision = fixture(&fixture_path("apigw-v2-decision.json"), &[("ID", &id)]);
    let response = function.invoke(decision.clone()).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body(&response)["decision"]["by"], "reviewer");
    let stored = store.get("acme", approval.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Approved);
    assert_eq!(store.audit("acme", approval.id).await.unwrap().len(), 2);

    let repeat = function.invoke(decision).await.expect("a response");
    assert_eq!(
        repeat["statusCode"], 200,
        "the same decision again is idempotent"
    );
}
