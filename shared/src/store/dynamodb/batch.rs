//! Approvals by primary key, many at once: the indexes keep only keys (a write through them then
//! costs one unit whatever the approval's size, and a change that moves no index key costs
//! nothing there), so a list page or a sweep batch reads its approvals with BatchGetItem.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::item::{self, Item, s};
use super::{DynamoStore, sdk_error};
use crate::store::StoreError;
use holdpoint_core::domain::approval::Approval;

/// BatchGetItem's most keys per request.
const BATCH: usize = 100;
/// Rounds of unprocessed keys before giving up (throttled for ~2.5 s in all).
const ROUNDS: u32 = 8;

impl DynamoStore {
    /// The approvals stored under `pks`, in their order; a key with no item (gone since the
    /// index was read) is left out. `consistent` for a read that acts on what it finds.
    /// With `skip_unreadable` (the sweep, which reads every tenant's), an item whose document
    /// does not inflate or decode is logged and left out rather than failing the whole batch.
    pub(super) async fn approvals_at(
        &self,
        pks: &[String],
        consistent: bool,
        skip_unreadable: bool,
    ) -> Result<Vec<Approval>, StoreError> {
        // BatchGetItem refuses a key asked twice; an index read across pages can return one
        // twice when its index key moved in between.
        let mut unique: Vec<String> = Vec::with_capacity(pks.len());
        for pk in pks {
            if !unique.contains(pk) {
                unique.push(pk.clone());
            }
        }
        let batches = unique.chunks(BATCH).map(|c| self.items_at(c, consistent));
        let mut found = std::collections::HashMap::with_capacity(pks.len());
        for items in futures_util::future::try_join_all(batches).await? {
            for i in items {
                if let Some(pk) = item::string(&i, "pk") {
                    found.insert(pk, i);
                }
            }
        }
        let mut approvals = Vec::with_capacity(unique.len());
        for (pk, i) in unique
            .iter()
            .filter_map(|pk| found.remove(pk).map(|i| (pk, i)))
        {
            match item::approval_from(&i, self.tables.due_shards) {
                Ok(a) => approvals.push(a),
                Err(e) if skip_unreadable => {
                    tracing::error!(item = %pk, error = %e, "an unreadable approval is left out of the sweep");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(approvals)
    }

    /// One BatchGetItem of up to 100 keys, asked again for what DynamoDB left unprocessed.
    pub(super) async fn items_at(
        &self,
        pks: &[String],
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let table = &self.tables.approvals;
        let keys = pks
            .iter()
            .map(|pk| Item::from([("pk".to_owned(), s(pk))]))
            .collect();
        let mut ask = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))?,
        );
        let mut items = Vec::with_capacity(pks.len());
        let mut round = 0;
        while let Some(keys) = ask.take() {
            if round > 0 {
                // Unprocessed keys mean throttling: back off before asking again.
                tokio::time::sleep(Duration::from_millis(10 << round.min(ROUNDS))).await;
            }
            let mut out = self
                .client
                .batch_get_item()
                .request_items(table, keys)
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(
                out.responses
                    .as_mut()
                    .and_then(|r| r.remove(table))
                    .unwrap_or_default(),
            );
            ask = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .filter(|k| !k.keys().is_empty());
            round += 1;
            if ask.is_some() && round == ROUNDS {
                return Err(StoreError::Unavailable(
                    "approvals still unprocessed after every retry".into(),
                ));
            }
        }
        Ok(items)
    }
}
