//! The HTTP API through the one router, in process on the embedded store: what its tests share
//! (each file in tests/ is a crate of its own, so they share this by `mod support;`).

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use holdpoint::directory::policy::embedded::EmbeddedPolicies;
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;

pub const AGENT: &str = "key-agent-0000000000";
pub const ALICE: &str = "key-alice-0000000000";
pub const BOB: &str = "key-bob-000000000000";
pub const STRANGER: &str = "key-other-tenant-000";

pub fn router() -> Router {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent"},
        ALICE: {"tenant": "acme", "principal": "alice"},
        BOB: {"tenant": "acme", "principal": "bob", "roles": ["sre"]},
        STRANGER: {"tenant": "globex", "principal": "alice"},
    });
    let state = AppState {
        service: Service::new(
            store,
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        ),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys.to_string()).unwrap()),
    };
    app(state, &Routes::ALL)
}

/// The router over a fresh embedded store with `keys` (an API key map, as
/// `HOLDPOINT_API_KEYS`) as its directory, a policy store and `clock`; and the service it serves.
pub fn policy_router(keys: &Value, clock: Clock) -> (Router, Service) {
    let dir = tempfile::tempdir().unwrap().keep();
    let auth = Authenticator::api_keys_from_json(&keys.to_string()).unwrap();
    let service = Service::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        holdpoint::conformance::test_keys(),
        clock,
        ExpiryBounds::default(),
    )
    .with_directory(auth.directory().clone())
    .with_policies(Arc::new(EmbeddedPolicies::open(&dir).unwrap()));
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(auth),
    };
    (app(state, &Routes::ALL), service)
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: http::HeaderMap,
    pub body: Value,
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

pub fn call(method: &str, uri: &str, key: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

pub fn create_body() -> Value {
    json!({
        "action": "DROP TABLE staging.events",
        "agent_id": "db-agent",
        "reviewers": ["alice", "role:sre"],
        "context": {"database": "staging", "rows": 1200},
        "tool_call": {"name": "sql.execute", "arguments": {"sql": "DROP TABLE staging.events"}},
        "risk_score": 80,
        "checkpoint_type": "sql_write",
        "expires_in_seconds": 900,
    })
}

pub async fn create(app: &Router) -> Value {
    let r = send(
        app,
        call("POST", "/v1/approvals", Some(AGENT), Some(create_body())),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

pub fn problem(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert_eq!(r.body["status"], status.as_u16());
}
