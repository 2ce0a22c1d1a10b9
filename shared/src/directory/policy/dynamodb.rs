//! Policies in the directory table: one item per version under the partition
//! `policy#{tenant}` (sort key `v#{version}`, zero-padded so the newest sorts last), written
//! only where no item is, so of two edits after the same version one is refused.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use chrono::{DateTime, Utc};

use super::{HISTORY_LIMIT, PolicyStore, StoredPolicy};
use crate::store::StoreError;
use crate::store::dynamodb::item::{from_doc, s};
use crate::store::dynamodb::sdk_error;

#[derive(Clone)]
pub struct DynamoPolicies {
    client: Client,
    table: String,
}

fn partition(tenant: &str) -> String {
    format!("policy#{tenant}")
}

fn sort_key(version: u64) -> String {
    format!("v#{version:020}")
}

impl DynamoPolicies {
    /// Policies in `table`, the directory table.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoPolicies {
        DynamoPolicies {
            client,
            table: table.into(),
        }
    }

    /// The newest `limit` versions of `tenant`'s policy, newest first.
    async fn newest(&self, tenant: &str, limit: usize) -> Result<Vec<StoredPolicy>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :p AND begins_with(sk, :v)")
            .expression_attribute_values(":p", s(partition(tenant)))
            .expression_attribute_values(":v", s("v#"))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        page.items().iter().map(|i| from_doc(i, "policy")).collect()
    }

    async fn exists(&self, tenant: &str, version: u64) -> Result<bool, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(partition(tenant)))
            .key("sk", s(sort_key(version)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(found.item.is_some())
    }
}

#[async_trait]
impl PolicyStore for DynamoPolicies {
    async fn put(
        &self,
        tenant: &str,
        text: &str,
        set_by: &str,
        at: DateTime<Utc>,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        // Versions only grow, so the one read must exist; the conditional put below refuses
        // anything but the first edit after it.
        if expected_version > 0 && !self.exists(tenant, expected_version).await? {
            return Err(StoreError::AlreadyExists);
        }
        let version = expected_version + 1;
        let body = serde_json::to_string(&StoredPolicy {
            version,
            text: text.to_owned(),
            set_by: set_by.to_owned(),
            set_at: at,
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(partition(tenant)))
            .item("sk", s(sort_key(version)))
            .item("tenant", s(tenant))
            .item("doc", s(body))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(version),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn current(&self, tenant: &str) -> Result<Option<StoredPolicy>, StoreError> {
        Ok(self.newest(tenant, 1).await?.into_iter().next())
    }

    async fn history(&self, tenant: &str) -> Result<Vec<StoredPolicy>, StoreError> {
        self.newest(tenant, HISTORY_LIMIT).await
    }
}
