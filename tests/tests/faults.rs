//! Throttling and server errors: retried by the SDK a bounded number of times; when retries run
//! out the API answers 503 problem+json and nothing is half-written.

use std::sync::Arc;

use axum::body::Body;
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::dynamodb::DynamoStore;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use holdpoint_tests::fault_proxy::{Fault, FaultProxy};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const AGENT: &str = "agent-key-0000000000";
const REVIEWER: &str = "reviewer-key-0000000";

struct Setup {
    proxy: FaultProxy,
    router: axum::Router,
    /// The same tables reached directly, past the proxy: what is really stored.
    direct: DynamoStore,
}

async fn setup() -> Setup {
    let (direct, _) = holdpoint_tests::fresh_store().await;
    let proxy = FaultProxy::start(&holdpoint_tests::endpoint()).await;
    let through_proxy = proxy.store_like(&direct).await;
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent"},
        REVIEWER: {"tenant": "acme", "principal": "reviewer"},
    });
    let state = AppState {
        service: Service::new(
            Arc::new(through_proxy),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        ),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys.to_string()).unwrap()),
    };
    Setup {
        proxy,
        router: app(state, &Routes::ALL),
        direct,
    }
}

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    key: &str,
    body: Value,
) -> (StatusCode, String, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn create_body() -> Value {
    json!({"action": "Wire 10,000 EUR", "agent_id": "payments", "reviewers": ["reviewer"]})
}

#[tokio::test]
async fn transient_throttling_is_retried() {
    let s = setup().await;
    s.proxy.fail("TransactWriteItems", Fault::Throttle, 2);
    let (status, _, body) = call(&s.router, "POST", "/v1/approvals", AGENT, create_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        s.proxy.seen("TransactWriteItems"),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn exhausted_retries_answer_503_and_write_nothing() {
    let s = setup().await;
    s.proxy
        .fail("TransactWriteItems", Fault::Throttle, usize::MAX);
    let (status, ct, body) = call(&s.router, "POST", "/v1/approvals", AGENT, create_body()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["code"], "unavailable");
    assert!(
        !body.to_string().contains("Throttling"),
        "no internals in the answer: {body}"
    );
    assert_eq!(s.proxy.seen("TransactWriteItems"), 3, "bounded attempts");
    let page = s
        .direct
        .list("acme", &Default::default(), 100, None, chrono::Utc::now())
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_decision_that_cannot_be_stored_leaves_the_approval_as_it_was() {
    let s = setup().await;
    let (_, _, created) = call(&s.router, "POST", "/v1/approvals", AGENT, create_body()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/approvals/{id}/decision");
    let decision = json!({"decision": "approved"});

    s.proxy
        .fail("TransactWriteItems", Fault::ServerError, usize::MAX);
    let (status, _, body) = call(&s.router, "POST", &uri, REVIEWER, decision.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let uuid = uuid::Uuid::try_parse(&id).unwrap();
    let stored = s.direct.get("acme", uuid).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        holdpoint_core::domain::approval::Status::Pending
    );
    assert_eq!(
        s.direct.audit("acme", uuid).await.unwrap().len(),
        1,
        "no record without its decision"
    );

    s.proxy.fail("GetItem", Fault::Throttle, usize::MAX);
    let (status, _, _) = call(
        &s.router,
        "GET",
        &format!("/v1/approvals/{id}"),
        AGENT,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    s.proxy.heal();
    let (status, _, body) = call(&s.router, "POST", &uri, REVIEWER, decision).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
}
