//! Signed checkpoints: per tenant, a chain of signed statements of every approval's audit head
//! that moved since the one before, so a chain rolled back or rewritten by whoever holds the
//! HMAC key shows against a signature only the checkpoint key can make (see
//! `docs/audit-evidence.md`).
//!
//! A checkpoint's `hash` is the lowercase hex SHA-256 of its canonical text:
//! `holdpoint-checkpoint-v1\n{tenant}\n{sequence}\n{at}\n{prev_hash}\n{key_id}\n{count}` and then
//! one line `\n{approval_id} {head_sequence} {head_hash}` per head, heads in ascending order of
//! their approval id (each approval at most once), `at` RFC 3339 UTC with milliseconds,
//! `prev_hash` the previous checkpoint's hash ([`GENESIS_HASH`] for the first). Its `signature`
//! is the base64 DER ECDSA P-256 SHA-256 signature of the ASCII `hash` by the key `key_id`. The
//! hash, not the text, is signed: KMS signs messages of at most 4096 bytes.

mod jwks;
mod sign;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use jwks::{Jwk, Jwks, key_id_of, key_id_of_spki, verifies};
pub use sign::{CheckpointSigner, LocalSigner};

use super::{ChainHead, GENESIS_HASH};
use crate::keys::KeyError;
use crate::time::{self, rfc3339};

/// The checkpoint format this code writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// One approval's audit head as a checkpoint recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointHead {
    pub approval_id: Uuid,
    pub sequence: u64,
    pub hash: String,
}

impl CheckpointHead {
    pub fn of(approval_id: Uuid, head: &ChainHead) -> CheckpointHead {
        CheckpointHead {
            approval_id,
            sequence: head.sequence,
            hash: head.hash.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub tenant: String,
    /// The tenant's checkpoint number, from 1.
    pub sequence: u64,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    /// Every approval whose chain moved since the previous checkpoint, in approval id order.
    pub heads: Vec<CheckpointHead>,
    pub hash: String,
    pub key_id: String,
    /// Base64 (standard, padded) of the DER signature; empty until signed.
    pub signature: String,
}

impl Checkpoint {
    /// The unsigned checkpoint that follows `prev` (or starts the tenant's chain), recording
    /// `heads` (sorted here; a later head of an approval listed twice wins) at `at`, to be
    /// signed by `key_id`.
    pub fn next(
        prev: Option<&Checkpoint>,
        tenant: &str,
        at: DateTime<Utc>,
        mut heads: Vec<CheckpointHead>,
        key_id: &str,
    ) -> Checkpoint {
        let (sequence, prev_hash) = match prev {
            Some(p) => (p.sequence + 1, p.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        heads.sort_by(|a, b| (a.approval_id, b.sequence).cmp(&(b.approval_id, a.sequence)));
        heads.dedup_by_key(|h| h.approval_id);
        let mut checkpoint = Checkpoint {
            version: CHECKPOINT_VERSION,
            tenant: tenant.to_owned(),
            sequence,
            at: time::truncate_millis(at),
            prev_hash,
            heads,
            hash: String::new(),
            key_id: key_id.to_owned(),
            signature: String::new(),
        };
        checkpoint.hash = checkpoint.computed_hash();
        checkpoint
    }

    /// [`Checkpoint::next`], signed by `signer`.
    pub async fn signed(
        prev: Option<&Checkpoint>,
        tenant: &str,
        at: DateTime<Utc>,
        heads: Vec<CheckpointHead>,
        signer: &dyn CheckpointSigner,
    ) -> Result<Checkpoint, KeyError> {
        let mut checkpoint = Checkpoint::next(prev, tenant, at, heads, &signer.key_id());
        let der = signer.sign(checkpoint.hash.as_bytes()).await?;
        checkpoint.signature = STANDARD.encode(der);
        Ok(checkpoint)
    }

    pub fn canonical_text(&self) -> String {
        let mut text = format!(
            "holdpoint-checkpoint-v{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.version,
            self.tenant,
            self.sequence,
            time::format(&self.at),
            self.prev_hash,
            self.key_id,
            self.heads.len()
        );
        for h in &self.heads {
            text.push_str(&format!("\n{} {} {}", h.approval_id, h.sequence, h.hash));
        }
        text
    }

    pub fn computed_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_text().as_bytes()))
    }

    /// The head this checkpoint recorded for `approval_id`, if it lists it.
    pub fn head_of(&self, approval_id: Uuid) -> Option<&CheckpointHead> {
        self.heads
            .binary_search_by_key(&approval_id, |h| h.approval_id)
            .ok()
            .map(|i| &self.heads[i])
    }

    /// What is wrong with this checkpoint on its own (format, hash, signature under its key in
    /// `keys`); empty when nothing is.
    pub fn problems(&self, keys: &Jwks) -> Vec<String> {
        let mut problems = Vec::new();
        if self.version != CHECKPOINT_VERSION {
            problems.push(format!("unknown checkpoint version {}", self.version));
            return problems;
        }
        if !self
            .heads
            .windows(2)
            .all(|w| w[0].approval_id < w[1].approval_id)
        {
            problems.push("heads are not in ascending approval id order, once each".into());
        }
        if self.hash != self.computed_hash() {
            problems.push("hash does not match its content".into());
        }
        match STANDARD.decode(&self.signature) {
            Err(_) => problems.push("signature is not base64".into()),
            Ok(der) => {
                if let Err(why) = keys.verify(&self.key_id, self.hash.as_bytes(), &der) {
                    problems.push(why);
                }
            }
        }
        problems
    }
}

/// How an approval's audit chain stands against a head a checkpoint recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The chain's record at the checkpointed sequence has the checkpointed hash.
    Holds,
    /// The chain ends before the checkpointed head: records were removed or rolled back.
    Shorter,
    /// The chain's record at the checkpointed sequence has another hash: it was rewritten.
    Differs,
}

/// How a chain whose record hashes are `hashes` (sequence 1 first) stands against `recorded`.
pub fn standing(hashes: &[&str], recorded: &CheckpointHead) -> Standing {
    let at = usize::try_from(recorded.sequence).unwrap_or(usize::MAX);
    match at.checked_sub(1).and_then(|i| hashes.get(i)) {
        None if recorded.sequence > hashes.len() as u64 => Standing::Shorter,
        Some(hash) if *hash == recorded.hash => Standing::Holds,
        _ => Standing::Differs,
    }
}

/// How a chain whose stored head is `head` stands against `recorded`, when only its head is at
/// hand (as `audit verify` holds it): a head past the checkpointed one holds as far as this can
/// tell (its records say the rest).
pub fn head_standing(head: &ChainHead, recorded: &CheckpointHead) -> Standing {
    if head.sequence < recorded.sequence {
        Standing::Shorter
    } else if head.sequence == recorded.sequence && head.hash != recorded.hash {
        Standing::Differs
    } else {
        Standing::Holds
    }
}

/// The links broken in `checkpoints` (one tenant's, ascending, not necessarily from its first):
/// each entry names the later checkpoint's sequence and what is wrong.
pub fn chain_problems(checkpoints: &[Checkpoint]) -> Vec<(u64, String)> {
    let mut problems = Vec::new();
    if let Some(first) = checkpoints.first()
        && first.sequence == 1
        && first.prev_hash != GENESIS_HASH
    {
        problems.push((1, "the first checkpoint does not start the chain".into()));
    }
    for w in checkpoints.windows(2) {
        if w[1].tenant != w[0].tenant {
            problems.push((w[1].sequence, "is of another tenant".into()));
        }
        if w[1].sequence != w[0].sequence + 1 {
            problems.push((
                w[1].sequence,
                format!("does not follow checkpoint {}", w[0].sequence),
            ));
        } else if w[1].prev_hash != w[0].hash {
            problems.push((
                w[1].sequence,
                format!("prev_hash does not link to checkpoint {}", w[0].sequence),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests;
