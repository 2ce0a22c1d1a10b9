//! Each reviewer's link is minted as their message is planned, from the approval as stored:
//! the event names reviewers and carries no link. A named reviewer's link and a role member's
//! decide; a principal the approval does not ask (named by a forged or stale event) or an agent
//! gets none; without a key nothing is planned, to be planned again later.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use holdpoint::delivery::{DeliveryStatus, LinkMinter, Message, plan};
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint::events::{EventSink, LifecycleEvent, PublishError};
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::keys::{Key, KeyError, KeyProvider};
use holdpoint_core::time::Clock;

/// Keeps what it is given.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<LifecycleEvent>>);

#[async_trait]
impl EventSink for Kept {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        self.0.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

/// A key source that cannot be read now.
struct NoKey;

#[async_trait]
impl KeyProvider for NoKey {
    async fn current(&self) -> Result<Key, KeyError> {
        Err(KeyError::Unavailable("the secret cannot be read".into()))
    }
    async fn by_id(&self, _: &str) -> Result<Option<Key>, KeyError> {
        Err(KeyError::Unavailable("the secret cannot be read".into()))
    }
}

fn entry(name: &str, roles: &[&str], kind: &str) -> Entry {
    serde_json::from_value(json!({
        "tenant": "acme", "name": name, "roles": roles, "kind": kind,
        "webhook": format!("https://hooks.example/{name}"),
    }))
    .unwrap()
}

struct Fixture {
    service: Service,
    store: Arc<dyn Store>,
    directory: Arc<dyn Directory>,
    events: Arc<Kept>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    for e in [
        entry("alice", &[], "human"),
        entry("bob", &["finance"], "human"),
        entry("mallory", &["sales"], "human"),
        entry("fin-bot", &["finance"], "agent"),
    ] {
        directory.put(&e, true).await.unwrap();
    }
    let events = Arc::new(Kept::default());
    let service = Service::new(
        store.clone(),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory.clone())
    .with_events(events.clone(), "https://unused.example");
    Fixture {
        service,
        store,
        directory,
        events,
    }
}

fn agent() -> Principal {
    serde_json::from_value(json!({"tenant": "acme", "principal": "agent", "kind": "agent"}))
        .unwrap()
}

/// The link in a planned webhook to `reviewer`.
fn link_to(planned: &[holdpoint::delivery::Delivery], reviewer: &str) -> Option<String> {
    let d = planned.iter().find(|d| d.recipient == reviewer)?;
    let Some(Message::Webhook { body }) = &d.message else {
        return None;
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    body["data"]["review_url"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_named_reviewer_and_a_role_member_get_links_that_decide_and_nobody_else_does() {
    let f = fixture().await;
    let request = serde_json::from_value(json!({
        "action": "Pay invoice 118", "agent_id": "ap",
        "reviewers": ["alice", "role:finance"], "quorum": 2,
    }))
    .unwrap();
    let (a, _) = f.service.create(&agent(), request, None).await.unwrap();
    let mut requested = f.events.0.lock().unwrap()[0].clone();
    // The agent is never asked, and the event carries names only.
    assert_eq!(requested.detail.reviewers, ["alice", "bob"]);
    let text = serde_json::to_string(&requested).unwrap();
    assert!(
        !text.contains("token=") && !text.contains("/review/"),
        "{text}"
    );

    // Attacker try: the event rewritten to name a principal the approval does not ask, and an
    // agent holding its role.
    requested
        .detail
        .reviewers
        .extend(["mallory".into(), "fin-bot".into()]);
    let links = LinkMinter::new(
        f.store.clone(),
        holdpoint::conformance::test_keys(),
        BaseUrl::fixed("https://hp.example/"),
    );
    let planned = plan(&requested, f.directory.as_ref(), &links, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(planned.len(), 4, "{planned:?}");
    for outsider in ["mallory", "fin-bot"] {
        let d = planned.iter().find(|d| d.recipient == outsider).unwrap();
        assert_eq!(d.status, DeliveryStatus::Skipped, "{d:?}");
        assert!(d.message.is_none(), "no link minted for {outsider}");
    }
    let prefix = format!("https://hp.example/review/{}?token=", a.id);
    let alice = link_to(&planned, "alice").unwrap();
    let bob = link_to(&planned, "bob").unwrap();
    assert!(
        alice.starts_with(&prefix) && bob.starts_with(&prefix),
        "{alice} {bob}"
    );
    assert_ne!(alice, bob);

    for link in [&alice, &bob] {
        let token = link.split("token=").nth(1).unwrap();
        let approved = serde_json::from_value(json!("approved")).unwrap();
        f.service
            .decide_by_link(a.id, token, approved, None, None)
            .await
            .unwrap_or_else(|e| panic!("{link} decides: {e}"));
    }
    let decided = f.store.get("acme", a.id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(decided.status).unwrap(), "approved");

    // Decided: a late plan of the same event asks nobody.
    let late = plan(&requested, f.directory.as_ref(), &links, chrono::Utc::now())
        .await
        .unwrap();
    assert!(
        late.iter()
            .all(|d| d.status == DeliveryStatus::Skipped && d.message.is_none()),
        "{late:?}"
    );
}

#[tokio::test]
async fn without_a_key_nothing_is_planned_and_planning_is_retried() {
    let f = fixture().await;
    let request = serde_json::from_value(json!({
        "action": "Pay invoice 119", "agent_id": "ap", "reviewers": ["alice"],
    }))
    .unwrap();
    f.service.create(&agent(), request, None).await.unwrap();
    let requested = f.events.0.lock().unwrap()[0].clone();
    let keyless = LinkMinter::new(
        f.store.clone(),
        Arc::new(NoKey),
        BaseUrl::fixed("https://hp.example"),
    );
    let refused = plan(
        &requested,
        f.directory.as_ref(),
        &keyless,
        chrono::Utc::now(),
    )
    .await
    .expect_err("no link without a key");
    assert!(refused.is_retryable(), "{refused}");
    let unknown = LinkMinter::new(
        f.store.clone(),
        holdpoint::conformance::test_keys(),
        BaseUrl::learned(),
    );
    let refused = plan(
        &requested,
        f.directory.as_ref(),
        &unknown,
        chrono::Utc::now(),
    )
    .await
    .expect_err("no link without a base URL");
    assert!(refused.is_retryable(), "{refused}");
}
