//! Insights on DynamoDB: the figures of a scenario with known durations, read page by page
//! (more approvals in the window than one page holds) from a cursor at the window's end.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use holdpoint::service::{Service, ServiceError};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::time::Clock;
use holdpoint_tests::acme as who;

fn request(agent: &str, tool: Option<&str>, expires_in: u32) -> CreateRequest {
    let mut body = serde_json::json!({
        "action": "act",
        "agent_id": agent,
        "reviewers": ["alice"],
        "context": {},
        "expires_in_seconds": expires_in,
    });
    if let Some(tool) = tool {
        body["tool_call"] = serde_json::json!({"name": tool, "arguments": {}});
    }
    serde_json::from_value(body).unwrap()
}

#[tokio::test]
async fn figures_of_known_durations_on_dynamodb() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let t0 = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let hands = Arc::new(AtomicI64::new(t0.timestamp_millis()));
    let read = hands.clone();
    let clock = Clock::from_fn(move || {
        DateTime::from_timestamp_millis(read.load(Ordering::SeqCst)).unwrap()
    });
    let set = |t: DateTime<Utc>| hands.store(t.timestamp_millis(), Ordering::SeqCst);
    let service = Service::new(
        Arc::new(store),
        holdpoint::conformance::test_keys(),
        clock,
        ExpiryBounds::default(),
    );
    let agent = who("agent");
    let alice = who("alice");

    // Before the window: never counted.
    set(t0 - TimeDelta::hours(2));
    service
        .create(&agent, request("old-agent", None, 600), None)
        .await
        .unwrap();
    // Decided after 30 s, 90 s and 300 s.
    for (start, wait, tool, verdict) in [
        (0, 30, "ec2.terminate", Verdict::Approved),
        (3600, 90, "ec2.terminate", Verdict::Rejected),
        (7200, 300, "sql.execute", Verdict::Approved),
    ] {
        set(t0 + TimeDelta::seconds(start));
        let (a, _) = service
            .create(&agent, request("ops-agent", Some(tool), 600), None)
            .await
            .unwrap();
        set(t0 + TimeDelta::seconds(start + wait));
        let decide = Command::Decide {
            by: &alice,
            verdict,
            comment: Some("checked".into()),
            modified_output: None,
        };
        service.apply("acme", a.id, decide).await.unwrap();
    }
    // Unanswered by its deadline.
    set(t0 + TimeDelta::hours(3));
    service
        .create(&agent, request("db-agent", None, 60), None)
        .await
        .unwrap();
    // More than a page of pending ones.
    for i in 0..105 {
        set(t0 + TimeDelta::minutes(210) + TimeDelta::milliseconds(i));
        service
            .create(&agent, request("bulk-agent", None, 86_400), None)
            .await
            .unwrap();
    }

    let until = t0 + TimeDelta::hours(4);
    set(until);
    let mut root = who("root");
    root.roles = vec!["admin".into()];
    let i = service
        .insights(&root, t0 - TimeDelta::hours(1), until)
        .await
        .unwrap();
    assert_eq!(i.counted, 109);
    assert!(!i.truncated);
    let outcome = |name: &str| i.by_outcome.iter().find(|c| c.name == name).unwrap().count;
    assert_eq!(
        ["pending", "approved", "rejected", "expired", "lapsed"].map(outcome),
        [105, 0, 1, 1, 2]
    );
    let agents: Vec<_> = i
        .by_agent
        .iter()
        .map(|c| (c.name.as_str(), c.count))
        .collect();
    assert_eq!(
        agents,
        [("bulk-agent", 105), ("ops-agent", 3), ("db-agent", 1)]
    );
    let tools: Vec<_> = i
        .by_tool
        .iter()
        .map(|c| (c.name.as_str(), c.count))
        .collect();
    assert_eq!(tools, [("ec2.terminate", 2), ("sql.execute", 1)]);
    let t = &i.time_to_decision;
    assert_eq!(
        (t.decided, t.p50_ms, t.p90_ms, t.max_ms),
        (3, Some(90_000), Some(300_000), Some(300_000))
    );
    assert_eq!((i.expired, i.escalated), (1, 0));
    assert_eq!(i.policy, None);

    // Attacker try: a reviewer of the tenant is refused.
    let refused = service.insights(&alice, t0, until).await;
    assert!(
        matches!(refused, Err(ServiceError::NotAdmin)),
        "{refused:?}"
    );
}
