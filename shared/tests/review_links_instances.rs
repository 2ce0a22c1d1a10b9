//! A review link is bound to the directory instance of its reviewer: removing a principal ends
//! its links, and adding one again under the same name (in any case, were it allowed) does not
//! bring them back, while the links minted for the new principal work. A key rotation is the
//! same principal: its links stay.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use holdpoint::delivery::{LinkMinter, Message, plan};
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry, key_hash};
use holdpoint::events::{EventSink, LifecycleEvent, PublishError};
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::{Service, ServiceError};
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::domain::review_link::{BaseUrl, LinkRefusal};
use holdpoint_core::time::Clock;

/// Keeps what it is given.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<LifecycleEvent>>);

#[async_trait::async_trait]
impl EventSink for Kept {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        self.0.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

fn entry(name: &str, roles: &[&str]) -> Entry {
    serde_json::from_value(json!({
        "tenant": "acme", "name": name, "roles": roles,
        "webhook": format!("https://hooks.example/{name}"),
        "key_hash": key_hash(&format!("{name}-first-key-0123456789")),
    }))
    .unwrap()
}

struct Fixture {
    router: Router,
    service: Service,
    store: Arc<dyn Store>,
    directory: Arc<dyn Directory>,
    events: Arc<Kept>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    for e in [entry("alice", &[]), entry("bob", &["finance"])] {
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
    let keys = json!({"agent-key-0000000000": {"tenant": "acme", "principal": "agent"}});
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys.to_string()).unwrap()),
    };
    Fixture {
        router: app(state, &Routes::ALL),
        service,
        store,
        directory,
        events,
    }
}

async fn create(f: &Fixture) -> Approval {
    let agent: Principal =
        serde_json::from_value(json!({"tenant": "acme", "principal": "agent", "kind": "agent"}))
            .unwrap();
    let request = serde_json::from_value(json!({
        "action": "Pay invoice 120", "agent_id": "ap",
        "reviewers": ["alice", "role:finance"], "quorum": 2,
    }))
    .unwrap();
    f.service.create(&agent, request, None).await.unwrap().0
}

/// The token of `reviewer`'s link, as the notifier mints it for their message now.
async fn minted(f: &Fixture, reviewer: &str) -> String {
    let requested = f.events.0.lock().unwrap()[0].clone();
    let links = LinkMinter::new(
        f.store.clone(),
        holdpoint::conformance::test_keys(),
        BaseUrl::fixed("https://hp.example"),
    );
    let planned = plan(&requested, f.directory.as_ref(), &links, chrono::Utc::now())
        .await
        .unwrap();
    let d = planned.iter().find(|d| d.recipient == reviewer).unwrap();
    let Some(Message::Webhook { body }) = &d.message else {
        panic!("no webhook for {reviewer}: {d:?}");
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let url = body["data"]["review_url"].as_str().unwrap();
    url.split("token=").nth(1).unwrap().to_owned()
}

/// The token of `reviewer`'s link as an operator is handed it (`holdpoint links`).
async fn handed(f: &Fixture, a: &Approval, reviewer: &str) -> String {
    let links = f
        .service
        .review_links(a, "https://hp.example")
        .await
        .unwrap();
    let (_, url) = links.into_iter().find(|(r, _)| r == reviewer).unwrap();
    url.split("token=").nth(1).unwrap().to_owned()
}

fn invalid(r: Result<impl std::fmt::Debug, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::Link(LinkRefusal::Invalid)))
}

/// What the review page answers for `token`.
async fn page(f: &Fixture, a: &Approval, token: &str) -> StatusCode {
    let req = Request::get(format!("/review/{}?token={token}", a.id))
        .body(Body::empty())
        .unwrap();
    f.router.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn links_minted_before_a_remove_and_re_add_are_refused_after_and_new_ones_work() {
    let f = fixture().await;
    let a = create(&f).await;
    let (alice_old, bob_old) = (minted(&f, "alice").await, minted(&f, "bob").await);
    let alice_handed = handed(&f, &a, "alice").await;
    assert_eq!(page(&f, &a, &alice_old).await, StatusCode::OK);

    // Attacker try: alice is removed (she left) and someone new is added under her name.
    assert!(f.directory.remove("acme", "alice").await.unwrap());
    f.directory.put(&entry("alice", &[]), true).await.unwrap();
    // And bob rotates his key: the same person, whose links stay.
    let mut bob = f.directory.get("acme", "bob").await.unwrap().unwrap();
    bob.key_hash = Some(key_hash("bob-second-key-0123456789"));
    f.directory.put(&bob, false).await.unwrap();

    for old in [&alice_old, &alice_handed] {
        assert!(invalid(f.service.verify_link(a.id, old).await), "{old}");
        assert!(invalid(f.service.open_review(a.id, old).await));
        assert_eq!(page(&f, &a, old).await, StatusCode::FORBIDDEN);
        let approved = serde_json::from_value(json!("approved")).unwrap();
        let decided = f.service.decide_by_link(a.id, old, approved, None, None);
        assert!(invalid(decided.await), "the old link decides nothing");
    }
    let stored = f.store.get("acme", a.id).await.unwrap().unwrap();
    assert!(stored.approvals.is_empty(), "{:?}", stored.approvals);

    // The new alice's links, and bob's from before his rotation, decide.
    let alice_new = minted(&f, "alice").await;
    assert_ne!(alice_new, alice_old);
    assert_eq!(page(&f, &a, &alice_new).await, StatusCode::OK);
    assert_eq!(
        page(&f, &a, &handed(&f, &a, "alice").await).await,
        StatusCode::OK
    );
    for token in [&alice_new, &bob_old] {
        let approved = serde_json::from_value(json!("approved")).unwrap();
        f.service
            .decide_by_link(a.id, token, approved, None, None)
            .await
            .unwrap_or_else(|e| panic!("{token} decides: {e}"));
    }
    let decided = f.store.get("acme", a.id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(decided.status).unwrap(), "approved");
}
