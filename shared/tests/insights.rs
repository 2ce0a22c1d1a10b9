//! `GET /v1/insights` on the embedded store, with a clock the test moves: every figure of a
//! scenario with known durations, the window's edges, and who may ask.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use chrono::{DateTime, TimeDelta, Utc};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use holdpoint_core::time::{Clock, format};
use support::{call, problem, send};

const AGENT: &str = "key-agent-0000000000";
const ADMIN: &str = "key-admin-0000000000";
const ALICE: &str = "key-alice-0000000000";
const ROBOT_ADMIN: &str = "key-robot-admin-0000";
const GLOBEX_AGENT: &str = "key-globex-agent-000";
const GLOBEX_ADMIN: &str = "key-globex-admin-000";

/// A clock the test sets, to the millisecond.
#[derive(Clone)]
struct Hands(Arc<AtomicI64>);

impl Hands {
    fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_millis(), Ordering::SeqCst);
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn router() -> (Router, holdpoint::service::Service, Hands) {
    let hands = Hands(Arc::new(AtomicI64::new(t0().timestamp_millis())));
    let read = hands.clone();
    let clock = Clock::from_fn(move || {
        DateTime::from_timestamp_millis(read.0.load(Ordering::SeqCst)).unwrap()
    });
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent", "kind": "agent"},
        ADMIN: {"tenant": "acme", "principal": "root", "roles": ["admin"]},
        ALICE: {"tenant": "acme", "principal": "alice"},
        ROBOT_ADMIN: {"tenant": "acme", "principal": "robot", "kind": "agent", "roles": ["admin"]},
        GLOBEX_AGENT: {"tenant": "globex", "principal": "agent", "kind": "agent"},
        GLOBEX_ADMIN: {"tenant": "globex", "principal": "root", "roles": ["admin"]},
    });
    let (app, service) = support::policy_router(&keys, clock);
    (app, service, hands)
}

async fn create(app: &Router, key: &str, agent: &str, tool: Option<&str>, extra: Value) -> String {
    let mut body = json!({
        "action": "act",
        "agent_id": agent,
        "reviewers": ["alice"],
        "context": {},
    });
    if let Some(tool) = tool {
        body["tool_call"] = json!({"name": tool, "arguments": {}});
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = send(app, call("POST", "/v1/approvals", Some(key), Some(body))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn decide(app: &Router, id: &str, decision: &str) {
    let body = json!({"decision": decision, "comment": "checked"});
    let uri = format!("/v1/approvals/{id}/decision");
    let r = send(app, call("POST", &uri, Some(ALICE), Some(body))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn insights(app: &Router, key: &str, query: &str) -> support::Reply {
    send(
        app,
        call("GET", &format!("/v1/insights{query}"), Some(key), None),
    )
    .await
}

fn counts(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn named(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

#[tokio::test]
async fn figures_match_a_scenario_with_known_durations() {
    let (app, service, hands) = router();
    let since = t0() - TimeDelta::days(1);
    let until = t0() + TimeDelta::hours(6);
    let at = |d: TimeDelta| t0() + d;

    // Just before the window, and exactly at its start (counted: the window is [since, until)).
    hands.set(since - TimeDelta::milliseconds(1));
    create(&app, AGENT, "old-agent", None, json!({})).await;
    hands.set(since);
    create(&app, AGENT, "edge-agent", None, json!({})).await;
    // Decided by alice after 60 s, 120 s and 600 s (the first and third lapse unexecuted).
    for (start, wait, tool, verdict) in [
        (0, 60, "ec2.terminate", "approved"),
        (3600, 120, "ec2.terminate", "rejected"),
        (7200, 600, "sql.execute", "approved"),
    ] {
        hands.set(at(TimeDelta::seconds(start)));
        let id = create(&app, AGENT, "ops-agent", Some(tool), json!({})).await;
        hands.set(at(TimeDelta::seconds(start + wait)));
        decide(&app, &id, verdict).await;
    }
    // Unanswered by its deadline.
    hands.set(at(TimeDelta::hours(3)));
    create(
        &app,
        AGENT,
        "db-agent",
        None,
        json!({"expires_in_seconds": 300}),
    )
    .await;
    // Escalated by the sweep, still pending.
    hands.set(at(TimeDelta::hours(4)));
    let escalation = json!({
        "expires_in_seconds": 86_400,
        "escalation": [{"after_seconds": 60, "reviewers": ["root"]}],
    });
    create(&app, AGENT, "db-agent", None, escalation).await;
    hands.set(at(TimeDelta::hours(4) + TimeDelta::minutes(2)));
    let swept = service.sweep().await.unwrap();
    assert_eq!(swept.escalated, 1);
    // The policy approves reads on its own.
    hands.set(at(TimeDelta::minutes(330)));
    let put = Request::builder()
        .method("PUT")
        .uri("/v1/policy")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(
            "default: ask\nrules:\n  - id: reads\n    match:\n      tool: \"s3.list\"\n    outcome: allow\n",
        ))
        .unwrap();
    assert_eq!(send(&app, put).await.status, StatusCode::OK);
    create(&app, AGENT, "ops-agent", Some("s3.list"), json!({})).await;
    // Another tenant's (never counted), and one exactly at the window's end (not counted).
    create(&app, GLOBEX_AGENT, "ops-agent", None, json!({})).await;
    hands.set(until);
    create(&app, AGENT, "late-agent", Some("s3.list"), json!({})).await;

    let query = format!("?since={}&until={}", format(&since), format(&until));
    let r = insights(&app, ADMIN, &query).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let i = &r.body;
    assert_eq!(i["counted"], 7, "{i}");
    assert_eq!(i["truncated"], false);
    assert_eq!(i["since"], format(&since));
    assert_eq!(i["until"], format(&until));
    assert_eq!(
        counts(&i["by_outcome"]),
        named(&[
            ("pending", 1),
            ("approved", 1),
            ("rejected", 1),
            ("modified", 0),
            ("expired", 2),
            ("cancelled", 0),
            ("executed", 0),
            ("lapsed", 2),
        ])
    );
    assert_eq!(i["top"], 10);
    assert_eq!(
        counts(&i["by_agent"]),
        named(&[("ops-agent", 4), ("db-agent", 2), ("edge-agent", 1)])
    );
    assert_eq!(
        counts(&i["by_tool"]),
        named(&[("ec2.terminate", 2), ("s3.list", 1), ("sql.execute", 1)])
    );
    assert_eq!(
        i["time_to_decision"],
        json!({"decided": 3, "p50_ms": 120_000, "p90_ms": 600_000, "max_ms": 600_000})
    );
    assert_eq!(i["expired"], 2);
    assert_eq!(i["escalated"], 1);
    assert_eq!(i["policy"]["governed"], 1);
    assert_eq!(i["policy"]["approved_by_policy"], 1);
    assert_eq!(i["policy"]["rejected_by_policy"], 0);
    let share = i["policy"]["approved_by_policy_share"].as_f64().unwrap();
    assert!((share - 1.0 / 7.0).abs() < 1e-9, "{share}");

    // The default window is the last 7 days before now (`until`): `old-agent`'s too.
    let default = insights(&app, ADMIN, "").await;
    assert_eq!(default.body["counted"], 8, "{}", default.body);
    assert_eq!(default.body["until"], format(&until));
    // Another tenant's admin sees its own alone.
    let globex = insights(&app, GLOBEX_ADMIN, &format!("?since={}", format(&since))).await;
    assert_eq!(globex.body["counted"], 1, "{}", globex.body);
    assert_eq!(counts(&globex.body["by_agent"]), named(&[("ops-agent", 1)]));
}

#[tokio::test]
async fn only_admins_ask_and_a_window_is_bounded() {
    let (app, _, _) = router();
    // Attacker tries: a reviewer, an agent, an agent holding the role admin, no key at all.
    for key in [ALICE, AGENT, ROBOT_ADMIN] {
        problem(
            &insights(&app, key, "").await,
            StatusCode::FORBIDDEN,
            "not_admin",
        );
    }
    let anonymous = send(&app, call("GET", "/v1/insights", None, None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // A non-admin learns nothing of the query either.
    let r = insights(&app, ALICE, "?since=nonsense").await;
    problem(&r, StatusCode::FORBIDDEN, "not_admin");

    let now = t0();
    let q = |since: DateTime<Utc>, until: DateTime<Utc>| {
        format!("?since={}&until={}", format(&since), format(&until))
    };
    let longest = insights(&app, ADMIN, &q(now - TimeDelta::days(90), now)).await;
    assert_eq!(longest.status, StatusCode::OK, "{}", longest.body);
    let too_long = q(now - TimeDelta::days(90) - TimeDelta::milliseconds(1), now);
    problem(
        &insights(&app, ADMIN, &too_long).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    problem(
        &insights(&app, ADMIN, &q(now, now)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let reversed = q(now, now - TimeDelta::hours(1));
    problem(
        &insights(&app, ADMIN, &reversed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    // The edges of what RFC 3339 can say read nothing, and fail nothing.
    for edge in [
        "?since=0000-01-01T00:00:00Z&until=0000-01-02T00:00:00Z",
        "?since=9999-12-30T00:00:00Z&until=9999-12-31T23:59:59.999Z",
        "?until=0000-01-01T00:00:00Z",
        "?since=2026-11-20T10:00:00%2B14:00",
    ] {
        let r = insights(&app, ADMIN, edge).await;
        assert_eq!(r.status, StatusCode::OK, "{edge}: {}", r.body);
        assert_eq!(r.body["counted"], 0, "{edge}");
    }
    for bad in [
        "?since=yesterday",
        "?until=2026-13-01T00:00:00Z",
        "?days=7",
        "?since=1700000000",
    ] {
        problem(
            &insights(&app, ADMIN, bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
    }
}
