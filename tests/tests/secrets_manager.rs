//! The signing key in Secrets Manager (on the local protocol server): a rotation keeps old records
//! verifying, and a missing or unusable key makes the service refuse instead of signing anyway.

use std::sync::Arc;
use std::time::Duration;

use holdpoint::keys::secrets_manager::SecretsManagerKeys;
use holdpoint::service::{Service, ServiceError};
use holdpoint::store::Store;
use holdpoint_core::domain::approval::{Status, Verdict};
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::keys::KeyProvider;
use holdpoint_core::time::Clock;
use holdpoint_tests::acme as who;

async fn client() -> aws_sdk_secretsmanager::Client {
    holdpoint_tests::endpoint();
    aws_sdk_secretsmanager::Client::new(&holdpoint::store::dynamodb::sdk_config().await)
}

fn request() -> CreateRequest {
    serde_json::from_value(serde_json::json!({
        "action": "Transfer 250 EUR to supplier 77",
        "agent_id": "payments-agent",
        "reviewers": ["alice"],
    }))
    .unwrap()
}

#[tokio::test]
async fn a_rotation_keeps_earlier_records_verifying() {
    let secret = holdpoint_tests::signing_secret().await;
    let sm = client().await;
    // No caching of the current version, so the rotation is seen at once.
    let keys = Arc::new(SecretsManagerKeys::new(sm.clone(), &secret, Duration::ZERO));
    let (store, _) = holdpoint_tests::fresh_store().await;
    let store = Arc::new(store);
    let service = Service::new(
        store.clone(),
        keys.clone(),
        Clock::system(),
        ExpiryBounds::default(),
    );

    let first = keys.current().await.unwrap();
    let (a, _) = service
        .create(&who("agent"), request(), None)
        .await
        .unwrap();

    sm.put_secret_value()
        .secret_id(&secret)
        .secret_string("a-brand-new-signing-key-of-forty-eight-characters")
        .send()
        .await
        .unwrap();
    let second = keys.current().await.unwrap();
    assert_ne!(first.id, second.id, "the new version signs");

    let alice = who("alice");
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    };
    let approved = service.apply("acme", a.id, decide).await.unwrap();
    assert_eq!(approved.status, Status::Approved);

    let (records, verification) = service.audit(&who("agent"), a.id).await.unwrap();
    assert_eq!(records[0].key_id, first.id);
    assert_eq!(records[1].key_id, second.id);
    assert!(verification.valid, "{verification:?}");

    // A fresh process (empty cache) still finds the previous version by its id.
    let cold = SecretsManagerKeys::new(sm, &secret, Duration::from_secs(300));
    let old = cold
        .by_id(&first.id)
        .await
        .unwrap()
        .expect("previous version");
    assert!(old.verify(records[0].hash.as_bytes(), &records[0].signature));
    assert!(cold.by_id("not-a-version").await.unwrap().is_none());
}

#[tokio::test]
async fn no_key_means_no_change() {
    let sm = client().await;
    let (store, _) = holdpoint_tests::fresh_store().await;
    let store = Arc::new(store);

    let missing = SecretsManagerKeys::new(sm.clone(), "holdpoint-no-such-secret", Duration::ZERO);
    let service = Service::new(
        store.clone(),
        Arc::new(missing),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let refused = service.create(&who("agent"), request(), None).await;
    assert!(
        matches!(refused, Err(ServiceError::KeyUnavailable(_))),
        "{refused:?}"
    );

    let short = format!("short-{}", uuid::Uuid::new_v4().simple());
    sm.create_secret()
        .name(&short)
        .secret_string("too-short")
        .send()
        .await
        .unwrap();
    let weak = SecretsManagerKeys::new(sm, &short, Duration::ZERO);
    let service = Service::new(
        store.clone(),
        Arc::new(weak),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let refused = service.create(&who("agent"), request(), None).await;
    let Err(ServiceError::KeyUnavailable(message)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert!(
        !message.contains("too-short"),
        "the secret never appears in errors: {message}"
    );

    let page = store
        .list("acme", &Default::default(), 10, None, chrono::Utc::now())
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing was written");
}
