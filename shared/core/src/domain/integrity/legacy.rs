//! The first seal (`holdpoint-state-v1`), which approvals stored before the lean seal still
//! carry: the digest of each state field kept in the approval itself, and an HMAC over the chain
//! head and the digest of those digests. Such approvals still read and verify; their next change
//! seals them the lean way ([`super`]).
//!
//! **Canonical form.** The state is the approval as JSON without `audit_head`, `published_seq`,
//! `seal` and `decision.signature`. Each remaining top-level field's digest is the SHA-256 of its
//! canonical JSON ([`crate::json::canonical`]); the state digest is the SHA-256 of the canonical
//! JSON of the object `{field: digest}`. The signature is the lowercase hex HMAC-SHA256 of
//! `holdpoint-state-v1\n{tenant}\n{approval_id}\n{head_sequence}\n{head_hash}\n{state_digest}`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::domain::approval::Approval;
use crate::domain::seal::{Breach, Seal};
use crate::json::canonical;
use crate::keys::Key;

/// Fields that are not state: they follow from the audit record or change without one.
const NOT_STATE: [&str; 4] = ["audit_head", "published_seq", "seal", "integrity"];

/// The digest of each state field of `a`.
pub fn state_fields(a: &Approval) -> BTreeMap<String, String> {
    // From the stored text, so documents are digested with their numbers as written.
    let Some(mut doc) = doc_of(a) else {
        return BTreeMap::new();
    };
    for name in NOT_STATE {
        doc.remove(name);
    }
    let mut fields: BTreeMap<String, String> = doc
        .into_iter()
        .map(|(name, raw)| (name, canonical::digest_text(raw.get())))
        .collect();
    if let Some(decision) = doc_of(&a.decision) {
        // The decision's signature is the signature of the record that signs this state.
        let mut members = decision;
        members.remove("signature");
        let text = serde_json::to_string(&members).unwrap_or_default();
        fields.insert("decision".into(), canonical::digest_text(&text));
    }
    fields
}

/// The members of `value` when it serialises to an object, each as its text.
fn doc_of(value: &impl Serialize) -> Option<BTreeMap<String, Box<RawValue>>> {
    serde_json::to_string(value)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// The state digest of a field digest map.
fn digest_of(fields: &BTreeMap<String, String>) -> String {
    let object: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    canonical::digest(&Value::Object(object))
}

/// The state digest of `a` the first way: what a record written before the lean seal signs.
pub fn state_digest(a: &Approval) -> String {
    digest_of(&state_fields(a))
}

fn message(a: &Approval, state_digest: &str) -> String {
    format!(
        "holdpoint-state-v1\n{}\n{}\n{}\n{}\n{}",
        a.tenant, a.id, a.audit_head.sequence, a.audit_head.hash, state_digest
    )
}

/// Seals `a` the first way, as approvals stored before the lean seal were (tests make such
/// approvals with it; the service never does).
pub fn seal(a: &mut Approval, key: &Key) {
    let fields = state_fields(a);
    let signature = key.sign(message(a, &digest_of(&fields)).as_bytes());
    a.seal = Seal {
        fields,
        key_id: key.id.clone(),
        signature,
        ..Seal::default()
    };
}

/// Checks `a`'s state against its first-way seal; `key` finds a key by its id.
pub fn check(a: &Approval, key: impl Fn(&str) -> Option<Key>) -> Result<(), Breach> {
    let breach = |fields: Vec<String>, reason: &str| Breach {
        approval: a.id,
        fields,
        reason: reason.to_owned(),
    };
    let now = state_fields(a);
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(name, digest)| a.seal.fields.get(*name) != Some(digest))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        a.seal
            .fields
            .keys()
            .filter(|name| !now.contains_key(*name))
            .cloned(),
    );
    if !changed.is_empty() {
        return Err(breach(
            changed,
            "the stored state is not the state its audit head signed",
        ));
    }
    let genuine = key(&a.seal.key_id)
        .is_some_and(|k| k.verify(message(a, &digest_of(&now)).as_bytes(), &a.seal.signature));
    if !genuine {
        return Err(breach(
            Vec::new(),
            "the state's seal does not verify against its audit head",
        ));
    }
    Ok(())
}
