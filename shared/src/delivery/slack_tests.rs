//! Planning Slack posts and their updates: buttons signed for exactly one reviewer, approval
//! and choice; the approval named by the actions block; an update for each delivered post only.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};

use super::*;
use crate::delivery::{LinkMinter, plan};
use crate::directory::embedded::EmbeddedDirectory;
use crate::directory::{Directory, Entry};
use crate::events::{EventSink, PublishError};
use crate::service::Service;
use crate::slack::blocks::approval_of_block;
use crate::slack::button::{self, ButtonRefusal, Choice, Click};
use crate::store::Store;
use crate::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::time::Clock;

#[derive(Default)]
struct Kept(Mutex<Vec<LifecycleEvent>>);

#[async_trait]
impl EventSink for Kept {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        self.0.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

fn entry(name: &str, slack: Option<&str>) -> Entry {
    serde_json::from_value(json!({
        "tenant": "acme", "name": name, "roles": [], "kind": "human", "slack": slack,
    }))
    .unwrap()
}

fn principal(name: &str, kind: &str) -> Principal {
    serde_json::from_value(json!({"tenant": "acme", "principal": name, "kind": kind})).unwrap()
}

struct World {
    service: Service,
    directory: Arc<dyn Directory>,
    links: LinkMinter,
    events: Arc<Kept>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    for e in [entry("alice", Some("U0ALICE")), entry("bob", None)] {
        directory.put(&e, true).await.unwrap();
    }
    let events = Arc::new(Kept::default());
    let keys = crate::conformance::test_keys();
    let service = Service::new(
        store.clone(),
        keys.clone(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory.clone())
    .with_events(events.clone(), "https://unused.example");
    let links = LinkMinter::new(store, keys, BaseUrl::fixed("https://hp.example/"));
    World {
        service,
        directory,
        links,
        events,
    }
}

async fn requested(w: &World) -> (Approval, LifecycleEvent) {
    let request = serde_json::from_value(json!({
        "action": "Pay invoice 118", "agent_id": "ap", "reviewers": ["alice", "bob"],
    }))
    .unwrap();
    let (a, _) = w
        .service
        .create(&principal("agent", "agent"), request, None)
        .await
        .unwrap();
    let event = w.events.0.lock().unwrap()[0].clone();
    (a, event)
}

fn actions(post: &Value) -> &Value {
    post["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("an actions block")
}

#[tokio::test]
async fn a_reviewer_with_a_slack_id_gets_buttons_for_them_alone_on_this_approval() {
    let w = world().await;
    let (a, event) = requested(&w).await;
    let now = Utc::now();
    let planned = plan(&event, w.directory.as_ref(), &w.links, now)
        .await
        .unwrap();
    let slack: Vec<_> = planned
        .iter()
        .filter(|d| d.channel == Channel::Slack)
        .collect();
    assert_eq!(slack.len(), 1, "bob has no Slack id: {planned:?}");
    let d = slack[0];
    assert_eq!(
        (d.id.as_str(), d.recipient.as_str(), d.target.as_str()),
        (
            format!("{}.slack.alice", event.detail.event_id).as_str(),
            "alice",
            "U0ALICE"
        )
    );
    assert_eq!(d.status, DeliveryStatus::Pending);
    let Some(Message::Slack { post }) = &d.message else {
        panic!("{:?}", d.message)
    };
    let block = actions(post);
    assert_eq!(
        block["block_id"],
        format!("holdpoint_decide.{}", a.id).as_str()
    );
    assert_eq!(
        approval_of_block(block["block_id"].as_str().unwrap()),
        Some(a.id)
    );
    let value = |action: &str| {
        block["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action_id"] == action)
            .and_then(|e| e["value"].as_str())
            .unwrap()
            .to_owned()
    };
    let (approve, reject) = (value("holdpoint_approve"), value("holdpoint_reject"));
    let keys = crate::conformance::test_keys();
    let mut instances = std::collections::HashMap::new();
    for name in ["alice", "bob"] {
        let e = w.directory.get("acme", name).await.unwrap().unwrap();
        instances.insert(name, e.instance);
    }
    let click = |principal, approval, choice| Click {
        tenant: "acme",
        approval,
        principal,
        instance: instances[principal],
        choice,
    };
    let verify = async |v: &str, c: Click<'_>| button::verify(keys.as_ref(), v, &c, now).await;
    let ok = verify(&approve, click("alice", a.id, Choice::Approve))
        .await
        .unwrap();
    assert_eq!((ok.principal.as_str(), ok.approval), ("alice", a.id));
    verify(&reject, click("alice", a.id, Choice::Reject))
        .await
        .unwrap();
    // Attacker tries: alice's buttons clicked by bob, on another approval, as the other choice.
    // Alice removed and added again is another principal: her old values are dead.
    let alice_again = Click {
        instance: Some(uuid::Uuid::new_v4()),
        ..click("alice", a.id, Choice::Approve)
    };
    for (v, c) in [
        (&approve, alice_again),
        (&approve, click("bob", a.id, Choice::Approve)),
        (
            &approve,
            click("alice", uuid::Uuid::new_v4(), Choice::Approve),
        ),
        (&approve, click("alice", a.id, Choice::Reject)),
        (&reject, click("alice", a.id, Choice::Approve)),
    ] {
        assert_eq!(verify(v, c).await, Err(ButtonRefusal::Mismatch));
    }
    // "Open in browser" is alice's own review link.
    let open = block["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action_id"] == "holdpoint_open")
        .unwrap();
    let url = open["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("https://hp.example/review/{}?token=", a.id)),
        "{url}"
    );

    // Planned again (a republished event): the same ids, so what is kept stands.
    let again = plan(&event, w.directory.as_ref(), &w.links, now)
        .await
        .unwrap();
    let ids = |ds: &[Delivery]| ds.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&planned), ids(&again));
}

#[tokio::test]
async fn nobody_is_asked_in_slack_once_the_approval_is_decided() {
    let w = world().await;
    let (a, event) = requested(&w).await;
    let bob = principal("bob", "human");
    let decide = Command::Decide {
        by: &bob,
        verdict: Verdict::Rejected,
        comment: Some("not this one".into()),
        modified_output: None,
    };
    w.service.apply("acme", a.id, decide).await.unwrap();
    let planned = plan(&event, w.directory.as_ref(), &w.links, Utc::now())
        .await
        .unwrap();
    let d = planned
        .iter()
        .find(|d| d.channel == Channel::Slack)
        .unwrap();
    assert_eq!((d.status, &d.message), (DeliveryStatus::Skipped, &None));
}

/// A Slack post of `event` to `who`, as kept after `status`.
fn post(event: &LifecycleEvent, who: &str, status: DeliveryStatus, ts: Option<&str>) -> Delivery {
    let now = Utc::now();
    let mut d = Delivery {
        id: format!("{}.slack.{who}", event.detail.event_id),
        tenant: "acme".into(),
        approval_id: event.detail.approval_id,
        event_id: event.detail.event_id.clone(),
        event_type: "approval.review_requested".into(),
        channel: Channel::Slack,
        recipient: who.into(),
        target: format!("U0{}", who.to_uppercase()),
        status,
        attempts: 1,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: Some(now),
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: None,
        receipt: ts.map(|ts| Posted {
            channel: format!("D{who}"),
            ts: ts.into(),
        }),
    };
    if status == DeliveryStatus::Pending {
        d.message = Some(Message::Slack { post: json!({}) });
    }
    d
}

#[tokio::test]
async fn a_decision_updates_every_delivered_post_without_buttons_and_nothing_else() {
    let w = world().await;
    let (a, requested_event) = requested(&w).await;
    let alice = principal("alice", "human");
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    let decided = w.service.apply("acme", a.id, decide).await.unwrap();
    let decision = w.events.0.lock().unwrap().last().unwrap().clone();
    assert!(ends_asking(&decision) && !ends_asking(&requested_event));

    let mut webhook = post(&requested_event, "carol", DeliveryStatus::Delivered, None);
    webhook.channel = Channel::Webhook;
    let kept = [
        post(
            &requested_event,
            "alice",
            DeliveryStatus::Delivered,
            Some("1.1"),
        ),
        post(&requested_event, "bob", DeliveryStatus::Pending, None),
        post(&requested_event, "dave", DeliveryStatus::Failed, None),
        webhook,
    ];
    let message = answer(&decided, Utc::now()).unwrap();
    let text = message.to_string();
    assert!(
        text.contains("Approved") && text.contains("by alice"),
        "{text}"
    );
    assert!(
        !text.contains("\"actions\"") && !text.contains("\"button\""),
        "{text}"
    );

    let updates = updates(&decision, &kept, &message, Utc::now());
    assert_eq!(updates.len(), 1, "{updates:?}");
    let u = &updates[0];
    assert_eq!(
        u.id,
        format!(
            "{}.slack-update.{}.slack.alice",
            decision.detail.event_id, requested_event.detail.event_id
        )
    );
    assert_eq!(
        (u.channel, u.status, u.recipient.as_str()),
        (Channel::Slack, DeliveryStatus::Pending, "alice")
    );
    assert!(is_update(u));
    assert_eq!(
        u.message,
        Some(Message::SlackUpdate {
            posted: Posted {
                channel: "Dalice".into(),
                ts: "1.1".into()
            },
            post: message.clone()
        })
    );
    // An update delivered is no post of its own: nothing updates it again.
    let mut done = u.clone();
    done.status = DeliveryStatus::Delivered;
    done.receipt = Some(Posted {
        channel: "Dalice".into(),
        ts: "1.1".into(),
    });
    assert!(delivered_post(&done).is_none());
    // Planned again: the same id.
    let again = super::updates(&decision, &kept, &message, Utc::now());
    assert_eq!(again[0].id, u.id);
}

#[tokio::test]
async fn an_expired_approval_is_told_as_expired_by_nobody_and_a_cancelled_one_by_its_canceller() {
    let w = world().await;
    let (a, _) = requested(&w).await;
    let later = a.expires_at + chrono::TimeDelta::seconds(1);
    let text = answer(&a, later).unwrap().to_string();
    assert!(text.contains("Expired") && !text.contains(" by "), "{text}");
    assert!(
        answer(&a, Utc::now()).is_err(),
        "a pending approval has no answer"
    );
    let agent = principal("agent", "agent");
    let cancel = Command::Cancel {
        by: &agent,
        reason: None,
    };
    let cancelled = w.service.apply("acme", a.id, cancel).await.unwrap();
    let text = answer(&cancelled, Utc::now()).unwrap().to_string();
    assert!(text.contains("Cancelled by agent"), "{text}");
}
