//! Hostile tries at the deadlines: agents deciding or extending, extensions past the rule's
//! lifetime or raced, executions at and past the window's edge or raced against the sweep,
//! denied and allowed requests pushed further than their ruling.

use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{
    ADMIN, AGENT, AGENT_ADMIN, ALICE, BOB, CAROL, Fixture, HELPER_BOT, STRANGER, fixture,
};
use crate::support::{call, problem};

const POLICY: &str = r#"rules:
  - id: payments
    match: {tool: "payments.*"}
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
    max_expires_in_seconds: 3600
    execute_within_seconds: 600
  - id: reads
    match: {tool: "*.get"}
    outcome: allow
  - id: deletes
    match: {action: "*delete*"}
    outcome: deny
"#;

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .into()
}

async fn asked(f: &Fixture) -> Value {
    f.set(POLICY).await;
    let r = f
        .send(call(
            "POST",
            "/v1/approvals",
            Some(AGENT),
            Some(f.payment()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn post(f: &Fixture, key: &str, id: &str, verb: &str, body: Value) -> crate::support::Reply {
    f.send(call(
        "POST",
        &format!("/v1/approvals/{id}/{verb}"),
        Some(key),
        Some(body),
    ))
    .await
}

async fn audit(f: &Fixture, id: &str) -> Value {
    let r = f
        .send(call(
            "GET",
            &format!("/v1/approvals/{id}/audit"),
            Some(ADMIN),
            None,
        ))
        .await;
    assert_eq!(r.body["valid"], true, "{}", r.body);
    r.body["records"].clone()
}

/// Agents — one holding the reviewer role, one holding admin, the requester — never approve,
/// reject, modify or extend, and nothing is written by their tries.
#[tokio::test]
async fn agents_neither_decide_nor_extend_through_a_role_or_admin() {
    let f = fixture();
    let a = asked(&f).await;
    let id = a["id"].as_str().unwrap();
    let tries = [
        ("decision", json!({"decision": "approved"})),
        ("decision", json!({"decision": "rejected"})),
        (
            "decision",
            json!({"decision": "modified", "modified_output": {"amount": 1}}),
        ),
        ("extend", json!({"seconds": 60})),
    ];
    for key in [HELPER_BOT, AGENT_ADMIN, AGENT] {
        for (verb, body) in &tries {
            let r = post(&f, key, id, verb, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{key} {verb} {body}: {}",
                r.body
            );
        }
    }
    let r = post(
        &f,
        HELPER_BOT,
        id,
        "decision",
        json!({"decision": "approved"}),
    )
    .await;
    problem(&r, StatusCode::FORBIDDEN, "agents_cannot_decide");
    let r = post(&f, STRANGER, id, "extend", json!({"seconds": 60})).await;
    problem(&r, StatusCode::NOT_FOUND, "not_found");
    let seen = f
        .send(call(
            "GET",
            &format!("/v1/approvals/{id}"),
            Some(ADMIN),
            None,
        ))
        .await;
    assert_eq!(seen.body["version"], a["version"], "{}", seen.body);
}

/// Extensions stay within the rule's lifetime (an hour here, however long the service allows),
/// odd amounts are refused, and racing extensions never add up past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_stay_within_the_rules_lifetime_even_raced() {
    let f = fixture();
    let a = asked(&f).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let latest = at(&a["created_at"]) + TimeDelta::seconds(3600);
    assert!(at(&a["expires_at"]) <= latest);
    for bad in [
        json!(0),
        json!(-5),
        json!(1.5),
        json!("60"),
        json!(null),
        json!(4_294_967_297_u64),
        json!(3000),
    ] {
        let r = post(&f, ALICE, &id, "extend", json!({"seconds": bad})).await;
        assert!(r.status.is_client_error(), "{bad}: {} {}", r.status, r.body);
    }
    let racers = (0..12).map(|_| {
        let (router, id) = (f.router.clone(), id.clone());
        tokio::spawn(async move {
            let req = call(
                "POST",
                &format!("/v1/approvals/{id}/extend"),
                Some(BOB),
                Some(json!({"seconds": 300})),
            );
            crate::support::send(&router, req).await.status
        })
    });
    let mut granted = 0;
    for r in racers {
        let status = r.await.unwrap();
        assert!(
            status == StatusCode::OK || status.is_client_error(),
            "{status}"
        );
        granted += usize::from(status == StatusCode::OK);
    }
    let seen = f
        .send(call(
            "GET",
            &format!("/v1/approvals/{id}"),
            Some(ADMIN),
            None,
        ))
        .await;
    let expires = at(&seen.body["expires_at"]);
    assert!(expires <= latest, "{expires} past {latest}");
    assert_eq!(
        expires,
        at(&a["expires_at"]) + TimeDelta::seconds(300 * granted as i64)
    );
    let extended = audit(&f, &id)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == "extended")
        .count();
    assert_eq!(extended, granted);

    // At the deadline itself, extending and deciding agree that it is over.
    f.time.advance(expires - f.now() + TimeDelta::seconds(1));
    let late = post(&f, ALICE, &id, "extend", json!({"seconds": 60})).await;
    let decide = post(&f, ALICE, &id, "decision", json!({"decision": "approved"})).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert_eq!(decide.status, StatusCode::CONFLICT, "{}", decide.body);
}

/// An approval executes once, with its hash, inside its window; past it, it lapses and nothing —
/// a second approval, an extension, an execute — revives it. Execute raced against the sweep at
/// the window's edge ends in exactly one of executed and lapsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_windows_hold_at_their_edge_and_against_the_sweep() {
    for offset in [-1i64, 0, 1] {
        let f = fixture();
        let a = asked(&f).await;
        let id = a["id"].as_str().unwrap().to_owned();
        post(&f, ALICE, &id, "decision", json!({"decision": "approved"})).await;
        let d = post(&f, CAROL, &id, "decision", json!({"decision": "approved"})).await;
        assert_eq!(d.body["status"], "approved", "{}", d.body);
        let hash = d.body["context_hash"].clone();
        for body in [
            json!({}),
            json!({"context_hash": null}),
            json!({"context_hash": ""}),
            json!({"context_hash": "sha256:00"}),
        ] {
            let r = post(&f, AGENT, &id, "execute", body.clone()).await;
            assert!(
                r.status.is_client_error(),
                "{body}: {} {}",
                r.status,
                r.body
            );
        }
        let window = d.body["execute_within_seconds"].as_i64().unwrap();
        let by = at(&d.body["decision"]["at"]) + TimeDelta::seconds(window);
        f.time
            .advance(by - f.now() + TimeDelta::milliseconds(offset));
        let (router, service) = (f.router.clone(), f.service.clone());
        let exec = call(
            "POST",
            &format!("/v1/approvals/{id}/execute"),
            Some(AGENT),
            Some(json!({"context_hash": hash})),
        );
        let (ran, swept) = tokio::join!(crate::support::send(&router, exec), service.sweep());
        swept.unwrap();
        let seen = f
            .send(call(
                "GET",
                &format!("/v1/approvals/{id}"),
                Some(ADMIN),
                None,
            ))
            .await;
        let status = seen.body["status"].as_str().unwrap().to_owned();
        assert!(
            status == "executed" || status == "lapsed",
            "{offset}: {status}"
        );
        assert_eq!(
            ran.status == StatusCode::OK,
            status == "executed",
            "{offset}: {}",
            ran.body
        );
        let events: Vec<Value> = audit(&f, &id)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event"].clone())
            .collect();
        let ends = events
            .iter()
            .filter(|e| *e == "executed" || *e == "lapsed")
            .count();
        assert!(ends <= 1, "{offset}: {events:?}");
        if offset > 0 {
            assert_eq!(status, "lapsed", "executed past its window");
        }
        // Nothing revives it.
        let again = post(&f, AGENT, &id, "execute", json!({"context_hash": hash})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
        for (key, verb, body) in [
            (BOB, "decision", json!({"decision": "approved"})),
            (ALICE, "extend", json!({"seconds": 60})),
            (ADMIN, "extend", json!({"seconds": 60})),
        ] {
            let r = post(&f, key, &id, verb, body).await;
            assert_eq!(
                r.status,
                StatusCode::CONFLICT,
                "{offset} {verb}: {}",
                r.body
            );
        }
    }
}

/// A denied request stays rejected whoever approves it afterwards; an allowed one runs once, with
/// its hash, inside its window.
#[tokio::test]
async fn denied_stays_denied_and_allowed_runs_once_in_its_window() {
    let f = fixture();
    f.set(POLICY).await;
    let mut body = f.payment();
    body["action"] = json!("delete the ledger");
    let r = f
        .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
        .await;
    problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
    let denied = r.body["approval_id"].as_str().unwrap().to_owned();
    for key in [ALICE, BOB, ADMIN] {
        let r = post(
            &f,
            key,
            &denied,
            "decision",
            json!({"decision": "approved"}),
        )
        .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        let r = post(&f, key, &denied, "extend", json!({"seconds": 60})).await;
        assert!(r.status.is_client_error(), "{}", r.body);
    }
    let r = post(&f, AGENT, &denied, "execute", json!({"context_hash": "x"})).await;
    assert!(r.status.is_client_error(), "{}", r.body);

    let mut body = f.payment();
    body["tool_call"] = json!({"name": "crm.get", "arguments": {}});
    body["execute_within_seconds"] = json!(30);
    let r = f
        .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "approved", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let hash = r.body["context_hash"].clone();
    let r = post(&f, AGENT, &id, "execute", json!({})).await;
    assert!(r.status.is_client_error(), "{}", r.body);
    f.time.advance(TimeDelta::seconds(31));
    let r = post(&f, AGENT, &id, "execute", json!({"context_hash": hash})).await;
    problem(&r, StatusCode::CONFLICT, "execution_window_closed");
}
