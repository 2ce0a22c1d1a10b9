//! What every scenario starts from: keys, a clock moved by hand, tenants, principals and
//! requests, approvals made the way the service makes them.

#![allow(unused_imports)]
pub(crate) use std::sync::Arc;
pub(crate) use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) use chrono::{DateTime, TimeDelta, Utc};
pub(crate) use serde_json::json;
pub(crate) use uuid::Uuid;

pub(crate) use crate::service::{Service, ServiceError};
pub(crate) use crate::store::{Created, IdempotencyKey, ListFilter, Store, StoreError};
pub(crate) use holdpoint_core::audit::{self, AuditEvent, AuditRecord};
pub(crate) use holdpoint_core::domain::approval::{Approval, Status, Verdict};
pub(crate) use holdpoint_core::domain::identity::Principal;
pub(crate) use holdpoint_core::domain::lifecycle::{self, Command, Outcome, Refusal};
pub(crate) use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
pub(crate) use holdpoint_core::keys::{Key, KeyProvider, KeyRing};
pub(crate) use holdpoint_core::time::{Clock, truncate_millis};

/// A clock the scenarios move by hand.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Clock::from_fn(move || Utc::now() + TimeDelta::milliseconds(offset.load(Ordering::SeqCst)))
    }

    pub fn advance(&self, by: TimeDelta) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

/// The key the scenarios sign with.
pub fn test_key() -> Key {
    Key::new("conformance-key", vec![0x42; 32]).expect("a 32-byte key")
}

pub(crate) fn test_key_by_id(id: &str) -> Option<Key> {
    (id == "conformance-key").then(test_key)
}

/// A key provider holding [`test_key`].
pub fn test_keys() -> Arc<dyn KeyProvider> {
    Arc::new(KeyRing::new(test_key(), vec![]))
}

/// The service the scenarios run: `store`, the test key, `clock`, default expiry bounds.
pub(crate) fn service_on(store: &Arc<dyn Store>, clock: Clock) -> Service {
    Service::new(store.clone(), test_keys(), clock, ExpiryBounds::default())
}

pub(crate) fn tenant() -> String {
    format!("tenant-{}", Uuid::new_v4())
}

pub(crate) fn principal(tenant: &str, name: &str) -> Principal {
    Principal {
        tenant: tenant.into(),
        principal: name.into(),
        roles: vec![],
        kind: Default::default(),
    }
}

pub(crate) fn request(reviewers: &[String], extra: serde_json::Value) -> CreateRequest {
    let mut body = json!({
        "action": "terminate i-0abc",
        "agent_id": "ops-agent",
        "reviewers": reviewers,
        "context": {"instance": "i-0abc", "region": "eu-west-1"},
        "tool_call": {"name": "ec2.terminate", "arguments": {"id": "i-0abc"}},
        "reason": "cost clean-up",
        "risk_score": 70,
        "expires_in_seconds": 600,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    serde_json::from_value(body).expect("valid request")
}

/// A new approval as a service without events stores it (nothing left to publish).
pub(crate) fn new_approval(tenant: &str, at: DateTime<Utc>) -> (Approval, AuditRecord) {
    let (mut a, mut r) = request(&["alice".into()], json!({}))
        .into_approval(
            &principal(tenant, "agent"),
            &holdpoint_core::domain::request::Gate::open(),
            ExpiryBounds::default(),
            at,
        )
        .expect("valid approval");
    r.sign(&test_key());
    a.published_seq = r.sequence;
    (a, r)
}

/// `by` approves, with no comment.
pub fn approve(by: &Principal) -> Command<'_> {
    Command::Decide {
        by,
        verdict: Verdict::Approved,
        comment: None,
        modified_output: None,
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    truncate_millis(Utc::now())
}

pub(crate) fn approve_next(a: &Approval, by: &str, at: DateTime<Utc>) -> (Approval, AuditRecord) {
    let p = principal(&a.tenant, by);
    let cmd = approve(&p);
    match lifecycle::apply(a, cmd, at) {
        Ok(Outcome::Changed(mut next, mut record)) => {
            record.sign(&test_key());
            next.published_seq = record.sequence;
            (*next, *record)
        }
        other => panic!("expected a change, got {other:?}"),
    }
}

pub(crate) async fn create_new(store: &dyn Store, a: &Approval, r: &AuditRecord) {
    match store.create(a, r, None).await {
        Ok(Created::New(stored)) => assert_eq!(&stored, a),
        other => panic!("create failed: {other:?}"),
    }
}
