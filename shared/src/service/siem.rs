//! The audit trail for a SIEM (issue 24): a tenant's records and checkpoints as JSON lines, in
//! checkpoint order, resumable by a cursor. Each checkpoint is preceded by the records it newly
//! covers (those after the head the checkpoint before it recorded of the same approval), so a
//! consumer holds only what some signed checkpoint vouches for, and can check each line as it
//! arrives. What no checkpoint covers yet follows with the next one (a minute at most on AWS).
//! Records a checkpoint recorded but the store no longer holds as recorded (deleted, cut short,
//! rewritten) are named by a `mismatch` line, never skipped in silence.

use chrono::{DateTime, Utc};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead};
use serde::Serialize;
use uuid::Uuid;

use super::{Service, ServiceError};

/// Checkpoints one page holds at most.
pub const PAGE_CHECKPOINTS: usize = 100;

/// One line of the export.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportLine {
    Record(AuditRecord),
    Checkpoint(Checkpoint),
    /// What the store holds is not what the checkpoint recorded: records missing (an approval
    /// deleted, a chain cut short) or other than recorded (rewritten). Said, never skipped.
    Mismatch {
        approval_id: Uuid,
        checkpoint: u64,
        problem: String,
    },
}

/// A page of the export: its lines, and the cursor of the next page (the checkpoint sequence
/// to go on from; the same as this page's when it was empty).
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub lines: Vec<ExportLine>,
    pub next: u64,
}

impl Service {
    /// The lines of `tenant`'s checkpoints from sequence `from` on (at most
    /// [`PAGE_CHECKPOINTS`]), or from the first written at or after `since` when no cursor is
    /// given; `next` is where the next page starts (this one's if there was nothing).
    pub async fn export_since(
        &self,
        tenant: &str,
        from: Option<u64>,
        since: Option<DateTime<Utc>>,
    ) -> Result<ExportPage, ServiceError> {
        let cp = self.checkpoints()?;
        let mut from = from.unwrap_or(1).max(1);
        let mut page = cp.log.since(tenant, from, PAGE_CHECKPOINTS).await?;
        if let Some(since) = since {
            // Checkpoints are written in time order: the first at or after `since`.
            while !page.is_empty() && page.last().is_some_and(|c| c.at < since) {
                from = page.last().map_or(from, |c| c.sequence + 1);
                page = cp.log.since(tenant, from, PAGE_CHECKPOINTS).await?;
            }
            page.retain(|c| c.at >= since);
        }
        let next = page.last().map_or(from, |c| c.sequence + 1);
        let mut lines = Vec::new();
        for c in page {
            for head in &c.heads {
                lines.extend(self.newly_covered(tenant, c.sequence, head).await?);
            }
            lines.push(ExportLine::Checkpoint(c));
        }
        Ok(ExportPage { lines, next })
    }

    /// The records of `head`'s approval that checkpoint `checkpoint` covers and no earlier one
    /// did: after the head the checkpoint before recorded, up to `head` — each of them, and the
    /// last with the hash `head` recorded, or a mismatch line saying what is not so.
    async fn newly_covered(
        &self,
        tenant: &str,
        checkpoint: u64,
        head: &CheckpointHead,
    ) -> Result<Vec<ExportLine>, ServiceError> {
        let cp = self.checkpoints()?;
        let id = head.approval_id;
        let before = cp
            .log
            .covering(tenant, id)
            .await?
            .into_iter()
            .filter(|(seq, _)| *seq < checkpoint)
            .map(|(_, h)| h.sequence)
            .max()
            .unwrap_or(0);
        let mut records = self.store.audit(tenant, id).await?;
        records.retain(|r| r.sequence > before && r.sequence <= head.sequence);
        let whole = records.len() as u64 == head.sequence - before.min(head.sequence)
            && records
                .iter()
                .zip(before + 1..)
                .all(|(r, n)| r.sequence == n);
        let problem = if !whole {
            Some(format!(
                "records {} to {} are not all stored",
                before + 1,
                head.sequence
            ))
        } else if records.last().is_some_and(|r| r.hash != head.hash) {
            Some(format!(
                "record {} is not the one the checkpoint recorded",
                head.sequence
            ))
        } else {
            None
        };
        let mut lines: Vec<ExportLine> = records.into_iter().map(ExportLine::Record).collect();
        if let Some(problem) = problem {
            lines.push(ExportLine::Mismatch {
                approval_id: id,
                checkpoint,
                problem,
            });
        }
        Ok(lines)
    }
}
