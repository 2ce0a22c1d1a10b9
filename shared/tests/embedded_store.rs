//! The conformance suite on the embedded store, plus what only a file-backed store can show.

use std::sync::Arc;

use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;

async fn fresh() -> Arc<dyn Store> {
    // Leaked on purpose: the directory must outlive the test's store.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(EmbeddedStore::open(&dir).expect("open store"))
}

holdpoint::conformance_suite!(fresh());

#[tokio::test]
async fn tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn accepted_documents_survive_a_restart() {
    use holdpoint::identity::Principal;
    use holdpoint::request::{CreateRequest, ExpiryBounds};
    use holdpoint::service::Service;
    use holdpoint::time::Clock;
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let agent = Principal {
        tenant: "t".into(),
        principal: "agent".into(),
        roles: vec![],
    };
    let mut created = Vec::new();
    {
        let store = Arc::new(EmbeddedStore::open(&dir).expect("open store"));
        let service = Service::new(
            store.clone(),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        );
        for body in holdpoint::conformance::generated_bodies(11, 40) {
            let request: CreateRequest = serde_json::from_str(&body).unwrap();
            let (a, _) = service.create(&agent, request, None).await.unwrap();
            created.push(store.get("t", a.id).await.unwrap().unwrap());
        }
    }
    let reopened = EmbeddedStore::open(&dir).expect("every accepted line replays");
    for a in created {
        assert_eq!(reopened.get("t", a.id).await.unwrap(), Some(a));
    }
}
