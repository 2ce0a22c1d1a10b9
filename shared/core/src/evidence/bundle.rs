//! The bundle and what it carries.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditRecord, ChainHead};
use crate::domain::approval::Approval;

/// The value of a bundle's `format`.
pub const BUNDLE_FORMAT: &str = "holdpoint-evidence";
/// The bundle format this code writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    pub version: u32,
    /// The approval as stored: not as a reader is shown it at some moment (`seen_at`), whose
    /// lazily expired or lapsed status is not the state its last record signed.
    pub approval: Approval,
    /// Its whole audit chain, sequence 1 first.
    pub records: Vec<AuditRecord>,
    /// Its tenant's checkpoints, ascending, from the first that records the approval's current
    /// head to the newest (see [`checkpoints_for`]).
    pub checkpoints: Vec<Checkpoint>,
    /// The ids of the keys that signed those checkpoints: what the key set must list.
    pub key_ids: Vec<String>,
}

impl EvidenceBundle {
    /// The bundle of `approval` (as stored), its records and the checkpoints chosen by
    /// [`checkpoints_for`].
    pub fn new(
        approval: Approval,
        records: Vec<AuditRecord>,
        checkpoints: Vec<Checkpoint>,
    ) -> EvidenceBundle {
        let mut key_ids: Vec<String> = checkpoints.iter().map(|c| c.key_id.clone()).collect();
        key_ids.sort();
        key_ids.dedup();
        EvidenceBundle {
            format: BUNDLE_FORMAT.into(),
            version: BUNDLE_VERSION,
            approval,
            records,
            checkpoints,
            key_ids,
        }
    }
}

/// Of a tenant's checkpoints (ascending, consecutive), those a bundle of the approval
/// `approval_id` with head `head` carries: from the first that records exactly that head,
/// else from the last that records the approval at all (its head is not checkpointed yet),
/// else only the newest; always through the newest, so the chain from there is continuous.
pub fn checkpoints_for<'a>(
    tenant_checkpoints: &'a [Checkpoint],
    approval_id: Uuid,
    head: &ChainHead,
) -> &'a [Checkpoint] {
    let exact = tenant_checkpoints.iter().position(|c| {
        c.head_of(approval_id)
            .is_some_and(|h| h.sequence == head.sequence && h.hash == head.hash)
    });
    let start = exact
        .or_else(|| {
            tenant_checkpoints
                .iter()
                .rposition(|c| c.head_of(approval_id).is_some())
        })
        .unwrap_or(tenant_checkpoints.len().saturating_sub(1));
    &tenant_checkpoints[start..]
}
