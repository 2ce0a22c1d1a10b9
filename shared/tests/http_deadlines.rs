//! Deadlines over HTTP: extending a pending approval, and the execution window closing.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{AGENT, ALICE, BOB, STRANGER, call, create, create_body, problem, router, send};

#[tokio::test]
async fn reviewers_extend_a_pending_deadline_within_the_maximum() {
    let app = router();
    let a = create(&app).await;
    let id = a["id"].as_str().unwrap();
    let uri = format!("/v1/approvals/{id}/extend");
    let ext = |seconds: serde_json::Value| json!({"seconds": seconds, "reason": "owner away"});

    // The requester may not keep its own request open; a stranger does not see it.
    let by_agent = send(&app, call("POST", &uri, Some(AGENT), Some(ext(json!(60))))).await;
    problem(&by_agent, StatusCode::FORBIDDEN, "not_a_reviewer");
    let by_stranger = send(
        &app,
        call("POST", &uri, Some(STRANGER), Some(ext(json!(60)))),
    )
    .await;
    problem(&by_stranger, StatusCode::NOT_FOUND, "not_found");
    // Out of bounds, or past the latest expiry (30 days after creation): 422 naming seconds.
    for bad in [json!(0), json!(2_592_001), json!(99_999_999_999_u64)] {
        let r = send(
            &app,
            call("POST", &uri, Some(ALICE), Some(ext(bad.clone()))),
        )
        .await;
        problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["field"], "seconds", "{bad}");
    }
    let past = send(
        &app,
        call("POST", &uri, Some(ALICE), Some(ext(json!(2_592_000)))),
    )
    .await;
    problem(&past, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(past.body["field"], "seconds");
    assert!(past.body["latest_expiry"].is_string(), "{}", past.body);
    for bad in [
        json!({}),
        json!({"seconds": -1}),
        json!({"seconds": 60, "by": "x"}),
    ] {
        let r = send(&app, call("POST", &uri, Some(ALICE), Some(bad))).await;
        assert!(r.status.is_client_error(), "{}", r.body);
    }

    // A reviewer (here through the role sre) extends it; the audit trail says who and why.
    let ok = send(&app, call("POST", &uri, Some(BOB), Some(ext(json!(3600))))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "pending");
    let before = chrono::DateTime::parse_from_rfc3339(a["expires_at"].as_str().unwrap()).unwrap();
    let after =
        chrono::DateTime::parse_from_rfc3339(ok.body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((after - before).num_seconds(), 3600);
    let audit = send(
        &app,
        call(
            "GET",
            &format!("/v1/approvals/{id}/audit"),
            Some(AGENT),
            None,
        ),
    )
    .await;
    assert_eq!(audit.body["valid"], true);
    let last = &audit.body["records"][1];
    assert_eq!(last["event"], "extended");
    assert_eq!(last["actor"], "bob");
    assert_eq!(last["payload"]["seconds"], 3600);
    assert_eq!(last["payload"]["reason"], "owner away");
    assert_eq!(last["payload"]["expires_at"], ok.body["expires_at"]);

    // Decided, it can no longer be extended.
    let decide = format!("/v1/approvals/{id}/decision");
    let approve = json!({"decision": "approved"});
    send(&app, call("POST", &decide, Some(ALICE), Some(approve))).await;
    let late = send(&app, call("POST", &uri, Some(ALICE), Some(ext(json!(60))))).await;
    problem(&late, StatusCode::CONFLICT, "conflict");
    assert_eq!(late.body["current_status"], "approved");
}

#[tokio::test]
async fn execute_past_the_window_is_refused_and_shown_lapsed() {
    let app = router();
    let mut body = create_body();
    body["execute_within_seconds"] = json!(1);
    let r = send(&app, call("POST", "/v1/approvals", Some(AGENT), Some(body))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["execute_within_seconds"], 1);
    let id = r.body["id"].as_str().unwrap();
    let decide = format!("/v1/approvals/{id}/decision");
    let approve = json!({"decision": "approved"});
    let d = send(&app, call("POST", &decide, Some(ALICE), Some(approve))).await;
    assert_eq!(d.body["status"], "approved");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    let exec = format!("/v1/approvals/{id}/execute");
    let hash = json!({"context_hash": d.body["context_hash"]});
    let closed = send(&app, call("POST", &exec, Some(AGENT), Some(hash))).await;
    problem(&closed, StatusCode::CONFLICT, "execution_window_closed");
    assert_eq!(closed.body["current_status"], "lapsed");
    assert!(closed.body["execute_by"].is_string());
    let seen = send(
        &app,
        call("GET", &format!("/v1/approvals/{id}"), Some(AGENT), None),
    )
    .await;
    assert_eq!(seen.body["status"], "lapsed");
    assert_eq!(
        seen.body["version"], d.body["version"],
        "nothing was written"
    );
    let listed = send(
        &app,
        call("GET", "/v1/approvals?status=lapsed", Some(AGENT), None),
    )
    .await;
    assert_eq!(listed.body["items"][0]["id"], id);
}
