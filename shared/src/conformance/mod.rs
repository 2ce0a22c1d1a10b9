//! One conformance suite for every [`Store`]: scenario functions that each backend's tests call
//! unchanged, through [`conformance_suite!`](crate::conformance_suite).
//!
//! Every scenario works in a tenant of its own, so backends may share one database between
//! scenarios running in parallel.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::service::{Service, ServiceError};
use crate::store::{Created, IdempotencyKey, ListFilter, Store, StoreError};
use holdpoint_core::audit::{self, AuditEvent, AuditRecord};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::{self, Command, Outcome, Refusal};
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::keys::{Key, KeyProvider, KeyRing};
use holdpoint_core::time::{Clock, truncate_millis};

mod deliveries;
mod directory;
mod documents;
mod events;
mod state;
mod store;
mod tamper;

pub use deliveries::*;
pub use directory::*;
pub use documents::*;
pub use events::*;
pub use state::*;
pub use store::*;
pub use tamper::*;

/// Expands to one `#[tokio::test]` per scenario; `$make` is an async expression giving an
/// `Arc<dyn Store>`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            create_then_get, create_is_create_if_absent, idempotency_keys,
            transition_is_compare_and_set, transition_versions_and_sequences,
            transition_stores_the_audit_record_with_the_state,
            list_pages_newest_first, list_filters, due_holds_only_pending_past_deadline,
            fifty_concurrent_decisions_one_winner, fifty_concurrent_store_writes_one_winner,
            concurrent_quorum_approvals_all_count, lifecycle_end_to_end, sweep_expires_due_approvals,
            lazy_expiry_is_stored_on_write, events_are_never_lost,
            accepted_documents_survive_the_store);
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store: ::std::sync::Arc<dyn $crate::store::Store> = $make.await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

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

fn test_key_by_id(id: &str) -> Option<Key> {
    (id == "conformance-key").then(test_key)
}

/// A key provider holding [`test_key`].
pub fn test_keys() -> Arc<dyn KeyProvider> {
    Arc::new(KeyRing::new(test_key(), vec![]))
}

/// The service the scenarios run: `store`, the test key, `clock`, default expiry bounds.
fn service_on(store: &Arc<dyn Store>, clock: Clock) -> Service {
    Service::new(store.clone(), test_keys(), clock, ExpiryBounds::default())
}

fn tenant() -> String {
    format!("tenant-{}", Uuid::new_v4())
}

fn principal(tenant: &str, name: &str) -> Principal {
    Principal {
        tenant: tenant.into(),
        principal: name.into(),
        roles: vec![],
    }
}

fn request(reviewers: &[String], extra: serde_json::Value) -> CreateRequest {
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
fn new_approval(tenant: &str, at: DateTime<Utc>) -> (Approval, AuditRecord) {
    let (mut a, mut r) = request(&["alice".into()], json!({}))
        .into_approval(&principal(tenant, "agent"), ExpiryBounds::default(), at)
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

fn now() -> DateTime<Utc> {
    truncate_millis(Utc::now())
}

fn approve_next(a: &Approval, by: &str, at: DateTime<Utc>) -> (Approval, AuditRecord) {
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

async fn create_new(store: &dyn Store, a: &Approval, r: &AuditRecord) {
    match store.create(a, r, None).await {
        Ok(Created::New(stored)) => assert_eq!(&stored, a),
        other => panic!("create failed: {other:?}"),
    }
}
