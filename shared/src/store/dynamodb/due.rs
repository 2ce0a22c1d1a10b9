//! The sweep's read: due approvals from the sparse, sharded, keys-only due index, all shards at
//! once, then the approvals themselves in one BatchGetItem per hundred.

use chrono::{DateTime, Utc};

use super::item::{self, s};
use super::{DUE, DynamoStore, sdk_error};
use crate::store::StoreError;
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::time;

impl DynamoStore {
    /// The due approvals and how many index items DynamoDB read to find them (the sweep's
    /// cost, which grows with the number due, not with the table).
    pub async fn due_with_items_read(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<Approval>, usize), StoreError> {
        // The shards are queried at once, each for its share of `limit`: a batch costs one
        // round trip, not one per shard. A shard with more due than its share is read again by
        // the sweep's next batch. The answer goes shard by shard from a random one, so two
        // sweeps running at once mostly work on different approvals instead of racing for the
        // same ones.
        let shards = self.tables.due_shards.max(1);
        let share = limit.div_ceil(shards as usize).max(1);
        let first = rand::random_range(0..shards);
        let queries = (0..shards).map(|i| self.due_in_shard((first + i) % shards, now, share));
        let mut due = Vec::new();
        let mut read = 0;
        for found in futures_util::future::try_join_all(queries).await? {
            read += found.1;
            due.extend(found.0);
        }
        due.truncate(limit);
        // Consistent: the sweep acts on what it reads (and refuses what is no longer due).
        Ok((self.approvals_at(&due, true, true).await?, read))
    }

    /// The keys of up to `limit` due approvals of one shard of the due index, earliest deadline
    /// first.
    async fn due_in_shard(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<String>, usize), StoreError> {
        // `#` sorts before `$`: every deadline at or before `now`, whatever id follows it.
        let bound = format!("{}$", time::format(&now));
        let mut due = Vec::new();
        let mut read = 0;
        let mut start = None;
        loop {
            let remaining = limit.saturating_sub(due.len());
            if remaining == 0 {
                return Ok((due, read));
            }
            let out = self
                .client
                .query()
                .table_name(&self.tables.approvals)
                .index_name(DUE)
                .key_condition_expression("due_shard = :shard AND due_at <= :bound")
                .expression_attribute_values(":shard", s(shard.to_string()))
                .expression_attribute_values(":bound", s(&bound))
                .limit(i32::try_from(remaining).unwrap_or(1_000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            read += usize::try_from(out.scanned_count()).unwrap_or(0);
            due.extend(out.items().iter().filter_map(|i| item::string(i, "pk")));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((due, read));
            }
        }
    }
}
