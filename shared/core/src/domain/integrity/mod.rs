//! The approval's state, bound to its signed audit chain and to the row it is stored in.
//!
//! Every audit record signs the digest of the approval state it produced (`state_digest`, part
//! of its hash; see [`crate::audit`]) and the fingerprints of its fields (`state_fields`, to name
//! what differs). The approval itself carries a lean [`Seal`]: the id of the audit key and an
//! HMAC over its tenant, its id, its chain head and its state digest. So the state is checked on
//! every read and before every change without reading the chain, and whoever edits a stored
//! approval without the key (turns a rejection into an approval, changes who decided, the comment
//! or the edits, rolls a decision back, copies another approval's body over it) is caught.
//!
//! **The state digest** is the lowercase hex SHA-256 of the state text ([`state`]): computed once
//! per change and once per check. **The seal's signature** is the lowercase hex HMAC-SHA256 of
//! `holdpoint-state-v2\n{tenant}\n{approval_id}\n{head_sequence}\n{head_hash}\n{state_digest}`.
//!
//! **The row.** A store keeps columns beside the document (its key, status, due time, index
//! attributes). The store that reads a row compares them with what the document implies and
//! names each one that disagrees in [`Approval::row_mismatch`]; the check treats those as a
//! breach. So the tenant and id the seal signs are the key the row was read by, and no index
//! column can say what the signed document does not.
//!
//! Approvals sealed before the lean seal (a seal with field digests) are checked the first way
//! ([`legacy`]) until their next change seals them the lean way.

pub mod legacy;
pub mod state;

use crate::domain::approval::Approval;
use crate::keys::Key;

use crate::audit::SignedState;
pub use crate::domain::seal::{Breach, Seal};

/// The state digest of `a` as its seal's kind computes it: what its audit head signed.
pub fn state_digest(a: &Approval) -> String {
    if a.seal.is_legacy() {
        legacy::state_digest(a)
    } else {
        state::digest(a)
    }
}

fn message(a: &Approval, state_digest: &str) -> String {
    format!(
        "holdpoint-state-v2\n{}\n{}\n{}\n{}\n{}",
        a.tenant, a.id, a.audit_head.sequence, a.audit_head.hash, state_digest
    )
}

/// Takes down the state of `a`, once per change: its digest (kept for [`seal`]) and its field
/// fingerprints, for the audit record.
pub fn take_state(a: &mut Approval) -> SignedState {
    let digest = state::digest(a);
    a.seal = Seal {
        taken: digest.clone(),
        ..Seal::default()
    };
    SignedState {
        digest,
        fields: state::fields(a),
    }
}

/// Seals `a` with `key`: its state as [`take_state`] took it down, and its head (set since).
/// Nothing that changes the state may happen between the two.
pub fn seal(a: &mut Approval, key: &Key) {
    let digest = match std::mem::take(&mut a.seal.taken) {
        taken if !taken.is_empty() => taken,
        _ => state::digest(a),
    };
    debug_assert_eq!(
        digest,
        state::digest(a),
        "the state changed after take_state"
    );
    a.seal = Seal {
        key_id: key.id.clone(),
        signature: key.sign(message(a, &digest).as_bytes()),
        ..Seal::default()
    };
}

/// Checks `a` against its seal and the row it was read from; `key` finds a key by its id.
pub fn check(a: &Approval, key: impl Fn(&str) -> Option<Key>) -> Result<(), Breach> {
    if !a.row_mismatch.is_empty() {
        return Err(Breach {
            approval: a.id,
            fields: a.row_mismatch.clone(),
            reason: "the row it is stored in says otherwise than its document".into(),
        });
    }
    if a.seal.is_legacy() {
        return legacy::check(a, key);
    }
    let genuine = key(&a.seal.key_id)
        .is_some_and(|k| k.verify(message(a, &state::digest(a)).as_bytes(), &a.seal.signature));
    if genuine {
        Ok(())
    } else {
        Err(Breach {
            approval: a.id,
            fields: Vec::new(),
            reason: "the stored state or its seal is not what its audit head signed".into(),
        })
    }
}

#[cfg(test)]
mod tests;
