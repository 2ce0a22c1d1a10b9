//! The HTTP API through the one router, on the embedded store: an approval's life, who may do
//! what, tenants, lists. What it refuses, and how, is in http_errors.rs.

mod support;

use http::{StatusCode, header};
use serde_json::{Value, json};
use support::{AGENT, ALICE, BOB, STRANGER, call, create, create_body, problem, router, send};

#[tokio::test]
async fn create_poll_decide_execute() {
    let app = router();
    let a = create(&app).await;
    let id = a["id"].as_str().unwrap();
    assert_eq!(a["status"], "pending");
    assert_eq!(a["requested_by"], "agent");
    assert_eq!(a["version"], 1);
    assert!(a["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(a["decision"].is_null());

    let got = send(
        &app,
        call("GET", &format!("/v1/approvals/{id}"), Some(ALICE), None),
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, a);
    assert_eq!(got.headers[header::CACHE_CONTROL], "no-store");

    let decision = json!({"decision": "approved", "comment": "fine"});
    let uri = format!("/v1/approvals/{id}/decision");
    let d = send(
        &app,
        call("POST", &uri, Some(ALICE), Some(decision.clone())),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(d.body["status"], "approved");
    assert_eq!(d.body["decision"]["by"], "alice");
    let again = send(&app, call("POST", &uri, Some(ALICE), Some(decision))).await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &d.body));
    let reject = json!({"decision": "rejected", "comment": "changed my mind"});
    let late = send(&app, call("POST", &uri, Some(BOB), Some(reject))).await;
    problem(&late, StatusCode::CONFLICT, "conflict");
    assert_eq!(late.body["current_status"], "approved");
    assert_eq!(late.body["decided_by"], "alice");

    let exec = format!("/v1/approvals/{id}/execute");
    // Without a hash nothing proves what runs: refused naming the field, nothing written.
    for unproved in [None, Some(json!({})), Some(json!({"context_hash": null}))] {
        let r = send(&app, call("POST", &exec, Some(AGENT), unproved)).await;
        problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["field"], "context_hash");
    }
    let unchanged = send(
        &app,
        call("GET", &format!("/v1/approvals/{id}"), Some(AGENT), None),
    )
    .await;
    assert_eq!(unchanged.body, d.body, "nothing was written");
    let wrong = json!({"context_hash": "ab".repeat(32)});
    let mismatch = send(&app, call("POST", &exec, Some(AGENT), Some(wrong))).await;
    problem(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "context_mismatch",
    );
    let right = json!({"context_hash": a["context_hash"]});
    let done = send(&app, call("POST", &exec, Some(AGENT), Some(right.clone()))).await;
    assert_eq!(done.body["status"], "executed");
    assert!(done.body["executed_at"].is_string());
    let replay = send(&app, call("POST", &exec, Some(AGENT), Some(right))).await;
    problem(&replay, StatusCode::CONFLICT, "conflict");
    assert_eq!(replay.body["current_status"], "executed");

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
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(audit.body["valid"], true);
    let events: Vec<_> = audit.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["created", "approved", "executed"]);
    assert!(
        audit.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key_id"] == "conformance-key")
    );

    // The signed-decision check.
    let signature = d.body["decision"]["signature"].as_str().unwrap().to_owned();
    let verify = format!("/v1/approvals/{id}/verify");
    let good = send(
        &app,
        call(
            "POST",
            &verify,
            Some(AGENT),
            Some(json!({"signature": signature})),
        ),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK);
    assert_eq!(good.body["valid"], true, "{}", good.body);
    assert_eq!(good.body["approval"]["approver"], "alice");
    assert_eq!(good.body["approval"]["decision"], "approved");
    let mut forged = signature.into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let bad = send(
        &app,
        call(
            "POST",
            &verify,
            Some(AGENT),
            Some(json!({"signature": forged})),
        ),
    )
    .await;
    assert_eq!(
        bad.body,
        json!({"valid": false, "error": "invalid signature"})
    );
    let other = send(
        &app,
        call(
            "POST",
            &verify,
            Some(STRANGER),
            Some(json!({"signature": "00"})),
        ),
    )
    .await;
    problem(&other, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn who_may_decide() {
    let app = router();
    let id = create(&app).await["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/approvals/{id}/decision");
    let approve = json!({"decision": "approved"});
    let own = send(&app, call("POST", &uri, Some(AGENT), Some(approve.clone()))).await;
    problem(&own, StatusCode::FORBIDDEN, "self_approval");
    let no_comment = send(
        &app,
        call(
            "POST",
            &uri,
            Some(BOB),
            Some(json!({"decision": "rejected"})),
        ),
    )
    .await;
    problem(
        &no_comment,
        StatusCode::UNPROCESSABLE_ENTITY,
        "comment_required",
    );
    // Bob reviews through role:sre.
    let by_role = send(&app, call("POST", &uri, Some(BOB), Some(approve))).await;
    assert_eq!(by_role.body["status"], "approved");

    let body = json!({"action": "x", "agent_id": "a", "reviewers": ["carol"]});
    let other = send(&app, call("POST", "/v1/approvals", Some(AGENT), Some(body))).await;
    let uri = format!(
        "/v1/approvals/{}/decision",
        other.body["id"].as_str().unwrap()
    );
    let not_reviewer = send(
        &app,
        call(
            "POST",
            &uri,
            Some(ALICE),
            Some(json!({"decision": "approved"})),
        ),
    )
    .await;
    problem(&not_reviewer, StatusCode::FORBIDDEN, "not_a_reviewer");
}

#[tokio::test]
async fn cancel_only_while_pending_and_only_by_the_requester() {
    let app = router();
    let id = create(&app).await["id"].as_str().unwrap().to_owned();
    let uri = format!("/v1/approvals/{id}/cancel");
    let by_alice = send(&app, call("POST", &uri, Some(ALICE), None)).await;
    problem(&by_alice, StatusCode::FORBIDDEN, "not_requester");
    let ok = send(
        &app,
        call(
            "POST",
            &uri,
            Some(AGENT),
            Some(json!({"reason": "not needed"})),
        ),
    )
    .await;
    assert_eq!(ok.body["status"], "cancelled");
    let decide = format!("/v1/approvals/{id}/decision");
    let late = send(
        &app,
        call(
            "POST",
            &decide,
            Some(ALICE),
            Some(json!({"decision": "approved"})),
        ),
    )
    .await;
    problem(&late, StatusCode::CONFLICT, "conflict");
    assert_eq!(late.body["current_status"], "cancelled");
    let exec = send(
        &app,
        call(
            "POST",
            &format!("/v1/approvals/{id}/execute"),
            Some(AGENT),
            Some(json!({"context_hash": ok.body["context_hash"]})),
        ),
    )
    .await;
    problem(&exec, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn idempotency_key_returns_the_first_approval() {
    let app = router();
    let req = |body: Value| {
        let mut r = call("POST", "/v1/approvals", Some(AGENT), Some(body));
        r.headers_mut()
            .insert("idempotency-key", "order-42".parse().unwrap());
        r
    };
    let first = send(&app, req(create_body())).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = send(&app, req(create_body())).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["id"], first.body["id"]);
    let mut other = create_body();
    other["action"] = json!("something else");
    let reused = send(&app, req(other)).await;
    problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
}

#[tokio::test]
async fn another_tenant_sees_nothing_anywhere() {
    let app = router();
    let id = create(&app).await["id"].as_str().unwrap().to_owned();
    for (method, path, body) in [
        ("GET", format!("/v1/approvals/{id}"), None),
        ("GET", format!("/v1/approvals/{id}/audit"), None),
        (
            "POST",
            format!("/v1/approvals/{id}/decision"),
            Some(json!({"decision": "approved"})),
        ),
        ("POST", format!("/v1/approvals/{id}/cancel"), None),
        (
            "POST",
            format!("/v1/approvals/{id}/execute"),
            Some(json!({"context_hash": "ab".repeat(32)})),
        ),
        (
            "POST",
            format!("/v1/approvals/{id}/extend"),
            Some(json!({"seconds": 60})),
        ),
    ] {
        let r = send(&app, call(method, &path, Some(STRANGER), body)).await;
        problem(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let list = send(&app, call("GET", "/v1/approvals", Some(STRANGER), None)).await;
    assert_eq!(list.body, json!({"items": [], "next_cursor": null}));
}

#[tokio::test]
async fn list_filters_and_pages() {
    let app = router();
    let mut created = Vec::new();
    for _ in 0..5 {
        let a = create(&app).await;
        created.push((
            a["created_at"].as_str().unwrap().to_owned(),
            a["id"].as_str().unwrap().to_owned(),
        ));
    }
    // Newest first; two created in the same millisecond are ordered by id.
    created.sort();
    created.reverse();
    let ids: Vec<Value> = created.into_iter().map(|(_, id)| json!(id)).collect();
    let decide = format!("/v1/approvals/{}/decision", ids[0].as_str().unwrap());
    send(
        &app,
        call(
            "POST",
            &decide,
            Some(ALICE),
            Some(json!({"decision": "approved"})),
        ),
    )
    .await;

    let mut seen = Vec::new();
    let mut uri = "/v1/approvals?limit=2&agent_id=db-agent".to_owned();
    loop {
        let page = send(&app, call("GET", &uri, Some(AGENT), None)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].clone()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/approvals?limit=2&agent_id=db-agent&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let pending = send(
        &app,
        call(
            "GET",
            "/v1/approvals?status=pending&reviewer=role:sre&checkpoint_type=sql_write",
            Some(AGENT),
            None,
        ),
    )
    .await;
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 4);
    let none = send(
        &app,
        call("GET", "/v1/approvals?agent_id=nobody", Some(AGENT), None),
    )
    .await;
    assert_eq!(none.body["items"], json!([]));

    for (query, code) in [
        ("limit=0", "invalid_query"),
        ("limit=101", "invalid_query"),
        ("limit=ten", "invalid_query"),
        ("status=done", "invalid_query"),
        ("sort=asc", "invalid_query"),
        ("cursor=not-a-cursor", "invalid_cursor"),
    ] {
        let r = send(
            &app,
            call("GET", &format!("/v1/approvals?{query}"), Some(AGENT), None),
        )
        .await;
        problem(&r, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test]
async fn health_needs_no_auth() {
    let r = send(&router(), call("GET", "/health", None, None)).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
}
