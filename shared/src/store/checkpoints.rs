//! Where signed checkpoints are kept (issue 24): per tenant, chained, append-only, beside the
//! audit records (on DynamoDB in the audit table, under the same deny policy; locally in
//! `holdpoint.db` under the same triggers), with what each one covered and which approvals'
//! chains moved since they were last covered.

use std::sync::Arc;

use async_trait::async_trait;
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead, CheckpointSigner, Jwks};
use uuid::Uuid;

use super::StoreError;

/// The most heads one checkpoint may record (more is refused, nothing written): the whole
/// checkpoint is one item on DynamoDB (at most 400 KB; a head takes about 140 bytes of JSON),
/// and what it covers is written in transactions of at most 100 items. A writer with more
/// moved approvals writes several checkpoints.
pub const MAX_HEADS: usize = 1000;

/// One approval whose chain head moved since a checkpoint last recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub tenant: String,
    pub head: CheckpointHead,
}

#[async_trait]
pub trait CheckpointLog: Send + Sync + 'static {
    /// Approvals (of every tenant) whose chain head moved since a checkpoint last recorded it,
    /// with their heads now, at most `limit`. Every transition and every create makes its
    /// approval moved, in the same write as its audit record, so none is ever missed.
    async fn moved(&self, limit: usize) -> Result<Vec<Moved>, StoreError>;

    /// The newest checkpoint of `tenant`.
    async fn latest(&self, tenant: &str) -> Result<Option<Checkpoint>, StoreError>;

    /// Appends `checkpoint` as the next of its tenant, never over another: a sequence already
    /// taken is refused (`StoreError::CheckpointTaken`) with nothing written. One that does not
    /// follow the stored chain (sequence not `latest + 1`, or `prev_hash` not the latest's hash)
    /// or records more than [`MAX_HEADS`] heads is the caller's defect (`Internal`), nothing
    /// written. Then every head it records stops being moved, unless its approval moved again
    /// meanwhile (its head is no longer the one recorded).
    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;

    /// Checkpoints of `tenant` from sequence `from` on, oldest first, at most `limit`.
    async fn since(
        &self,
        tenant: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError>;

    /// Each checkpoint that recorded a head of approval `id`: its sequence and that head,
    /// oldest first.
    async fn covering(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Vec<(u64, CheckpointHead)>, StoreError>;
}

/// What every backend checks before it writes a checkpoint: no more than [`MAX_HEADS`] heads,
/// in ascending approval id order once each, and a hash that is its content's. Anything else
/// is the caller's defect, refused as `Internal` with nothing written.
pub fn check_append(checkpoint: &Checkpoint) -> Result<(), StoreError> {
    let c = checkpoint;
    if c.heads.len() > MAX_HEADS {
        return Err(StoreError::Internal(format!(
            "a checkpoint records at most {MAX_HEADS} heads, not {}",
            c.heads.len()
        )));
    }
    if !c
        .heads
        .windows(2)
        .all(|w| w[0].approval_id < w[1].approval_id)
    {
        return Err(StoreError::Internal(
            "a checkpoint's heads must be in ascending approval id order, once each".into(),
        ));
    }
    if c.sequence == 0 || c.hash != c.computed_hash() {
        return Err(StoreError::Internal(format!(
            "checkpoint {} of tenant {} does not hash to its content",
            c.sequence, c.tenant
        )));
    }
    Ok(())
}

/// Where checkpoints are kept, the key that signs them now, and every key that may have signed
/// one (served at `/.well-known/holdpoint/audit-keys`).
pub struct Checkpoints {
    pub log: Arc<dyn CheckpointLog>,
    /// `None` for an operator's reading process, which writes no checkpoint.
    pub signer: Option<Arc<dyn CheckpointSigner>>,
    pub keys: Jwks,
}
