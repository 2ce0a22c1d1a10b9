//! Checkpoints on DynamoDB, in the audit table under its deny policy: one item per checkpoint
//! (`approval = #checkpoint#{tenant}`, `seq` = its sequence) and one per head it recorded
//! (`approval = #covers#{tenant}#{id}`, `seq` = the checkpoint's sequence). Tenant names hold no
//! `#`, so no chain key (`{tenant}#{id}`) starts with one: these keys meet no record's.
//!
//! The approvals' moved mark is `moved_shard`, read through the sparse keys-only `moved_keys`
//! index (sharded like the due index: every create and transition writes it).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{CancellationReason, ConditionCheck, TransactWriteItem};
use uuid::Uuid;

use super::item::{self, Item, n, s};
use super::{Cancelled, DynamoStore, MOVED_KEYS, put, sdk_error, write};
use crate::store::StoreError;
use crate::store::checkpoints::{CheckpointLog, Moved, check_append};
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead};

/// TransactWriteItems' most items.
const TRANSACT_ITEMS: usize = 100;
/// Moved marks cleared at once.
const CLEARING: usize = 16;

fn checkpoint_key(tenant: &str) -> String {
    format!("#checkpoint#{tenant}")
}

fn covers_key(tenant: &str, id: Uuid) -> String {
    format!("#covers#{tenant}#{id}")
}

fn checkpoint_item(c: &Checkpoint) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("approval".into(), s(checkpoint_key(&c.tenant))),
        ("seq".into(), n(c.sequence)),
        ("hash".into(), s(&c.hash)),
        ("doc".into(), item::packed(c)?),
    ]))
}

fn covers_item(tenant: &str, sequence: u64, h: &CheckpointHead) -> Item {
    Item::from([
        ("approval".into(), s(covers_key(tenant, h.approval_id))),
        ("seq".into(), n(sequence)),
        ("head_seq".into(), n(h.sequence)),
        ("head_hash".into(), s(&h.hash)),
    ])
}

/// A condition that did not hold, not a conflict with another transaction (worth a retry).
fn refused(reason: Option<&CancellationReason>) -> bool {
    reason.and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

impl DynamoStore {
    /// The first transaction: the check that the previous checkpoint is stored with the hash
    /// this one names, the checkpoint where none is, and as many covers items as fit. Either
    /// all of it is written or none.
    async fn put_checkpoint(
        &self,
        c: &Checkpoint,
        first: &[CheckpointHead],
    ) -> Result<(), StoreError> {
        let audit = &self.tables.audit;
        let mut items = Vec::with_capacity(TRANSACT_ITEMS);
        if c.sequence > 1 {
            let check = ConditionCheck::builder()
                .table_name(audit)
                .key("approval", s(checkpoint_key(&c.tenant)))
                .key("seq", n(c.sequence - 1))
                .condition_expression("#h = :prev")
                .expression_attribute_names("#h", "hash")
                .expression_attribute_values(":prev", s(&c.prev_hash))
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        let at = items.len();
        items.push(write(put(
            audit,
            checkpoint_item(c)?,
            "attribute_not_exists(approval)",
        ))?);
        for h in first {
            let covers = covers_item(&c.tenant, c.sequence, h);
            items.push(write(put(audit, covers, "attribute_not_exists(approval)"))?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Error(e)) => Err(e),
            Err(Cancelled::Reasons(reasons)) if refused(reasons.get(at)) => {
                Err(StoreError::CheckpointTaken {
                    tenant: c.tenant.clone(),
                    sequence: c.sequence,
                })
            }
            Err(Cancelled::Reasons(reasons)) if at == 1 && refused(reasons.first()) => {
                Err(StoreError::Internal(format!(
                    "checkpoint {} of tenant {} does not follow the stored chain",
                    c.sequence, c.tenant
                )))
            }
            Err(Cancelled::Reasons(reasons)) if reasons.iter().any(|r| refused(Some(r))) => {
                Err(StoreError::Internal(format!(
                    "checkpoint {} of tenant {}: what it covers is already stored",
                    c.sequence, c.tenant
                )))
            }
            Err(Cancelled::Reasons(reasons)) => Err(StoreError::Unavailable(format!(
                "checkpoint cancelled: {:?}",
                reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
            ))),
        }
    }

    /// Removes the moved mark of `h`'s approval if its head is still `h`: each change writes one
    /// record, so its version is its head's sequence (`check_transition`).
    async fn clear_moved(&self, tenant: &str, h: &CheckpointHead) -> Result<(), StoreError> {
        let cleared = self
            .client
            .update_item()
            .table_name(&self.tables.approvals)
            .key("pk", s(item::approval_pk(tenant, h.approval_id)))
            .update_expression("REMOVE #m")
            .condition_expression("#v = :v")
            .expression_attribute_names("#m", item::MOVED)
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(h.sequence))
            .send()
            .await;
        match cleared {
            Ok(_) => Ok(()),
            // Moved again (or not this tenant's): it stays moved.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The keys of up to `limit` moved approvals of one shard of the moved index.
    async fn moved_in_shard(&self, shard: u32, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pks = Vec::new();
        let mut start = None;
        while pks.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&self.tables.approvals)
                .index_name(MOVED_KEYS)
                .key_condition_expression("#m = :shard")
                .expression_attribute_names("#m", item::MOVED)
                .expression_attribute_values(":shard", s(shard.to_string()))
                .limit(i32::try_from(limit - pks.len()).unwrap_or(1_000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            pks.extend(out.items().iter().filter_map(|i| item::string(i, "pk")));
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(pks)
    }

    /// Items of the audit table under `key`, in `seq` order from `from`, at most `limit`.
    async fn audit_items(
        &self,
        key: String,
        from: u64,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        while items.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("approval = :k AND seq >= :from")
                .expression_attribute_values(":k", s(&key))
                .expression_attribute_values(":from", n(from))
                .scan_index_forward(!newest_first)
                .consistent_read(true)
                .limit(i32::try_from(limit - items.len()).unwrap_or(1_000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }
}

#[async_trait]
impl CheckpointLog for DynamoStore {
    async fn moved(&self, limit: usize) -> Result<Vec<Moved>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let shards = self.tables.due_shards.max(1);
        let share = limit.div_ceil(shards as usize).max(1);
        let queries = (0..shards).map(|shard| self.moved_in_shard(shard, share));
        let mut pks: Vec<String> = futures_util::future::try_join_all(queries)
            .await?
            .into_iter()
            .flatten()
            .collect();
        pks.truncate(limit);
        let reads = pks.chunks(TRANSACT_ITEMS).map(|c| self.items_at(c, true));
        let mut moved = Vec::with_capacity(pks.len());
        for i in futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
        {
            // The index lags its table: a mark cleared since is no longer moved.
            if !i.contains_key(item::MOVED) {
                continue;
            }
            match item::approval_from(&i, self.tables.due_shards) {
                Ok(a) => moved.push(Moved {
                    tenant: a.tenant.clone(),
                    head: CheckpointHead::of(a.id, &a.audit_head),
                }),
                // As the sweep does: one unreadable item must not stop every tenant's checkpoints.
                Err(e) => {
                    tracing::error!(error = %e, "an unreadable approval is left out of checkpoints")
                }
            }
        }
        Ok(moved)
    }

    async fn latest(&self, tenant: &str) -> Result<Option<Checkpoint>, StoreError> {
        let items = self.audit_items(checkpoint_key(tenant), 0, 1, true).await?;
        items
            .first()
            .map(|i| item::from_doc(i, "checkpoint"))
            .transpose()
    }

    /// One transaction for the checkpoint and the first of what it covers (all of it when it
    /// records at most 98 heads); the rest after, by the writer that won the sequence only. If
    /// that is cut short, the marks stay and the next checkpoint records those heads again.
    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        check_append(checkpoint)?;
        let c = checkpoint;
        let room = TRANSACT_ITEMS - 1 - usize::from(c.sequence > 1);
        let (first, rest) = c.heads.split_at(c.heads.len().min(room));
        self.put_checkpoint(c, first).await?;
        for chunk in rest.chunks(TRANSACT_ITEMS) {
            let items = chunk
                .iter()
                .map(|h| {
                    let covers = covers_item(&c.tenant, c.sequence, h);
                    write(put(
                        &self.tables.audit,
                        covers,
                        "attribute_not_exists(approval)",
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?;
            match self.transact(items).await {
                Ok(()) => {}
                Err(Cancelled::Error(e)) => return Err(e),
                Err(Cancelled::Reasons(r)) => {
                    return Err(StoreError::Unavailable(format!(
                        "checkpoint {} covers cancelled: {:?}",
                        c.sequence,
                        r.iter().map(|r| r.code()).collect::<Vec<_>>()
                    )));
                }
            }
        }
        for chunk in c.heads.chunks(CLEARING) {
            // By index: a closure over a borrowed head is not general enough for async_trait.
            let clears = (0..chunk.len()).map(|i| self.clear_moved(&c.tenant, &chunk[i]));
            futures_util::future::try_join_all(clears).await?;
        }
        Ok(())
    }

    async fn since(
        &self,
        tenant: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let items = self
            .audit_items(checkpoint_key(tenant), from, limit, false)
            .await?;
        items
            .iter()
            .map(|i| item::from_doc(i, "checkpoint"))
            .collect()
    }

    async fn covering(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Vec<(u64, CheckpointHead)>, StoreError> {
        let items = self
            .audit_items(covers_key(tenant, id), 0, usize::MAX, false)
            .await?;
        items
            .iter()
            .map(|i| {
                let number = |name: &str| i.get(name).and_then(item::number);
                match (
                    number("seq"),
                    number("head_seq"),
                    item::string(i, "head_hash"),
                ) {
                    (Some(c), Some(sequence), Some(hash)) => Ok((
                        c,
                        CheckpointHead {
                            approval_id: id,
                            sequence,
                            hash,
                        },
                    )),
                    _ => Err(StoreError::Internal(format!(
                        "a covers item of approval {id} is incomplete"
                    ))),
                }
            })
            .collect()
    }
}
