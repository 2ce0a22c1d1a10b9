//! Bundles of a real chain (made by the request and lifecycle rules, signed and sealed as the
//! service does), checked whole and with each kind of tampering.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use uuid::Uuid;

use super::*;
use crate::audit::AuditRecord;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::checkpoint::{CheckpointHead, CheckpointSigner, Jwk, Jwks, LocalSigner};
use crate::audit::{AuditEvent, GENESIS_HASH};
use crate::domain::approval::Approval;
use crate::domain::approval::Verdict;
use crate::domain::identity::Principal;
use crate::domain::lifecycle::{self, Command, Outcome};
use crate::domain::request::{CreateRequest, ExpiryBounds, Gate};
use crate::domain::{integrity, record};
use crate::keys::Key;

mod fixtures;
mod forgery;

pub(super) const APPROVAL: Uuid = Uuid::from_u128(0x0b9e4a52_8c1f_4d2e_9a57_3f6c1d2b8e41);
const OTHER: Uuid = Uuid::from_u128(0x7d1c0e33_2a4b_4c5d_8e6f_102132435465);

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

fn hmac() -> Key {
    Key::new("k-2026-11", vec![7; 32]).unwrap()
}

fn who(name: &str) -> Principal {
    Principal {
        tenant: "acme".into(),
        principal: name.into(),
        roles: Vec::new(),
        kind: Default::default(),
    }
}

/// Key A signs checkpoint 1; key B, after a rotation, checkpoint 2.
pub(super) fn key_a() -> LocalSigner {
    LocalSigner::from_secret_bytes(&[0x11; 32]).unwrap()
}

pub(super) fn key_b() -> LocalSigner {
    LocalSigner::from_secret_bytes(&[0x22; 32]).unwrap()
}

pub(super) fn jwks(signers: &[LocalSigner]) -> Jwks {
    let mut keys = Jwks::default();
    for s in signers {
        keys.add(Jwk::of(&s.verifying_key(), &s.key_id()));
    }
    keys
}

/// One approval's life: created (stored as `created`), checkpointed by key A, decided (stored as
/// `decided`), checkpointed by key B.
pub(super) struct Story {
    pub created: Approval,
    pub decided: Approval,
    pub records: Vec<AuditRecord>,
    pub checkpoints: Vec<Checkpoint>,
}

impl Story {
    pub fn bundle(&self) -> EvidenceBundle {
        EvidenceBundle::new(
            self.decided.clone(),
            self.records.clone(),
            checkpoints_for_chain(&self.checkpoints, APPROVAL, &self.records).to_vec(),
        )
    }
}

fn sealed(mut a: Approval, mut r: AuditRecord) -> (Approval, AuditRecord) {
    r.sign(&hmac());
    if r.is_decision()
        && let Some(d) = &mut a.decision
    {
        d.signature = Some(r.signature.clone());
    }
    integrity::seal(&mut a, &hmac());
    (a, r)
}

pub(super) fn checkpoint(
    prev: Option<&Checkpoint>,
    at: DateTime<Utc>,
    heads: Vec<CheckpointHead>,
    signer: &LocalSigner,
) -> Checkpoint {
    let mut c = Checkpoint::next(prev, "acme", at, heads, &signer.key_id());
    c.signature = STANDARD.encode(signer.sign_now(c.hash.as_bytes()));
    c
}

pub(super) fn story() -> Story {
    // As text, so the context keeps its numbers as the agent wrote them.
    let request: CreateRequest = serde_json::from_str(
        r#"{"action": "terminate i-123", "agent_id": "ops-agent", "reviewers": ["alice"],
            "context": {"instance": "i-123", "cost": 1.50, "limit": 1e2, "note": "é \"q\"\n"},
            "expires_in_seconds": 600}"#,
    )
    .unwrap();
    let (mut a, first) = request
        .into_approval(&who("agent"), &Gate::open(), ExpiryBounds::default(), t(0))
        .unwrap();
    // A fixed id, so the fixtures are the same at every run.
    a.id = APPROVAL;
    let (a, r) = record::change(None, a, AuditEvent::Created, "agent", t(0), first.payload);
    let (created, r1) = sealed(a, r);
    let other = CheckpointHead {
        approval_id: OTHER,
        sequence: 1,
        hash: "ab".repeat(32),
    };
    let one = checkpoint(
        None,
        t(60),
        vec![CheckpointHead::of(APPROVAL, &r1.head()), other],
        &key_a(),
    );
    let alice = who("alice");
    let decide = Command::Decide {
        by: &alice,
        verdict: Verdict::Approved,
        comment: Some("looks right".into()),
        modified_output: None,
    };
    let Ok(Outcome::Changed(next, r)) = lifecycle::apply(&created, decide, t(120)) else {
        panic!("alice decides");
    };
    let (decided, r2) = sealed(*next, *r);
    let two = checkpoint(
        Some(&one),
        t(180),
        vec![CheckpointHead::of(APPROVAL, &r2.head())],
        &key_b(),
    );
    Story {
        created,
        decided,
        records: vec![r1, r2],
        checkpoints: vec![one, two],
    }
}

fn failures(bundle: &EvidenceBundle, keys: &Jwks) -> Vec<String> {
    verify_bundle(bundle, keys)
        .failures
        .iter()
        .map(|f| f.to_string())
        .collect()
}

fn fails_with(bundle: &EvidenceBundle, keys: &Jwks, expected: &str) {
    let found = failures(bundle, keys);
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "expected a failure naming {expected:?}, found {found:?}"
    );
}

#[test]
fn an_untouched_bundle_verifies_with_both_keys_and_says_what_it_cannot_check() {
    let s = story();
    let bundle = s.bundle();
    assert_eq!(
        bundle.checkpoints.len(),
        2,
        "from the first that recorded it at all"
    );
    let mut both = vec![key_a().key_id(), key_b().key_id()];
    both.sort();
    assert_eq!(bundle.key_ids, both);
    // A caller that chose where they start gets the same.
    assert_eq!(
        checkpoints_for(&s.checkpoints, APPROVAL, &s.decided.audit_head),
        &bundle.checkpoints[..]
    );
    let report = verify_bundle(&bundle, &jwks(&[key_a(), key_b()]));
    assert!(report.ok(), "{:?}", report.failures);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        report.checkpointed,
        Some(Checkpointed {
            checkpoint: 2,
            head: s.decided.audit_head.clone()
        })
    );
    assert!(report.unchecked[0].contains("HMAC") && report.unchecked[0].contains("k-2026-11"));

    // The whole chain of checkpoints verifies too, and survives its JSON form.
    let mut whole = bundle.clone();
    whole.checkpoints = s.checkpoints.clone();
    let text = serde_json::to_string_pretty(&whole).unwrap();
    let again: EvidenceBundle = serde_json::from_str(&text).unwrap();
    assert!(verify_bundle(&again, &jwks(&[key_a(), key_b()])).ok());
}

#[test]
fn edits_outside_the_fixtures_fail_too() {
    let s = story();
    let keys = jwks(&[key_a(), key_b()]);
    let mut moved = s.bundle();
    moved.records[0].tenant = "evil".into();
    fails_with(&moved, &keys, "record 1: is of another approval");
    let mut version = s.bundle();
    version.version = 2;
    fails_with(
        &version,
        &keys,
        "bundle: not a holdpoint-evidence bundle of version 1",
    );
    let mut other_tenant = s.bundle();
    other_tenant.checkpoints[0].tenant = "evil".into();
    fails_with(&other_tenant, &keys, "checkpoint 1: is of tenant \"evil\"");
    let mut behind = s.bundle();
    behind.approval = s.created.clone();
    fails_with(
        &behind,
        &keys,
        "approval: its head (sequence 1) is not the last record (sequence 2)",
    );
}

#[test]
fn a_rollback_to_before_the_decision_is_caught_once_a_checkpoint_recorded_it() {
    let s = story();
    let keys = jwks(&[key_a(), key_b()]);
    // Restored from a backup taken before the decision: the approval row and its records agree.
    let rollback = EvidenceBundle::new(
        s.created.clone(),
        s.records[..1].to_vec(),
        s.checkpoints.clone(),
    );
    fails_with(
        &rollback,
        &keys,
        "approval: rollback: checkpoint 2 recorded its head at sequence 2 but its records end at 1",
    );
    // Without the checkpoint that saw the decision, the bundle cannot tell: it verifies, and
    // says which checkpoint to compare with the service's newest.
    let before = EvidenceBundle::new(
        s.created.clone(),
        s.records[..1].to_vec(),
        s.checkpoints[..1].to_vec(),
    );
    let report = verify_bundle(&before, &keys);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.newest_checkpoint.map(|c| c.sequence), Some(1));
}

#[test]
fn a_head_newer_than_any_checkpoint_is_a_warning() {
    let s = story();
    let keys = jwks(&[key_a(), key_b()]);
    let bundle = EvidenceBundle::new(
        s.decided.clone(),
        s.records.clone(),
        checkpoints_for_chain(&s.checkpoints[..1], APPROVAL, &s.records).to_vec(),
    );
    assert_eq!(
        bundle.checkpoints.len(),
        1,
        "the one recording the approval"
    );
    let report = verify_bundle(&bundle, &keys);
    assert!(report.ok(), "{:?}", report.failures);
    assert!(
        report.warnings[0]
            .problem
            .starts_with("not yet checkpointed")
    );
    let none = EvidenceBundle::new(s.decided.clone(), s.records.clone(), Vec::new());
    assert_eq!(
        verify_bundle(&none, &keys).warnings[0].problem,
        NO_CHECKPOINT
    );
}

#[tokio::test]
async fn a_rotated_key_keeps_old_checkpoints_verifying_while_it_is_listed() {
    let s = story();
    assert_ne!(key_a().key_id(), key_b().key_id());
    assert_eq!(key_b().public_key().await.unwrap().kid, key_b().key_id());
    let mut whole = s.bundle();
    whole.checkpoints = s.checkpoints.clone();
    assert!(verify_bundle(&whole, &jwks(&[key_a(), key_b()])).ok());
    let found = failures(&whole, &jwks(&[key_b()]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("checkpoint 1: signed with unknown key"));
}
