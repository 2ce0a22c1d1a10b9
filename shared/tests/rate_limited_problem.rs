//! A sign-in refused for its rate is 429 with Retry-After, as a problem document that says
//! nothing of the name asked for.

use axum::response::IntoResponse;
use holdpoint::http::problem::Problem;
use holdpoint::service::ServiceError;
use http_body_util::BodyExt;

#[tokio::test]
async fn rate_limited_is_429_with_retry_after() {
    let e = ServiceError::RateLimited {
        retry_after_seconds: 42,
    };
    let res = Problem::from(e).into_response();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "42");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["retry_after_seconds"], 42);
    // A 503 still says one second; nothing else gets a Retry-After of its own.
    let res = Problem::from(ServiceError::Unavailable("x".into())).into_response();
    assert_eq!(res.headers()["retry-after"], "1");
    let res = Problem::from(ServiceError::NotFound).into_response();
    assert!(res.headers().get("retry-after").is_none());
}
