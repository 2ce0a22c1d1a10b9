//! What the HTTP API refuses, and how: every client mistake is a clear 4xx problem+json.

mod support;

use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::json;
use support::{AGENT, ALICE, call, create, create_body, problem, router, send};

#[tokio::test]
async fn client_mistakes_are_clear_4xx() {
    let app = router();
    let raw = |body: &str, ct: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/approvals")
            .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    problem(
        &send(&app, raw("{not json", "application/json")).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    problem(
        &send(&app, raw("[]", "application/json")).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    problem(
        &send(&app, raw(&create_body().to_string(), "text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let mut unknown = create_body();
    unknown["requested_by"] = json!("alice");
    problem(
        &send(&app, raw(&unknown.to_string(), "application/json")).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    let mut missing = create_body();
    missing.as_object_mut().unwrap().remove("action");
    problem(
        &send(&app, raw(&missing.to_string(), "application/json")).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    let mut wrong_type = create_body();
    wrong_type["risk_score"] = json!("high");
    problem(
        &send(&app, raw(&wrong_type.to_string(), "application/json")).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    let mut empty_reviewers = create_body();
    empty_reviewers["reviewers"] = json!([]);
    let r = send(&app, raw(&empty_reviewers.to_string(), "application/json")).await;
    problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(r.body["field"], "reviewers");
    let mut long = create_body();
    long["action"] = json!("x".repeat(1_001));
    problem(
        &send(&app, raw(&long.to_string(), "application/json")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let huge = json!({"action": "x", "agent_id": "a", "reviewers": ["alice"], "context": {"blob": "x".repeat(200_000)}});
    problem(
        &send(&app, raw(&huge.to_string(), "application/json")).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    problem(
        &send(
            &app,
            raw(&format!("{{\"action\": {deep}}}"), "application/json"),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );

    problem(
        &send(
            &app,
            call("GET", "/v1/approvals/not-a-uuid", Some(AGENT), None),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    problem(
        &send(&app, call("GET", "/v1/approvals", None, None)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let unknown = send(
        &app,
        call("GET", "/v1/approvals", Some("wrong-key-00000000000"), None),
    )
    .await;
    assert_eq!(
        unknown.headers[http::header::WWW_AUTHENTICATE],
        "Bearer realm=\"holdpoint\", error=\"invalid_token\"",
        "an unknown credential is 401 with a challenge (RFC 9110)"
    );
    problem(&unknown, StatusCode::UNAUTHORIZED, "invalid_credential");
    problem(
        &send(&app, call("GET", "/nowhere", None, None)).await,
        StatusCode::NOT_FOUND,
        "no_route",
    );
    problem(
        &send(&app, call("DELETE", "/v1/approvals", Some(AGENT), None)).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let bad_decision = json!({"decision": "maybe"});
    let id = create(&app).await["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/approvals/{id}/decision");
    problem(
        &send(&app, call("POST", &uri, Some(ALICE), Some(bad_decision))).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
    let bad_hash = json!({"context_hash": "xyz"});
    let exec = format!("/v1/approvals/{id}/execute");
    problem(
        &send(&app, call("POST", &exec, Some(AGENT), Some(bad_hash))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let missing = format!("/v1/approvals/{}", uuid::Uuid::new_v4());
    problem(
        &send(&app, call("GET", &missing, Some(AGENT), None)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
