//! A request a rule settles is stored, then settled in a second write. Should that write fail
//! (a fault the embedded store cannot produce on demand, so a store that fails it once stands in
//! for it), the request asks nobody, and the agent's retry with its idempotency key settles it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use holdpoint::directory::policy::embedded::EmbeddedPolicies;
use holdpoint::service::{Service, ServiceError};
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint::store::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::{AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::time::Clock;

/// The embedded store, failing its next transition once when told to.
struct FailingOnce {
    inner: EmbeddedStore,
    fail_next: AtomicBool,
}

#[async_trait]
impl Store for FailingOnce {
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        self.inner.create(approval, record, idempotency).await
    }
    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.inner.get(tenant, id).await
    }
    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        self.inner.list(tenant, filter, limit, after, now).await
    }
    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("throttled".into()));
        }
        self.inner.transition(expected_version, next, record).await
    }
    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError> {
        self.inner.mark_published(approval).await
    }
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        self.inner.due(now, limit).await
    }
    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(tenant, id).await
    }
}

fn who(name: &str, roles: &[&str]) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        kind: Default::default(),
    }
}

const POLICY: &str = r#"rules:
  - id: no-deletes
    match: {action: "*delete*"}
    outcome: deny
  - id: reads
    match: {action: "read *"}
    outcome: allow
"#;

#[tokio::test]
async fn a_retry_settles_what_a_failed_write_left_asking_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FailingOnce {
        inner: EmbeddedStore::open(dir.path()).unwrap(),
        fail_next: AtomicBool::new(false),
    });
    let service = Service::new(
        store.clone(),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_policies(Arc::new(EmbeddedPolicies::open(dir.path()).unwrap()));
    service
        .set_policy(&who("root", &["admin"]), POLICY, None)
        .await
        .unwrap();
    let agent = who("agent", &[]);

    for (action, event) in [
        ("delete the orders table", AuditEvent::Rejected),
        ("read the orders table", AuditEvent::Approved),
    ] {
        let request = CreateRequest::new(action, "bot", ["alice"]);
        let body = serde_json::to_vec(&request).unwrap();
        let key = format!("key-{}", action.len());
        store.fail_next.store(true, Ordering::SeqCst);
        let first = service
            .create(&agent, request.clone(), Some((&key, &body)))
            .await;
        assert!(
            matches!(first, Err(ServiceError::Unavailable(_))),
            "{first:?}"
        );
        // What the failed settling left: stored, asking nobody, so nobody can decide it.
        let page = service
            .list(&agent, &ListFilter::default(), 10, None)
            .await
            .unwrap();
        let left = page.items.iter().find(|a| a.action == action).unwrap();
        assert_eq!((left.status, left.reviewers.len()), (Status::Pending, 0));

        let retried = service.create(&agent, request, Some((&key, &body))).await;
        let id = match (&retried, event) {
            (Err(ServiceError::Policy(_)), AuditEvent::Rejected) => left.id,
            (Ok((a, false)), AuditEvent::Approved) => {
                assert_eq!(a.status, Status::Approved);
                a.id
            }
            other => panic!("{other:?}"),
        };
        let (records, verification) = service.audit(&agent, id).await.unwrap();
        let events: Vec<_> = records.iter().map(|r| r.event).collect();
        assert_eq!(events, [AuditEvent::Created, event], "{action}");
        assert!(verification.valid, "{verification:?}");
    }
}
