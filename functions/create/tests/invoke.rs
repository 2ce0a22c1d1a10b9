//! The create binary, invoked through the Lambda Runtime API with API Gateway HTTP API events.

use std::path::Path;

use holdpoint::store::Store;
use holdpoint_tests::lambda::{Function, body, fixture, store_env};

fn fixture_path(name: &str) -> std::path::PathBuf {
    holdpoint_tests::lambda::fixture_path(env!("CARGO_MANIFEST_DIR"), name)
}

#[tokio::test]
async fn creates_an_approval_for_the_iam_caller() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;

    let event = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "retry-1")]);
    let response = function.invoke(event.clone()).await.expect("a response");
    assert_eq!(response["statusCode"], 201, "{response}");
    let created = body(&response);
    assert_eq!(created["status"], "pending");
    assert_eq!(
        created["requested_by"], "agent",
        "identity from the IAM authorizer"
    );
    assert_eq!(created["tenant"], "acme");
    let id = uuid::Uuid::try_parse(created["id"].as_str().unwrap()).unwrap();
    let stored = store
        .get("acme", id)
        .await
        .unwrap()
        .expect("stored in DynamoDB");
    assert_eq!(
        stored.action,
        "Terminate EC2 instance i-0abc123 in eu-west-1"
    );

    // The same event again (a retry with the same Idempotency-Key) returns the same approval.
    let again = function.invoke(event).await.expect("a response");
    assert_eq!(again["statusCode"], 200);
    assert_eq!(body(&again)["id"], created["id"]);
}

#[tokio::test]
async fn refuses_a_caller_it_does_not_know() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;
    let event = fixture(&fixture_path("apigw-v2-create-unknown-caller.json"), &[]);
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 403, "{response}");
    assert_eq!(body(&response)["code"], "unknown_principal");
}

#[tokio::test]
async fn refuses_every_caller_while_the_directory_cannot_be_read() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let env: Vec<_> = store_env(&store, &holdpoint_tests::iam_principals())
        .await
        .into_iter()
        .map(|(k, v)| match k {
            "HOLDPOINT_DIRECTORY_TABLE" => (k, "no-such-directory".to_owned()),
            _ => (k, v),
        })
        .collect();
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;
    let event = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "dir-1")]);
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 503, "fails closed: {response}");
    assert_eq!(body(&response)["code"], "unavailable");
}

#[tokio::test]
async fn a_principal_removed_from_the_directory_is_refused_once_the_cache_lapses() {
    use holdpoint::directory::Directory;
    let (store, _) = holdpoint_tests::fresh_store().await;
    let mut env = store_env(&store, &holdpoint_tests::iam_principals()).await;
    env.push(("HOLDPOINT_AUTH_CACHE_SECONDS", "1".to_owned()));
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;
    let event = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "rm-1")]);
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 201, "{response}");
    assert!(
        holdpoint_tests::directory(&store)
            .remove("acme", "agent")
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let event = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "rm-2")]);
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 403, "{response}");
    assert_eq!(body(&response)["code"], "unknown_principal");
}

#[tokio::test]
async fn a_first_deploy_publishes_requested_naming_reviewers_without_a_link_and_logs_metrics() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let bus = holdpoint_tests::bus::bus().await;
    // A first deploy: no public base URL configured.
    let mut env: Vec<_> = store_env(&store, &holdpoint_tests::iam_principals())
        .await
        .into_iter()
        .filter(|(k, _)| *k != "HOLDPOINT_PUBLIC_BASE_URL")
        .collect();
    env.push(("HOLDPOINT_EVENT_BUS", bus.name.clone()));
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;

    let event = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "links-1")]);
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 201, "{response}");

    let events = bus.drain().await;
    assert_eq!(events.len(), 1, "{events:?}");
    // Whom it asks, by name; a review link is the notifier's to mint, never on the bus.
    assert_eq!(
        events[0]["detail"]["reviewers"],
        serde_json::json!(["reviewer"]),
        "{events:?}"
    );
    let published = serde_json::to_string(&events).unwrap();
    assert!(
        !published.contains("/review/") && !published.contains("token="),
        "{published}"
    );

    let requested: Vec<_> = function
        .metrics()
        .await
        .into_iter()
        .filter(|m| m["ApprovalsRequested"] == 1.0)
        .collect();
    assert_eq!(requested.len(), 1, "{:?}", function.stdout());
    assert_eq!(
        requested[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Holdpoint"
    );
}

#[tokio::test]
async fn without_a_readable_key_it_starts_answers_health_and_refuses_to_create() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    // The secret the environment names does not exist: nothing can be signed.
    let env: Vec<_> = store_env(&store, &holdpoint_tests::iam_principals())
        .await
        .into_iter()
        .map(|(k, v)| match k {
            "HOLDPOINT_SIGNING_SECRET_ID" => (k, "holdpoint-no-such-secret".to_owned()),
            _ => (k, v),
        })
        .collect();
    let function = Function::start(Path::new(env!("CARGO_BIN_EXE_create")), &env).await;

    let mut health = fixture(&fixture_path("apigw-v2-create.json"), &[("KEY", "h")]);
    health["rawPath"] = "/health".into();
    health["routeKey"] = "GET /health".into();
    health["requestContext"]["http"]["method"] = "GET".into();
    health["requestContext"]["http"]["path"] = "/health".into();
    health["body"] = serde_json::Value::Null;
    let response = function.invoke(health).await.expect("a response");
    assert_eq!(response["statusCode"], 200, "{response}");

    let event = fixture(
        &fixture_path("apigw-v2-create.json"),
        &[("KEY", "no-key-1")],
    );
    let response = function.invoke(event).await.expect("a response");
    assert_eq!(response["statusCode"], 503, "{response}");
    assert_eq!(body(&response)["code"], "key_unavailable");
    let stored = store
        .list(
            "acme",
            &holdpoint::store::ListFilter::default(),
            10,
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert!(stored.items.is_empty(), "nothing stored");
}
