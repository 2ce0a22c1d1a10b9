//! The approval's state, bound to its signed audit chain.
//!
//! Every audit record signs the digest of the approval state it produced (`state_digest`, part of
//! its hash; see [`crate::audit`]). The approval itself carries a [`Seal`]: the digest of each of
//! its state fields and an HMAC, with the audit key, over the chain head and the state digest. So
//! the state can be checked on every read and before every change without reading the chain, and
//! whoever edits a stored approval without the key (turns a rejection into an approval, changes
//! who decided, the comment or the edits, or rolls a decision back) is caught.
//!
//! **Canonical form.** The state is the approval as JSON without `audit_head`, `published_seq`,
//! `seal` and `decision.signature` (they follow from the record, or change without one). Each
//! remaining top-level field's digest is the SHA-256 of its canonical JSON
//! ([`crate::json::canonical`]); the **state digest** is the SHA-256 of the canonical JSON of the
//! object `{field: digest}`. The seal's signature is the lowercase hex HMAC-SHA256 of
//! `holdpoint-state-v1\n{tenant}\n{approval_id}\n{head_sequence}\n{head_hash}\n{state_digest}`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::domain::approval::Approval;
use crate::domain::seal::Seal;
use crate::json::canonical;
use crate::keys::Key;

/// Fields that are not state: they follow from the audit record or change without one.
const NOT_STATE: [&str; 4] = ["audit_head", "published_seq", "seal", "integrity"];

/// How a stored approval differs from what its chain head signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("approval {approval}: {reason}")]
pub struct Breach {
    pub approval: uuid::Uuid,
    /// The state fields whose value is not the one signed (empty when the seal itself is what
    /// was changed, or the chain is ahead of the approval).
    pub fields: Vec<String>,
    pub reason: String,
}

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
pub fn digest_of(fields: &BTreeMap<String, String>) -> String {
    let object: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    canonical::digest(&Value::Object(object))
}

/// The state digest of `a`: what its audit record signs.
pub fn state_digest(a: &Approval) -> String {
    digest_of(&state_fields(a))
}

fn message(a: &Approval, state_digest: &str) -> String {
    format!(
        "holdpoint-state-v1\n{}\n{}\n{}\n{}\n{}",
        a.tenant, a.id, a.audit_head.sequence, a.audit_head.hash, state_digest
    )
}

/// Takes down the state of `a` in its seal's field digests, once per change, and answers the
/// state digest its audit record signs.
pub fn take_state(a: &mut Approval) -> String {
    let fields = state_fields(a);
    let digest = digest_of(&fields);
    a.seal = Seal {
        fields,
        ..Seal::default()
    };
    digest
}

/// Seals `a` with `key`: its state as [`take_state`] took it down, and its head (set since).
/// Nothing that changes the state may happen between the two.
pub fn seal(a: &mut Approval, key: &Key) {
    debug_assert_eq!(
        a.seal.fields,
        state_fields(a),
        "the state changed after take_state"
    );
    let signature = key.sign(message(a, &digest_of(&a.seal.fields)).as_bytes());
    a.seal.key_id = key.id.clone();
    a.seal.signature = signature;
}

/// Checks `a`'s state against its seal; `key` finds a key by its id.
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
