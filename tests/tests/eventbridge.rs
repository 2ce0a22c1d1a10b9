//! Lifecycle events on EventBridge (the local protocol server), read back from an SQS queue that
//! a rule targets: every transition's event arrives, and with PutEvents failing the events
//! arrive after the next sweep, none missing. No event carries a review link.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::TimeDelta;
use holdpoint::conformance::{ManualClock, test_keys};
use holdpoint::events::EventBridgeSink;
use holdpoint::service::Service;
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_tests::acme;
use holdpoint_tests::bus::{Bus, bus};
use holdpoint_tests::fault_proxy::{Fault, FaultProxy};
use serde_json::{Value, json};

/// `(detail-type, approval id, version)` of every event delivered so far.
async fn drain(bus: &Bus) -> BTreeSet<(String, String, u64)> {
    bus.drain()
        .await
        .iter()
        .map(|event| {
            let d = &event["detail"];
            (
                event["detail-type"].as_str().unwrap().to_owned(),
                d["approval_id"].as_str().unwrap().to_owned(),
                d["version"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn request(extra: Value) -> CreateRequest {
    let mut body = json!({"action": "Pay invoice 2026-118", "agent_id": "ap-agent", "reviewers": ["alice", "bob"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(body).unwrap()
}

fn approve(by: &holdpoint_core::domain::identity::Principal) -> Command<'_> {
    Command::Decide {
        by,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    }
}

/// Drives approvals through every kind of transition; the expected events.
async fn every_transition(
    service: &Service,
    time: &ManualClock,
) -> BTreeSet<(String, String, u64)> {
    let (agent, alice, bob) = (acme("agent"), acme("alice"), acme("bob"));
    let mut expected = BTreeSet::new();
    let mut expect =
        |t: &str, id: uuid::Uuid, v: u64| expected.insert((t.to_owned(), id.to_string(), v));

    let (a, _) = service
        .create(&agent, request(json!({"quorum": 2})), None)
        .await
        .unwrap();
    service.apply("acme", a.id, approve(&alice)).await.unwrap();
    service.apply("acme", a.id, approve(&bob)).await.unwrap();
    service
        .apply(
            "acme",
            a.id,
            Command::Execute {
                by: &agent,
                context_hash: Some(a.context_hash.clone()),
            },
        )
        .await
        .unwrap();
    for (t, v) in [
        ("Approval Requested", 1),
        ("Approval Vote Recorded", 2),
        ("Approval Decided", 3),
        ("Approval Executed", 4),
    ] {
        expect(t, a.id, v);
    }
    let (b, _) = service
        .create(&agent, request(json!({})), None)
        .await
        .unwrap();
    service
        .apply(
            "acme",
            b.id,
            Command::Cancel {
                by: &agent,
                reason: None,
            },
        )
        .await
        .unwrap();
    expect("Approval Requested", b.id, 1);
    expect("Approval Cancelled", b.id, 2);
    let (c, _) = service
        .create(&agent, request(json!({"expires_in_seconds": 120, "escalation": [{"after_seconds": 60, "reviewers": ["carol"]}]})), None)
        .await
        .unwrap();
    time.advance(TimeDelta::seconds(61));
    service.sweep().await.unwrap();
    time.advance(TimeDelta::seconds(60));
    service.sweep().await.unwrap();
    expect("Approval Requested", c.id, 1);
    expect("Approval Escalated", c.id, 2);
    expect("Approval Expired", c.id, 3);
    expected
}

async fn service(events_endpoint: &str, bus: &str, time: &ManualClock) -> Service {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let config = aws_sdk_eventbridge::config::Builder::from(&sdk)
        .endpoint_url(events_endpoint)
        .build();
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::from_conf(config), bus);
    Service::new(
        Arc::new(store),
        test_keys(),
        time.clock(),
        ExpiryBounds::default(),
    )
    .with_events(Arc::new(sink), "https://holdpoint.example")
}

#[tokio::test]
async fn every_transition_arrives_on_the_bus() {
    let bus = bus().await;
    let time = ManualClock::default();
    let service = service(&holdpoint_tests::endpoint(), &bus.name, &time).await;
    let expected = every_transition(&service, &time).await;
    assert_eq!(drain(&bus).await, expected);
}

#[tokio::test]
async fn events_missed_while_put_events_fails_arrive_after_the_sweep() {
    let bus = bus().await;
    let proxy = FaultProxy::start(&holdpoint_tests::endpoint()).await;
    let time = ManualClock::default();
    let service = service(&proxy.url, &bus.name, &time).await;
    proxy.fail("PutEvents", Fault::ServerError, usize::MAX);
    let expected = every_transition(&service, &time).await;
    assert!(proxy.seen("PutEvents") > 0);
    assert!(drain(&bus).await.is_empty(), "nothing got through");

    proxy.heal();
    let report = service.sweep().await.unwrap();
    assert_eq!(report.republished, 3, "{report:?}");
    assert_eq!(drain(&bus).await, expected, "none missing");
    assert_eq!(
        service.sweep().await.unwrap().republished,
        0,
        "nothing left to publish"
    );
}

/// Review links are bearer capabilities: the bus names the reviewers an event asks (named ones
/// and a role's members), and carries no link, whether the approval is asked, escalated or
/// decided.
#[tokio::test]
async fn no_event_on_the_bus_carries_a_review_link() {
    use holdpoint::directory::{Directory, Entry};
    let bus = bus().await;
    let time = ManualClock::default();
    let (store, _) = holdpoint_tests::fresh_store().await;
    let directory = holdpoint_tests::directory(&store);
    for (name, roles) in [
        ("alice", vec![]),
        ("bob", vec!["finance"]),
        ("dana", vec!["finance"]),
        ("carol", vec![]),
    ] {
        let entry: Entry =
            serde_json::from_value(json!({"tenant": "acme", "name": name, "roles": roles}))
                .unwrap();
        directory.put(&entry, true).await.unwrap();
    }
    let sdk = holdpoint::store::dynamodb::sdk_config().await;
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    let service = Service::new(
        Arc::new(store),
        test_keys(),
        time.clock(),
        ExpiryBounds::default(),
    )
    .with_events(Arc::new(sink), "https://holdpoint.example")
    .with_directory(Arc::new(directory));
    let (agent, mut bob) = (acme("agent"), acme("bob"));
    bob.roles = vec!["finance".into()];

    let (decided, _) = service
        .create(
            &agent,
            request(json!({"reviewers": ["alice", "role:finance"]})),
            None,
        )
        .await
        .unwrap();
    service
        .apply("acme", decided.id, approve(&bob))
        .await
        .unwrap();
    let (escalated, _) = service
        .create(
            &agent,
            request(json!({"reviewers": ["alice"], "expires_in_seconds": 600,
            "escalation": [{"after_seconds": 60, "reviewers": ["role:finance", "carol"]}]})),
            None,
        )
        .await
        .unwrap();
    time.advance(TimeDelta::seconds(61));
    service.sweep().await.unwrap();

    let events = bus.drain().await;
    let published = serde_json::to_string(&events).unwrap();
    assert!(
        !published.contains("/review/") && !published.contains("token="),
        "{published}"
    );
    let asked = |detail_type: &str, id: uuid::Uuid| {
        let e = events
            .iter()
            .find(|e| {
                e["detail-type"] == detail_type && e["detail"]["approval_id"] == id.to_string()
            })
            .unwrap_or_else(|| panic!("no {detail_type} of {id}: {events:?}"));
        let mut names: Vec<String> = e["detail"]["reviewers"]
            .as_array()
            .map(|a| a.iter().map(|r| r.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        asked("Approval Requested", decided.id),
        ["alice", "bob", "dana"]
    );
    assert!(asked("Approval Decided", decided.id).is_empty());
    assert_eq!(asked("Approval Requested", escalated.id), ["alice"]);
    assert_eq!(
        asked("Approval Escalated", escalated.id),
        ["bob", "carol", "dana"]
    );
}
