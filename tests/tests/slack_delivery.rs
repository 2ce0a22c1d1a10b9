//! The notifier's Slack channel against the stand-in: reviewers with a Slack id get a DM; once
//! the approval leaves pending every delivered post is updated (no buttons left), a post that
//! lands after that at once; a tenant without a Slack app fails the post for good; a post
//! after the decision is skipped, an update never is.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use uuid::Uuid;

use holdpoint::delivery::embedded::EmbeddedDeliveries;
use holdpoint::delivery::send::Courier;
use holdpoint::delivery::worker::Notifier;
use holdpoint::delivery::{Channel, Delivery, DeliveryStatus, LinkMinter};
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint::events::{EventSink, LifecycleEvent, PublishError};
use holdpoint::service::Service;
use holdpoint::slack::Slack;
use holdpoint::slack::api::SlackApi;
use holdpoint::slack::connection::{BotToken, SlackConnection, SlackConnections, StaticSlack};
use holdpoint::slack::signature::SigningSecret;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint::store::{Store, StoreError};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::retry::RetryPolicy;
use holdpoint_core::time::Clock;
use holdpoint_tests::slack::{Scripted, StandIn};

const TOKEN: &str = "xoxb-acme-bot-token";

#[derive(Default)]
struct Kept(Mutex<Vec<LifecycleEvent>>);

#[async_trait]
impl EventSink for Kept {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        self.0.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

fn connection() -> SlackConnection {
    SlackConnection {
        tenant: "acme".into(),
        team_id: Some("T0TEAM".into()),
        bot_token: BotToken::new(TOKEN).unwrap(),
        signing_secret: SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap(),
    }
}

/// The tenant's app, found only after `before` ran: what happens between the notifier's "still
/// waits?" and its post (a click deciding elsewhere).
struct Racing {
    before: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[async_trait]
impl SlackConnections for Racing {
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError> {
        let before = self.before.lock().unwrap().take();
        if let Some(before) = before {
            before.await.unwrap();
        }
        StaticSlack(vec![connection()]).get(tenant).await
    }
}

fn principal(name: &str, kind: &str) -> Principal {
    serde_json::from_value(json!({"tenant": "acme", "principal": name, "kind": kind})).unwrap()
}

struct World {
    service: Arc<Service>,
    notifier: Notifier,
    events: Arc<Kept>,
    slack: StandIn,
}

async fn world(connections: Arc<dyn SlackConnections>) -> World {
    let slack = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    for (name, user) in [("alice", "U0ALICE"), ("bob", "U0BOB")] {
        let e: Entry = serde_json::from_value(json!({
            "tenant": "acme", "name": name, "roles": [], "kind": "human", "slack": user,
        }))
        .unwrap();
        directory.put(&e, true).await.unwrap();
    }
    let events = Arc::new(Kept::default());
    let keys = holdpoint::conformance::test_keys();
    let service = Service::new(
        store.clone(),
        keys.clone(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory.clone())
    .with_events(events.clone(), "https://unused.example");
    let api = SlackApi::new(&slack.url()).unwrap();
    let courier = Courier::new(
        directory.clone(),
        None,
        true,
        Some(Arc::new(Slack { connections, api })),
    )
    .unwrap();
    let log = Arc::new(EmbeddedDeliveries::open(&dir).unwrap());
    let links = LinkMinter::new(store, keys, BaseUrl::fixed("https://hp.example/"));
    let notifier = Notifier::new(log, courier, directory, RetryPolicy::default(), links);
    World {
        service: Arc::new(service),
        notifier,
        events,
        slack,
    }
}

impl World {
    async fn request(&self) -> (Uuid, Vec<Delivery>) {
        let request = serde_json::from_value(json!({
            "action": "Pay invoice 118", "agent_id": "ap", "reviewers": ["alice", "bob"],
        }))
        .unwrap();
        let (a, _) = self
            .service
            .create(&principal("agent", "agent"), request, None)
            .await
            .unwrap();
        let event = self.last_event();
        let kept = self.notifier.keep(&[event]).await.unwrap();
        (a.id, kept)
    }

    fn last_event(&self) -> LifecycleEvent {
        self.events.0.lock().unwrap().last().unwrap().clone()
    }

    async fn approve(service: &Service, id: Uuid) {
        let bob = principal("bob", "human");
        let decide = Command::Decide {
            by: &bob,
            verdict: Verdict::Approved,
            comment: None,
            modified_output: None,
        };
        service.apply("acme", id, decide).await.unwrap();
    }
}

fn no_buttons(body: &serde_json::Value) {
    let text = body.to_string();
    assert!(
        !text.contains("\"actions\"") && !text.contains("holdpoint_approve"),
        "{text}"
    );
}

#[tokio::test]
async fn every_delivered_post_is_updated_once_the_approval_is_decided() {
    let w = world(Arc::new(StaticSlack(vec![connection()]))).await;
    let (id, kept) = w.request().await;
    let mut posts = Vec::new();
    for d in kept {
        let d = w.notifier.attempt(d).await;
        assert_eq!(d.status, DeliveryStatus::Delivered, "{d:?}");
        assert_eq!(
            d.message, None,
            "the buttons' values are not kept once delivered"
        );
        assert!(d.receipt.is_some());
        // Never shown: a DM's id is nobody's business.
        let public = d.public().to_string();
        assert!(
            !public.contains("DU0") && !public.contains("receipt"),
            "{public}"
        );
        posts.push(d);
    }
    assert_eq!(w.slack.posts().len(), 2);
    for call in w.slack.calls() {
        assert_eq!(call.token.as_deref(), Some(TOKEN));
    }

    World::approve(&w.service, id).await;
    let decided = w.notifier.keep(&[w.last_event()]).await.unwrap();
    let updates: Vec<_> = decided
        .into_iter()
        .filter(|d| d.channel == Channel::Slack)
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    for u in updates {
        let u = w.notifier.attempt(u).await;
        assert_eq!(u.status, DeliveryStatus::Delivered, "never skipped: {u:?}");
    }
    for post in w.slack.posts() {
        let calls = w.slack.updates_of(&post);
        assert_eq!(calls.len(), 1, "{post:?}");
        no_buttons(&calls[0].body);
        assert!(
            calls[0].body["text"]
                .as_str()
                .unwrap()
                .contains("Approved by bob")
        );
    }
    // What the requester sees lists them.
    let listed = w.notifier.log().of_approval("acme", id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|d| d.channel == Channel::Slack)
            .count(),
        4
    );
}

#[tokio::test]
async fn a_post_that_lands_after_the_decision_is_updated_at_once() {
    let racing = Arc::new(Racing {
        before: Mutex::new(None),
    });
    let w = world(racing.clone()).await;
    let (id, kept) = w.request().await;
    let post = kept.into_iter().find(|d| d.recipient == "alice").unwrap();
    // Bob decides after the notifier found the approval waiting, before alice's post lands.
    let service = w.service.clone();
    *racing.before.lock().unwrap() = Some(tokio::spawn(async move {
        World::approve(&service, id).await;
    }));
    let post = w.notifier.attempt(post).await;
    assert_eq!(post.status, DeliveryStatus::Delivered);
    let landed = &w.slack.posts_to("U0ALICE")[0];
    let calls = w.slack.updates_of(landed);
    assert_eq!(calls.len(), 1, "updated before the attempt returned");
    no_buttons(&calls[0].body);
    let update = w
        .notifier
        .log()
        .get(
            "acme",
            id,
            &format!("{}.slack-update.{}", post.event_id, post.id),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(update.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn a_post_after_the_decision_is_skipped() {
    let w = world(Arc::new(StaticSlack(vec![connection()]))).await;
    let (id, kept) = w.request().await;
    World::approve(&w.service, id).await;
    for d in kept {
        let d = w.notifier.attempt(d).await;
        assert_eq!(d.status, DeliveryStatus::Skipped);
        assert_eq!(d.message, None);
    }
    assert!(w.slack.calls().is_empty(), "{:?}", w.slack.calls());
}

#[tokio::test]
async fn a_tenant_without_a_slack_app_fails_the_post_for_good() {
    let w = world(Arc::new(StaticSlack(vec![]))).await;
    let (_, kept) = w.request().await;
    for d in kept {
        let d = w.notifier.attempt(d).await;
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(
            d.last_error.as_deref(),
            Some("no Slack app is connected for this tenant")
        );
        assert_eq!(d.message, None);
    }
    assert!(w.slack.calls().is_empty());
}

#[tokio::test]
async fn a_late_posts_update_that_fails_is_the_invocations_to_finish_and_planned_again() {
    let racing = Arc::new(Racing {
        before: Mutex::new(None),
    });
    let w = world(racing.clone()).await;
    let (id, kept) = w.request().await;
    let requested = w.events.0.lock().unwrap()[0].clone();
    let post = kept.into_iter().find(|d| d.recipient == "alice").unwrap();
    let service = w.service.clone();
    *racing.before.lock().unwrap() = Some(tokio::spawn(async move {
        World::approve(&service, id).await;
    }));
    w.slack
        .fail_next("chat.update", 1, Scripted::Error("internal_error"));
    // The notify function's way: the late post's update comes back with the post, pending.
    // Room for one attempt (its timeout) and not for the retry after the first backoff
    // (at least half a second): the invocation ends with the update pending.
    let room = holdpoint::delivery::send::ATTEMPT_TIMEOUT + std::time::Duration::from_millis(200);
    let deadline = std::time::Instant::now() + room;
    let all = w.notifier.deliver_until(vec![post.clone()], deadline).await;
    let update_id = format!("{}.slack-update.{}", post.event_id, post.id);
    let update = all.iter().find(|d| d.id == update_id).expect("returned");
    assert_eq!(update.status, DeliveryStatus::Pending, "{update:?}");
    assert_eq!(update.last_error.as_deref(), Some("slack: internal_error"));

    // Its event planned again (Lambda retries the invocation): the update is owed still.
    let again = w.notifier.keep(&[requested]).await.unwrap();
    let update = again
        .into_iter()
        .find(|d| d.id == update_id)
        .expect("planned again");
    let update = w.notifier.attempt(update).await;
    assert_eq!(update.status, DeliveryStatus::Delivered);
    let landed = &w.slack.posts_to("U0ALICE")[0];
    assert_eq!(
        w.slack.updates_of(landed).len(),
        2,
        "refused once, then updated"
    );
}
