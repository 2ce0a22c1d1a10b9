//! The real worker ([`Notifier::run`]) of two instances on one database, against a receiver
//! that verifies each request: every callback is delivered once, though each answers 503 three
//! times first (`flaky3`), so after each failure its claim is released and whichever instance
//! reads the queue next may take it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use holdpoint::delivery::send::Courier;
use holdpoint::delivery::worker::Notifier;
use holdpoint::delivery::{Delivery, DeliveryLog, DeliveryStatus, LinkMinter};
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry, new_webhook_secret};
use holdpoint::postgres::deliveries::PgDeliveries;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint::store::{Store, StoreError};
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::retry::RetryPolicy;
use holdpoint_tests::receivers::{Webhooks, eventually};
use uuid::Uuid;

use super::{instance, own_database};

/// One instance's log, counting the attempts it recorded.
struct Counted {
    log: PgDeliveries,
    attempts: Mutex<usize>,
}

#[async_trait]
impl DeliveryLog for Counted {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        self.log.enqueue(deliveries).await
    }
    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError> {
        *self.attempts.lock().unwrap() += 1;
        self.log.save(delivery).await
    }
    async fn get(&self, t: &str, a: Uuid, id: &str) -> Result<Option<Delivery>, StoreError> {
        self.log.get(t, a, id).await
    }
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.log.due(now, limit).await
    }
    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.log.due_messages(now, limit).await
    }
    async fn of_approval(&self, t: &str, a: Uuid) -> Result<Vec<Delivery>, StoreError> {
        self.log.of_approval(t, a).await
    }
    async fn recent(
        &self,
        t: Option<&str>,
        failed: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.log.recent(t, failed, limit).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_workers_deliver_each_callback_once() {
    let pg = own_database().await;
    let receiver = Webhooks::start().await;
    let secret = new_webhook_secret();
    receiver.trust("cb", &secret).await;
    let dir = tempfile::tempdir().unwrap();
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(dir.path()).unwrap());
    let agent: Entry = serde_json::from_value(serde_json::json!({
        "tenant": "t", "name": "agent", "roles": [], "kind": "agent", "webhook_secret": secret,
    }))
    .unwrap();
    directory.put(&agent, true).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let policy = RetryPolicy {
        attempts: 8,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
    };
    let callbacks: Vec<Delivery> = super::due_now(30)
        .into_iter()
        .map(|mut d| {
            d.target = receiver.url("/cb/flaky3");
            d
        })
        .collect();
    let logs: Vec<Arc<Counted>> = (0..2)
        .map(|_| {
            Arc::new(Counted {
                log: instance(&pg),
                attempts: Mutex::new(0),
            })
        })
        .collect();
    // Kept before either starts: both read a full queue at once.
    logs[0].enqueue(&callbacks).await.unwrap();
    let workers: Vec<_> = logs
        .iter()
        .map(|log| {
            let courier = Courier::new(directory.clone(), None, true, None).unwrap();
            let links = LinkMinter::new(
                store.clone(),
                holdpoint::conformance::test_keys(),
                BaseUrl::fixed("https://hp.example/"),
            );
            let notifier = Notifier::new(log.clone(), courier, directory.clone(), policy, links);
            tokio::spawn(Arc::new(notifier).run())
        })
        .collect();
    let kept = eventually(
        Duration::from_secs(60),
        async || logs[0].recent(Some("t"), false, 100).await.unwrap(),
        |all| all.iter().all(|d| d.status != DeliveryStatus::Pending),
    )
    .await;
    for w in workers {
        w.abort();
    }
    assert_eq!(kept.len(), callbacks.len());
    assert!(
        kept.iter()
            .all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 4)
    );
    // Each webhook-id: three 503s then one 200, never two attempts at once.
    let mut answers: HashMap<String, Vec<u64>> = HashMap::new();
    for request in receiver.log().await {
        assert_eq!(request["verified"], true, "{request}");
        let id = request["id"].as_str().unwrap().to_owned();
        answers
            .entry(id)
            .or_default()
            .push(request["status"].as_u64().unwrap());
    }
    assert_eq!(answers.len(), callbacks.len());
    for (id, got) in &answers {
        assert_eq!(got, &[503, 503, 503, 200], "{id}");
    }
    let split: Vec<usize> = logs.iter().map(|l| *l.attempts.lock().unwrap()).collect();
    println!("attempts recorded by each instance: {split:?}");
    assert_eq!(split.iter().sum::<usize>(), 4 * callbacks.len());
}
