//! Approvals stored before the lean seal: a seal with a digest per field, and a record that
//! signs the state digest the first way. They read whole, verify, are still caught when edited,
//! and their next change seals them the lean way.

use super::fixture::*;
use super::tamper::Tamper;
use holdpoint_core::domain::integrity::legacy;

pub async fn previous_seals_still_verify(store: Arc<dyn Store>, tamper: Arc<dyn Tamper>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let (agent, alice) = (principal(&t, "agent"), principal(&t, "alice"));
    let reviewers = ["alice".to_owned()];
    let (a, _) = service
        .create(&agent, request(&reviewers, json!({})), None)
        .await
        .unwrap();

    // Rewritten as the previous Holdpoint wrote it.
    let stored = store.get(&t, a.id).await.unwrap().unwrap();
    let mut record = store.audit(&t, a.id).await.unwrap().remove(0);
    record.state_digest = legacy::state_digest(&stored);
    record.state_fields = String::new();
    record.hash = record.computed_hash();
    record.sign(&test_key());
    let mut old = stored.clone();
    old.audit_head = record.head();
    legacy::seal(&mut old, &test_key());
    assert!(old.seal.is_legacy());
    assert!(record.canonical_line().starts_with("holdpoint-audit-v2\n"));
    tamper.put_record_at(1, &record).await;
    tamper.put_approval(&t, a.id, &old).await;

    assert!(service.get(&agent, a.id).await.unwrap().integrity.is_ok());
    let (_, v) = service.audit(&agent, a.id).await.unwrap();
    assert!(v.valid, "a previous seal verifies: {v:?}");

    let mut edited = old.clone();
    edited.action = "drop the production database".into();
    tamper.put_approval(&t, a.id, &edited).await;
    assert!(!service.get(&agent, a.id).await.unwrap().integrity.is_ok());
    let (_, v) = service.audit(&agent, a.id).await.unwrap();
    let reason = v.reason.unwrap_or_default();
    assert!(reason.contains("action"), "edits are named: {reason}");
    let r = service.apply(&t, a.id, approve(&alice)).await;
    assert!(
        matches!(r, Err(ServiceError::IntegrityViolation(_))),
        "{r:?}"
    );
    tamper.put_approval(&t, a.id, &old).await;

    // Its next change seals it the lean way.
    service.apply(&t, a.id, approve(&alice)).await.unwrap();
    let now = store.get(&t, a.id).await.unwrap().unwrap();
    assert!(!now.seal.is_legacy(), "resealed the lean way");
    let (records, v) = service.audit(&agent, a.id).await.unwrap();
    assert!(v.valid, "the upgraded chain verifies: {v:?}");
    assert!(records[0].state_fields.is_empty() && !records[1].state_fields.is_empty());
}
