//! The read binary, invoked through the Lambda Runtime API with API Gateway HTTP API events.

use std::path::Path;

use holdpoint_tests::lambda::{Function, body, fixture, store_env};

fn fixture_path(name: &str) -> std::path::PathBuf {
    holdpoint_tests::lambda::fixture_path(env!("CARGO_MANIFEST_DIR"), name)
}

#[tokio::test]
async fn gets_and_lists_from_dynamodb() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let approval = holdpoint_tests::stored_approval(&store, &env, chrono::Utc::now(), 600).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_read")), &env).await;

    let id = approval.id.to_string();
    let get = fixture(&fixture_path("apigw-v2-get.json"), &[("ID", &id)]);
    let response = function.invoke(get).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body(&response)["id"], id.as_str());

    let list = fixture(&fixture_path("apigw-v2-list.json"), &[]);
    let response = function.invoke(list).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let page = body(&response);
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let missing = uuid::Uuid::new_v4().to_string();
    let get = fixture(&fixture_path("apigw-v2-get.json"), &[("ID", &missing)]);
    let response = function.invoke(get).await.expect("a response");
    assert_eq!(response["statusCode"], 404);
    assert_eq!(body(&response)["code"], "not_found");
}
