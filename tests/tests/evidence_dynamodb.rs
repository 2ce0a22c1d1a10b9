//! An auditor's session on the AWS parts (issue 24), against the local AWS-protocol server: a
//! service on DynamoDB tables whose checkpoints a KMS ECC_NIST_P256 key signs. A bundle verifies
//! offline (and its checkpoint signature with KMS Verify too); a consistent rollback of the raw
//! items to a backup taken before the decision is caught by `checkpoint_check` and by the bundle
//! once a checkpoint covered the decision; a rotation to a second KMS key keeps the first
//! bundle verifying while the old key stays listed; the sweep function writes the checkpoint.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use holdpoint::conformance::test_keys;
use holdpoint::keys::checkpoint::CheckpointKeys;
use holdpoint::service::Service;
use holdpoint::store::checkpoints::{CheckpointLog, Checkpoints};
use holdpoint::store::dynamodb::DynamoStore;
use holdpoint::store::dynamodb::item::{self, Item};
use holdpoint_core::audit::checkpoint::{Checkpoint, Jwks};
use holdpoint_core::domain::approval::{Approval, Verdict};
use holdpoint_core::domain::lifecycle::Command;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::evidence::{EvidenceBundle, Report, verify_bundle, verify_bundle_text};
use holdpoint_core::time::Clock;
use holdpoint_tests::acme;

async fn sdk() -> aws_config::SdkConfig {
    holdpoint_tests::endpoint();
    holdpoint::store::dynamodb::sdk_config().await
}

/// A new ECC_NIST_P256 SIGN_VERIFY key in KMS; its ARN.
async fn kms_key(kms: &aws_sdk_kms::Client) -> String {
    let out = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("holdpoint checkpoint key (evidence test)")
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// The service on `store`, its checkpoints kept in `store` and signed by `keys`.
fn service(store: &DynamoStore, keys: &CheckpointKeys) -> Service {
    Service::new(
        Arc::new(store.clone()),
        test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_checkpoints(Checkpoints {
        log: Arc::new(store.clone()),
        signer: Some(keys.signer()),
        keys: keys.published().clone(),
    })
}

async fn create(service: &Service, action: &str) -> Approval {
    let request: CreateRequest = serde_json::from_value(serde_json::json!({
        "action": action,
        "agent_id": "ops-agent",
        "reviewers": ["reviewer"],
        "context": {"rows": 12_000, "ratio": 0.25},
    }))
    .unwrap();
    service
        .create(&acme("agent"), request, None)
        .await
        .unwrap()
        .0
}

async fn approve(service: &Service, id: uuid::Uuid) {
    let reviewer = acme("reviewer");
    let decided = service
        .apply(
            "acme",
            id,
            Command::Decide {
                by: &reviewer,
                verdict: Verdict::Approved,
                comment: Some("ok".into()),
                modified_output: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(decided.audit_head.sequence, 2, "the decision is record 2");
}

async fn bundle(service: &Service, id: uuid::Uuid) -> EvidenceBundle {
    service
        .evidence_of("acme", id)
        .await
        .unwrap()
        .expect("stored")
}

/// `verify_bundle`, and the same through the bundle's JSON text: both must agree.
fn verified(bundle: &EvidenceBundle, keys: &Jwks) -> Report {
    let report = verify_bundle(bundle, keys);
    let text = serde_json::to_string_pretty(bundle).unwrap();
    let from_text = verify_bundle_text(&text, keys).unwrap();
    assert_eq!(from_text, report, "the text says what the bundle says");
    report
}

/// What KMS itself says of checkpoint `c`'s signature under `key`.
async fn kms_verifies(kms: &aws_sdk_kms::Client, key: &str, c: &Checkpoint) -> bool {
    let signature = STANDARD.decode(&c.signature).unwrap();
    kms.verify()
        .key_id(key)
        .message(Blob::new(c.hash.as_bytes()))
        .message_type(MessageType::Raw)
        .signature(Blob::new(signature))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .is_ok_and(|out| out.signature_valid())
}

/// The raw items of approval `id`: its approval item and its audit records' items.
async fn raw_items(store: &DynamoStore, id: uuid::Uuid) -> (Item, Vec<Item>) {
    let approval = store
        .client()
        .get_item()
        .table_name(&store.tables().approvals)
        .key("pk", item::s(item::approval_pk("acme", id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the approval item");
    let records = store
        .client()
        .query()
        .table_name(&store.tables().audit)
        .key_condition_expression("approval = :a")
        .expression_attribute_values(":a", item::s(item::chain_key("acme", id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    (approval, records)
}

fn seq(item: &Item) -> AttributeValue {
    item["seq"].clone()
}

/// Puts approval `id`'s items back as `backup` holds them: its approval item over the newer
/// one, and every audit record newer than the backup's deleted. Consistent in itself, as a
/// restore by someone with write access (the local server enforces no deny policy) would be.
async fn restore(store: &DynamoStore, id: uuid::Uuid, backup: &(Item, Vec<Item>)) {
    let (approval, kept) = backup;
    let (_, now) = raw_items(store, id).await;
    let kept: Vec<AttributeValue> = kept.iter().map(seq).collect();
    let newer: Vec<&Item> = now.iter().filter(|r| !kept.contains(&seq(r))).collect();
    assert!(!newer.is_empty(), "the decision wrote a newer record");
    for r in newer {
        store
            .client()
            .delete_item()
            .table_name(&store.tables().audit)
            .key("approval", r["approval"].clone())
            .key("seq", seq(r))
            .send()
            .await
            .unwrap();
    }
    store
        .client()
        .put_item()
        .table_name(&store.tables().approvals)
        .set_item(Some(approval.clone()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_kms_signed_bundle_verifies_offline_and_in_kms_and_a_rollback_is_caught() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let arn = kms_key(&kms).await;
    let keys = CheckpointKeys::kms(&sdk, &arn, &[]).await.unwrap();
    let (store, _) = holdpoint_tests::fresh_store().await;
    let service = service(&store, &keys);
    assert!(service.writes_checkpoints());
    assert_eq!(service.audit_keys(), Some(keys.published()));

    let a = create(&service, "drop table invoices").await;
    let first = service.checkpoint().await.unwrap();
    assert_eq!((first.written, first.heads), (1, 1), "{first:?}");
    // The backup, taken before the decision: the approval item and its records as they are.
    let backup = raw_items(&store, a.id).await;
    assert_eq!(backup.1.len(), 1);
    approve(&service, a.id).await;
    let report = service.checkpoint().await.unwrap();
    assert!(report.written >= 1 && report.heads >= 1, "{report:?}");
    assert_eq!(
        service.checkpoint().await.unwrap().written,
        0,
        "nothing moved since"
    );

    // The auditor's bundle: a checkpoint records the decision; it verifies offline.
    let b = bundle(&service, a.id).await;
    assert_eq!(b.records.len(), 2);
    assert_eq!(b.key_ids, [keys.key_id()]);
    let newest = b.checkpoints.last().unwrap();
    let head = newest.head_of(a.id).expect("the newest records it");
    assert_eq!((head.sequence, &head.hash), (2, &b.records[1].hash));
    let r = verified(&b, keys.published());
    assert!(r.ok(), "{:?}", r.failures);
    assert!(r.warnings.is_empty(), "all checkpointed: {:?}", r.warnings);
    assert_eq!(r.checkpointed.unwrap().head.sequence, 2);

    // Every checkpoint signature is also what KMS itself verifies: a signature of the
    // checkpoint hash's 64 ASCII bytes (docs/audit-evidence.md), not of its text.
    for c in &b.checkpoints {
        assert!(
            kms_verifies(&kms, &arn, c).await,
            "checkpoint {}",
            c.sequence
        );
    }
    let mut other = newest.clone();
    other.hash = b.records[0].hash.clone();
    assert!(!kms_verifies(&kms, &arn, &other).await, "not any message");

    // An edited bundle fails, naming what: a record, the approval's state, a signature.
    let mut edited = b.clone();
    edited.records[1].actor = "mallory".into();
    assert!(named(&verified(&edited, keys.published()), "record 2"));
    let mut edited = b.clone();
    edited.approval.action = "drop table payroll".into();
    assert!(named(&verified(&edited, keys.published()), "approval"));
    let mut edited = b.clone();
    let last = edited.checkpoints.last_mut().unwrap();
    let mut signature = STANDARD.decode(&last.signature).unwrap();
    *signature.last_mut().unwrap() ^= 1; // still DER, another `s`
    last.signature = STANDARD.encode(signature);
    let subject = format!("checkpoint {}", edited.checkpoints.last().unwrap().sequence);
    assert!(named(&verified(&edited, keys.published()), &subject));

    // The rollback: the approval item and its records put back from the backup, together.
    restore(&store, a.id, &backup).await;
    let stored = service.get(&acme("agent"), a.id).await.unwrap();
    assert_eq!(stored.audit_head.sequence, 1, "the store reads as intact");
    let check = service
        .checkpoint_check("acme", a.id)
        .await
        .unwrap()
        .expect("stored");
    let rollback = check.rollback.expect("a rollback is named");
    assert!(
        rollback.contains("recorded head 2") && rollback.contains("ends at 1"),
        "{rollback}"
    );
    let rolled = bundle(&service, a.id).await;
    assert_eq!(rolled.records.len(), 1);
    let r = verified(&rolled, keys.published());
    assert!(!r.ok(), "the rolled-back bundle fails");
    assert!(
        r.failures
            .iter()
            .any(|f| f.subject == "approval" && f.problem.starts_with("rollback:")),
        "{:?}",
        r.failures
    );
    // A backup taken before the first checkpoint would bring the item back marked moved: the
    // next checkpoint finds the chain behind what it recorded, reports it and leaves it out,
    // so nothing vouches for it and the check still names it.
    let shard = holdpoint::store::dynamodb::item::due_shard(a.id, store.tables().due_shards);
    let mut marked = backup.0.clone();
    marked.insert(
        holdpoint::store::dynamodb::item::MOVED.into(),
        AttributeValue::S(shard),
    );
    store
        .client()
        .put_item()
        .table_name(&store.tables().approvals)
        .set_item(Some(marked))
        .send()
        .await
        .unwrap();
    let next = service.checkpoint().await.unwrap();
    assert_eq!((next.rolled_back, next.written), (1, 0), "{next:?}");
    let check = service
        .checkpoint_check("acme", a.id)
        .await
        .unwrap()
        .expect("stored");
    assert!(check.rollback.is_some(), "{check:?}");
}

/// Whether `report` failed with a finding about `subject`.
fn named(report: &Report, subject: &str) -> bool {
    !report.ok() && report.failures.iter().any(|f| f.subject == subject)
}

#[tokio::test]
async fn a_rotation_to_a_second_kms_key_keeps_the_first_bundle_verifying() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let (old, new) = (kms_key(&kms).await, kms_key(&kms).await);
    let before = CheckpointKeys::kms(&sdk, &old, &[]).await.unwrap();
    let (store, _) = holdpoint_tests::fresh_store().await;
    let first = service(&store, &before);
    let a = create(&first, "rotate the database password").await;
    approve(&first, a.id).await;
    assert!(first.checkpoint().await.unwrap().written >= 1);
    let early = bundle(&first, a.id).await;
    assert!(verified(&early, before.published()).ok());

    // The new key is current; the old one stays listed.
    let after = CheckpointKeys::kms(&sdk, &new, std::slice::from_ref(&old))
        .await
        .unwrap();
    assert_ne!(after.key_id(), before.key_id());
    let second = service(&store, &after);
    let b = create(&second, "pay invoice 2026-118").await;
    assert_eq!(second.checkpoint().await.unwrap().written, 1);
    let later = bundle(&second, b.id).await;
    let newest = later.checkpoints.last().unwrap();
    assert_eq!(newest.key_id, after.key_id(), "signed by the new key");
    assert!(newest.head_of(b.id).is_some());
    assert!(kms_verifies(&kms, &new, newest).await);
    assert!(
        !kms_verifies(&kms, &old, newest).await,
        "not by the old key"
    );
    assert!(verified(&later, after.published()).ok());

    // The first bundle verifies with the set published now; a set without the old key fails it.
    let r = verified(&early, after.published());
    assert!(r.ok(), "{:?}", r.failures);
    let forgetful = CheckpointKeys::kms(&sdk, &new, &[]).await.unwrap();
    let r = verified(&early, forgetful.published());
    assert!(!r.ok(), "the old key's checkpoints need the old key listed");
    assert!(
        r.failures
            .iter()
            .all(|f| f.subject.starts_with("checkpoint")),
        "only the signatures fail: {:?}",
        r.failures
    );
    // A bundle of the first approval now runs across the rotation: both keys sign its chain.
    let across = bundle(&second, a.id).await;
    assert_eq!(across.key_ids.len(), 2, "{:?}", across.key_ids);
    assert!(verified(&across, after.published()).ok());
    assert!(!verified(&across, forgetful.published()).ok());
}

#[tokio::test]
async fn the_sweep_function_writes_the_checkpoint_after_its_sweep() {
    let sdk = sdk().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let keys = CheckpointKeys::kms(&sdk, &kms_key(&kms).await, &[])
        .await
        .unwrap();
    let (store, _) = holdpoint_tests::fresh_store().await;
    let service = service(&store, &keys);
    let a = create(&service, "drop table invoices").await;
    approve(&service, a.id).await;
    let moved = store.moved(100).await.unwrap();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].head.sequence, 2);

    let deadline_ms = chrono::Utc::now().timestamp_millis() as u64 + 60_000;
    holdpoint::cloud::sweep(&service, deadline_ms)
        .await
        .unwrap();
    assert!(
        store.moved(100).await.unwrap().is_empty(),
        "none moved after"
    );
    let b = bundle(&service, a.id).await;
    let newest = b.checkpoints.last().expect("the sweep wrote a checkpoint");
    assert_eq!(newest.head_of(a.id).unwrap().sequence, 2);
    assert!(verified(&b, keys.published()).ok());

    // A sweep function without the key (no KMS key named) writes none.
    let reader = Service::new(
        Arc::new(store.clone()),
        test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_checkpoints(Checkpoints {
        log: Arc::new(store.clone()),
        signer: None,
        keys: keys.published().clone(),
    });
    let c = create(&reader, "x").await;
    holdpoint::cloud::sweep(&reader, deadline_ms).await.unwrap();
    assert_eq!(store.moved(100).await.unwrap()[0].head.approval_id, c.id);
    assert!(
        reader.checkpoint().await.is_err(),
        "it holds no key to sign"
    );
}
