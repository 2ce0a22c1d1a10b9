//! Signed checkpoints (issue 24): per tenant, a signed statement of every approval's audit head
//! that moved since the one before, chained, so that a chain rewritten or rolled back by whoever
//! holds the HMAC key shows against a signature only the checkpoint key can make. Written by the
//! sweep (each minute on AWS; every `HOLDPOINT_CHECKPOINT_SECONDS` locally), served to auditors
//! as evidence bundles, and checked by `holdpoint audit verify` against each chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::audit::checkpoint::{
    Checkpoint, CheckpointHead, Jwks, Standing, head_standing, standing,
};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::seal::Breach;
use holdpoint_core::evidence::{EvidenceBundle, checkpoints_for_chain};
use serde::Serialize;
use uuid::Uuid;

use super::{Service, ServiceError};
use crate::store::StoreError;
use crate::store::checkpoints::{Checkpoints, MAX_HEADS};

/// Moved approvals one checkpoint round reads; a round that read this many goes on.
const MOVED_BATCH: usize = 2_000;
/// Rounds one call makes at most: approvals that keep moving are covered by the next call.
const ROUNDS: usize = 8;
/// Checkpoints a bundle carries at most, from the one that covers its head on.
pub const BUNDLE_CHECKPOINTS: usize = 1_000;

/// What one [`Service::checkpoint`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointReport {
    /// Checkpoints written.
    pub written: usize,
    /// Approval heads they recorded.
    pub heads: usize,
    /// Tenants whose next checkpoint another writer took first (theirs come next time).
    pub contended: usize,
    /// Approvals found behind what a checkpoint recorded of them: reported, never recorded.
    pub rolled_back: usize,
}

/// How one approval's chain stands against the newest checkpoint that recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointCheck {
    /// The checkpoint, and the head it recorded; `None` when none has yet.
    pub checkpoint: Option<(u64, CheckpointHead)>,
    /// Whether the chain still holds that head; `None` when nothing was recorded.
    pub rollback: Option<String>,
}

impl Service {
    /// Writes and reads signed checkpoints through `checkpoints`.
    pub fn with_checkpoints(mut self, checkpoints: Checkpoints) -> Service {
        self.checkpoints = Some(Arc::new(checkpoints));
        self
    }

    /// The public keys checkpoints are verified with, when this service keeps checkpoints.
    pub fn audit_keys(&self) -> Option<&Jwks> {
        self.checkpoints.as_ref().map(|c| &c.keys)
    }

    /// Whether this service can write checkpoints (it keeps them and holds the signing key).
    pub fn writes_checkpoints(&self) -> bool {
        self.checkpoints
            .as_ref()
            .is_some_and(|c| c.signer.is_some())
    }

    pub(super) fn checkpoints(&self) -> Result<&Checkpoints, ServiceError> {
        self.checkpoints
            .as_deref()
            .ok_or_else(|| ServiceError::Unavailable("this service keeps no checkpoints".into()))
    }

    /// Writes one checkpoint per tenant with approvals whose chains moved since their last,
    /// recording their heads now. A tenant whose next checkpoint another writer took first is
    /// left for the next call (its approvals are still moved); so is anything past [`ROUNDS`].
    pub async fn checkpoint(&self) -> Result<CheckpointReport, ServiceError> {
        let cp = self.checkpoints()?;
        let signer = cp.signer.as_deref().ok_or_else(|| {
            ServiceError::KeyUnavailable("this process holds no checkpoint signing key".into())
        })?;
        let mut report = CheckpointReport::default();
        for _ in 0..ROUNDS {
            let moved = cp.log.moved(MOVED_BATCH).await?;
            let full = moved.len() >= MOVED_BATCH;
            let mut by_tenant: BTreeMap<String, Vec<CheckpointHead>> = BTreeMap::new();
            for m in moved {
                by_tenant.entry(m.tenant).or_default().push(m.head);
            }
            if by_tenant.is_empty() {
                break;
            }
            'tenants: for (tenant, heads) in by_tenant {
                let heads = self.recordable(cp, &tenant, heads).await?;
                report.rolled_back += heads.1;
                let heads = heads.0;
                // A checkpoint records at most MAX_HEADS: more take several, in turn.
                for heads in heads.chunks(MAX_HEADS) {
                    let prev = cp.log.latest(&tenant).await?;
                    let next = Checkpoint::signed(
                        prev.as_ref(),
                        &tenant,
                        self.clock.now(),
                        heads.to_vec(),
                        signer,
                    )
                    .await?;
                    match cp.log.append(&next).await {
                        Ok(()) => {
                            report.written += 1;
                            report.heads += heads.len();
                        }
                        Err(StoreError::CheckpointTaken { .. }) => {
                            report.contended += 1;
                            continue 'tenants;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(report)
    }

    /// Of `heads` (moved, of `tenant`), those a checkpoint may record, and how many were left
    /// out: a head behind, or other than, the one the newest checkpoint recorded of its
    /// approval is a rollback (a backup put back, a chain rewritten). It is logged and announced
    /// as an integrity violation, and never recorded, so no checkpoint vouches for it; it stays
    /// moved, and is reported again at the next checkpoint until someone looks.
    async fn recordable(
        &self,
        cp: &Checkpoints,
        tenant: &str,
        heads: Vec<CheckpointHead>,
    ) -> Result<(Vec<CheckpointHead>, usize), ServiceError> {
        let checked: Vec<Result<(CheckpointHead, Option<String>), ServiceError>> =
            futures_util::stream::iter(heads)
                .map(|head| async move {
                    let covering = cp.log.covering(tenant, head.approval_id).await?;
                    if covering.is_empty() {
                        return Ok((head, None));
                    }
                    // Against every checkpoint that recorded it, with the chain as stored: a
                    // chain rewritten after a checkpoint and moved on past it is as wrong as one
                    // cut short.
                    let records = self.store.audit(tenant, head.approval_id).await?;
                    let hashes: Vec<&str> = records.iter().map(|r| r.hash.as_str()).collect();
                    let behind = covering.iter().find_map(|(seq, recorded)| {
                        (standing(&hashes, recorded) != Standing::Holds).then(|| {
                            format!(
                                "rolled back or rewritten: checkpoint {seq} recorded record {} \
                                 as {}, the chain now ends at {} ({})",
                                recorded.sequence, recorded.hash, head.sequence, head.hash
                            )
                        })
                    });
                    Ok((head, behind))
                })
                .buffer_unordered(16)
                .collect()
                .await;
        let (mut keep, mut behind) = (Vec::new(), 0);
        for c in checked {
            match c? {
                (head, None) => keep.push(head),
                (head, Some(reason)) => {
                    behind += 1;
                    if let Some(a) = self.store.get(tenant, head.approval_id).await? {
                        let breach = Breach {
                            approval: a.id,
                            fields: Vec::new(),
                            reason,
                        };
                        self.report(&a, &breach).await;
                    }
                }
            }
        }
        Ok((keep, behind))
    }

    /// The evidence bundle of approval `id` for `caller` (any principal of its tenant, as its
    /// audit trail is): the approval as stored, its records, and its tenant's checkpoints from
    /// the first that recorded its head now (else the last that recorded it, else the newest)
    /// to the newest, at most [`BUNDLE_CHECKPOINTS`].
    pub async fn evidence(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<EvidenceBundle, ServiceError> {
        self.evidence_of(&caller.tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// As [`Service::evidence`], for an operator who names the tenant.
    pub async fn evidence_of(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<EvidenceBundle>, ServiceError> {
        let cp = self.checkpoints()?;
        let Some(approval) = self.store.get(tenant, id).await? else {
            return Ok(None);
        };
        let records = self.store.audit(tenant, id).await?;
        let covering = cp.log.covering(tenant, id).await?;
        // From the first checkpoint that recorded it at all, so every checkpoint that could
        // contradict its chain is in the bundle; for one never recorded, from the last written
        // before its last record, so the bundle shows none could have recorded it.
        let from = match covering.first() {
            Some((seq, _)) => *seq,
            None => match records.last() {
                Some(last) => self.last_checkpoint_before(cp, tenant, last.at).await?,
                None => 1,
            },
        };
        let chosen = cp.log.since(tenant, from, BUNDLE_CHECKPOINTS).await?;
        let chosen = checkpoints_for_chain(&chosen, id, &records).to_vec();
        Ok(Some(EvidenceBundle::new(approval, records, chosen)))
    }

    /// The sequence of `tenant`'s last checkpoint written before `at` (1 when none was): a
    /// binary search over the chain, which is in time order.
    async fn last_checkpoint_before(
        &self,
        cp: &Checkpoints,
        tenant: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, ServiceError> {
        let Some(latest) = cp.log.latest(tenant).await? else {
            return Ok(1);
        };
        let (mut lo, mut hi) = (1, latest.sequence);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let written = cp.log.since(tenant, mid, 1).await?;
            if written.first().is_some_and(|c| c.at < at) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// How approval `id`'s stored chain stands against the newest checkpoint that recorded it
    /// (`None` when no such approval is stored): a chain shorter than, or different from, what
    /// was checkpointed has been rolled back or rewritten, however consistent it is in itself.
    pub async fn checkpoint_check(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<CheckpointCheck>, ServiceError> {
        let cp = self.checkpoints()?;
        let Some(approval) = self.store.get(tenant, id).await? else {
            return Ok(None);
        };
        let records = self.store.audit(tenant, id).await?;
        // Every checkpoint that recorded it, not just the newest: a rolled-back chain that a
        // later checkpoint recorded again (before this check) is still behind an earlier one.
        let covering = cp.log.covering(tenant, id).await?;
        let rollback = covering
            .iter()
            .find_map(|(seq, recorded)| rollback(&approval, &records, *seq, recorded));
        Ok(Some(CheckpointCheck {
            checkpoint: covering.last().cloned(),
            rollback,
        }))
    }
}

/// What is wrong with `approval`'s chain (`records`) against the head checkpoint `seq` recorded.
fn rollback(
    approval: &Approval,
    records: &[AuditRecord],
    seq: u64,
    recorded: &CheckpointHead,
) -> Option<String> {
    let why = |s: Standing| match s {
        Standing::Holds => None,
        Standing::Shorter => Some(format!(
            "checkpoint {seq} recorded head {} but the chain ends at {}",
            recorded.sequence, approval.audit_head.sequence
        )),
        Standing::Differs => Some(format!(
            "checkpoint {seq} recorded record {} with another hash",
            recorded.sequence
        )),
    };
    let hashes: Vec<&str> = records.iter().map(|r| r.hash.as_str()).collect();
    why(head_standing(&approval.audit_head, recorded)).or_else(|| why(standing(&hashes, recorded)))
}
