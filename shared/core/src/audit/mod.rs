//! The audit trail: one hash chain of records per approval.
//!
//! A record's hash is the lowercase hex SHA-256 of its canonical line:
//! `holdpoint-audit-v3\n{tenant}\n{approval_id}\n{sequence}\n{event}\n{actor}\n{at}\n{payload_digest}\n{state_digest}\n{state_fields}\n{prev_hash}`
//! (records from before the lean seal, with no `state_fields`, use `holdpoint-audit-v2` and leave
//! that line out; records from before states were bound, with no `state_digest` either, use
//! `holdpoint-audit-v1` and leave both out) where `at` is RFC 3339 UTC with milliseconds, `payload_digest` is the SHA-256 of the payload's
//! canonical JSON (see [`crate::json::canonical`]), `state_digest` the digest of the approval state the
//! record produced and `state_fields` the fingerprints of its fields (see
//! [`crate::domain::integrity`]), and `prev_hash` is the previous record's hash (64
//! zeros for the first record). Its `signature` is the lowercase hex HMAC-SHA256 of the ASCII
//! `hash`, with the key named by `key_id`. The approval holds the chain head, so a removed tail
//! shows; a changed, removed, reordered or inserted record breaks a link or a signature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::json::document::Document;
use crate::keys::Key;
use crate::time::{self, rfc3339};

pub mod checkpoint;
mod event;
pub use event::{AuditEvent, EventFacts};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An approval state as a change took it down: what its audit record signs (see
/// [`crate::domain::integrity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedState {
    /// The SHA-256 of the state text.
    pub digest: String,
    /// The fingerprints of its fields.
    pub fields: String,
}

/// The last record of a chain: what the next record links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub sequence: u64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub approval_id: Uuid,
    pub tenant: String,
    pub sequence: u64,
    pub event: AuditEvent,
    pub actor: String,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub payload: Document,
    pub payload_digest: String,
    /// The digest of the approval state this record produced (see [`crate::domain::integrity`]);
    /// empty only in records written before states were bound to their chain.
    #[serde(default)]
    pub state_digest: String,
    /// The fingerprints of that state's fields, which name what differs when a stored approval
    /// is not this state (see [`crate::domain::integrity::state`]); empty in older records.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_fields: String,
    pub prev_hash: String,
    pub hash: String,
    /// Empty until [`AuditRecord::sign`]; a stored record is always signed.
    pub key_id: String,
    pub signature: String,
}

impl AuditRecord {
    /// The record that follows `prev` (or starts the chain when `prev` is `None`).
    pub fn next(
        prev: Option<&ChainHead>,
        approval_id: Uuid,
        tenant: &str,
        event: AuditEvent,
        actor: &str,
        at: DateTime<Utc>,
        payload: Document,
    ) -> AuditRecord {
        let (sequence, prev_hash) = match prev {
            Some(head) => (head.sequence + 1, head.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let mut record = AuditRecord {
            approval_id,
            tenant: tenant.to_owned(),
            sequence,
            event,
            actor: actor.to_owned(),
            at,
            payload_digest: payload.digest(),
            payload,
            state_digest: String::new(),
            state_fields: String::new(),
            prev_hash,
            hash: String::new(),
            key_id: String::new(),
            signature: String::new(),
        };
        record.hash = record.computed_hash();
        record
    }

    /// The record, signing the approval state it produced.
    pub fn with_state(mut self, state: SignedState) -> AuditRecord {
        self.state_digest = state.digest;
        self.state_fields = state.fields;
        self.hash = self.computed_hash();
        self
    }

    /// Signs the record's hash with `key`.
    pub fn sign(&mut self, key: &Key) {
        self.key_id = key.id.clone();
        self.signature = key.sign(self.hash.as_bytes());
    }

    /// Whether the event is the decision of a reviewer (what a decision signature refers to).
    pub fn is_decision(&self) -> bool {
        self.event.facts().decision
    }

    pub fn canonical_line(&self) -> String {
        let head = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.tenant,
            self.approval_id,
            self.sequence,
            self.event.as_str(),
            self.actor,
            time::format(&self.at),
            self.payload_digest,
        );
        if self.state_digest.is_empty() {
            format!("holdpoint-audit-v1\n{head}\n{}", self.prev_hash)
        } else if !self.state_fields.is_empty() {
            format!(
                "holdpoint-audit-v3\n{head}\n{}\n{}\n{}",
                self.state_digest, self.state_fields, self.prev_hash
            )
        } else {
            format!(
                "holdpoint-audit-v2\n{head}\n{}\n{}",
                self.state_digest, self.prev_hash
            )
        }
    }

    pub fn computed_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_line().as_bytes()))
    }

    pub fn head(&self) -> ChainHead {
        ChainHead {
            sequence: self.sequence,
            hash: self.hash.clone(),
        }
    }
}

/// The result of walking one approval's chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub first_invalid_sequence: Option<u64>,
    pub reason: Option<String>,
}

/// Walks `records` (in stored order) and reports the first broken link; `head` is the chain head
/// the approval item holds, which reveals a truncated tail; `key` finds a key by its id.
pub fn verify(
    records: &[AuditRecord],
    head: &ChainHead,
    key: impl Fn(&str) -> Option<Key>,
) -> Verification {
    let broken = |seq: u64, reason: String| Verification {
        valid: false,
        first_invalid_sequence: Some(seq),
        reason: Some(reason),
    };
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (i, r) in records.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if r.sequence != expected_seq {
            return broken(
                expected_seq,
                format!("expected sequence {expected_seq}, found {}", r.sequence),
            );
        }
        if r.payload_digest != r.payload.digest() {
            return broken(r.sequence, "payload does not match its digest".into());
        }
        if r.prev_hash != prev_hash {
            return broken(r.sequence, "does not link to the previous record".into());
        }
        if r.hash != r.computed_hash() {
            return broken(r.sequence, "hash does not match the record".into());
        }
        match key(&r.key_id) {
            None => {
                return broken(
                    r.sequence,
                    format!("signed with unknown key {:?}", r.key_id),
                );
            }
            Some(k) if !k.verify(r.hash.as_bytes(), &r.signature) => {
                return broken(r.sequence, "signature does not verify".into());
            }
            Some(_) => {}
        }
        prev_hash = r.hash.clone();
    }
    let last = records.len() as u64;
    if last != head.sequence || prev_hash != head.hash {
        return broken(
            last + 1,
            format!(
                "chain ends at sequence {last} but the approval's head is {}",
                head.sequence
            ),
        );
    }
    Verification {
        valid: true,
        first_invalid_sequence: None,
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> Key {
        Key::new("k1", vec![1; 32]).unwrap()
    }

    fn keys(id: &str) -> Option<Key> {
        (id == "k1").then(key)
    }

    fn chain(n: usize) -> Vec<AuditRecord> {
        let id = Uuid::new_v4();
        let at = crate::time::truncate_millis(Utc::now());
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let head = out.last().map(AuditRecord::head);
            let mut r = AuditRecord::next(
                head.as_ref(),
                id,
                "t",
                AuditEvent::Created,
                "a",
                at,
                json!({"i": i}).into(),
            );
            r.sign(&key());
            out.push(r);
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(4);
        assert!(verify(&c, &c[3].head(), keys).valid);
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_broken_record() {
        let c = chain(4);
        let head = c[3].head();

        let mut changed = c.clone();
        changed[1].actor = "mallory".into();
        assert_eq!(
            verify(&changed, &head, keys).first_invalid_sequence,
            Some(2)
        );

        let mut payload = c.clone();
        payload[2].payload = json!({"i": 99}).into();
        assert_eq!(
            verify(&payload, &head, keys).first_invalid_sequence,
            Some(3)
        );

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(
            verify(&deleted, &head, keys).first_invalid_sequence,
            Some(2)
        );

        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify(&swapped, &head, keys).first_invalid_sequence,
            Some(2)
        );

        let truncated = &c[..3];
        let v = verify(truncated, &head, keys);
        assert!(!v.valid);
        assert_eq!(v.first_invalid_sequence, Some(4));

        // Re-hashed and re-signed with another key: the signature gives it away.
        let forger = Key::new("k1", vec![2; 32]).unwrap();
        let mut resigned = c.clone();
        resigned[2].actor = "mallory".into();
        resigned[2].hash = resigned[2].computed_hash();
        resigned[2].sign(&forger);
        assert_eq!(
            verify(&resigned, &head, keys).first_invalid_sequence,
            Some(3)
        );
        let mut unknown = c.clone();
        unknown[0].key_id = "k9".into();
        assert_eq!(
            verify(&unknown, &head, keys).first_invalid_sequence,
            Some(1)
        );
    }
}
