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
    /// Its tenant's checkpoints, ascending, from the first that recorded the approval at all
    /// (else from the last written before its last record) to the newest (see
    /// [`checkpoints_for_chain`]).
    pub checkpoints: Vec<Checkpoint>,
    /// The ids of the keys that signed those checkpoints: what the key set must list.
    pub key_ids: Vec<String>,
}

impl EvidenceBundle {
    /// The bundle of `approval` (as stored), its records and the checkpoints chosen by
    /// [`checkpoints_for_chain`].
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
/// `approval_id` whose records are `records` carries, always through the newest so the chain
/// from there is continuous:
/// - from the first that recorded the approval at all, so every head a checkpoint recorded is
///   checked against the records (a chain rewritten after one recorded it, then moved on to a
///   higher sequence, is contradicted by that one, not only by the newest);
/// - else from the last written before its last record (or the first), so the bundle shows
///   that no checkpoint could have recorded it: a verifier refuses one that does not.
pub fn checkpoints_for_chain<'a>(
    tenant_checkpoints: &'a [Checkpoint],
    approval_id: Uuid,
    records: &[AuditRecord],
) -> &'a [Checkpoint] {
    let start = first_recording(tenant_checkpoints, approval_id).unwrap_or_else(|| {
        records.last().map_or(0, |last| {
            tenant_checkpoints
                .iter()
                .rposition(|c| c.at < last.at)
                .unwrap_or(0)
        })
    });
    &tenant_checkpoints[start..]
}

/// As [`checkpoints_for_chain`], for a caller that holds only the approval's head and has
/// already chosen where `tenant_checkpoints` start for an approval no checkpoint recorded (the
/// last written before its last record, or the first): from the first that recorded it at
/// all, else all of them. The head is not needed for that choice: a checkpoint that recorded
/// any head of the approval belongs in its bundle.
pub fn checkpoints_for<'a>(
    tenant_checkpoints: &'a [Checkpoint],
    approval_id: Uuid,
    _head: &ChainHead,
) -> &'a [Checkpoint] {
    &tenant_checkpoints[first_recording(tenant_checkpoints, approval_id).unwrap_or(0)..]
}

fn first_recording(checkpoints: &[Checkpoint], approval_id: Uuid) -> Option<usize> {
    checkpoints
        .iter()
        .position(|c| c.head_of(approval_id).is_some())
}
