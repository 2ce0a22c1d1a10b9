//! The DynamoDB store: every change is one TransactWriteItems whose Puts are conditional (the
//! outbox's mark one conditional UpdateItem); a read is one GetItem, or one Query of a keys-only
//! index and one BatchGetItem of the approvals it names. No Scan.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Status};

mod batch;
mod checkpoints;
mod due;
pub mod item;
pub mod tables;

use item::{Item, n, s};

pub use crate::config::Tables;

/// The approvals table's indexes, each projecting only keys (`_keys`: a projection cannot change
/// in place, so these replaced `by_tenant`, `by_status` and `due`, which projected everything).
pub const BY_TENANT: &str = "by_tenant_keys";
pub const BY_STATUS: &str = "by_status_keys";
pub const DUE: &str = "due_keys";
/// Sparse: approvals whose chain moved since a checkpoint recorded its head (`checkpoints`).
pub const MOVED_KEYS: &str = "moved_keys";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

/// The SDK configuration from the standard environment (region, credentials,
/// `AWS_ENDPOINT_URL`), with the standard retry mode and a bounded number of attempts.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

pub(crate) fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(se) => service_error(se.err(), detail),
        _ => StoreError::Internal(detail),
    }
}

/// Throttling and server-side failures are worth retrying later; anything else is a defect.
fn service_error(e: &impl ProvideErrorMetadata, detail: String) -> StoreError {
    match e.code() {
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "LimitExceededException",
        ) => StoreError::Unavailable(detail),
        _ => StoreError::Internal(detail),
    }
}

fn failed(reason: &CancellationReason) -> bool {
    reason.code().is_some_and(|c| c != "None")
}

/// A conditional Put that returns the stored item when its condition fails.
fn put(table: &str, item: Item, condition: &str) -> PutBuilder {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
}

fn write(put: PutBuilder) -> Result<TransactWriteItem, StoreError> {
    let put = put
        .build()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> DynamoStore {
        DynamoStore { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Cancelled> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e {
                SdkError::ServiceError(se) => match se.into_err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        Cancelled::Reasons(c.cancellation_reasons().to_vec())
                    }
                    other => {
                        let detail =
                            aws_sdk_dynamodb::error::DisplayErrorContext(&other).to_string();
                        Cancelled::Error(service_error(&other, detail))
                    }
                },
                other => Cancelled::Error(sdk_error(other)),
            })
    }

    async fn get_item(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.approvals)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// After a lost race the cancellation reason usually carries the item; when it does not
    /// (a concurrent transaction), read it once.
    async fn conflict(&self, reason: &CancellationReason, tenant: &str, id: Uuid) -> StoreError {
        let item = match reason.item() {
            Some(item) => Some(item.clone()),
            None => match self.get_item(item::approval_pk(tenant, id)).await {
                Ok(item) => item,
                Err(e) => return e,
            },
        };
        match item
            .as_ref()
            .map(|i| item::approval_from(i, self.tables.due_shards))
        {
            Some(Ok(current)) => StoreError::Conflict {
                current: Box::new(current),
            },
            Some(Err(e)) => e,
            None => StoreError::NotFound,
        }
    }
}

enum Cancelled {
    Reasons(Vec<CancellationReason>),
    Error(StoreError),
}

#[async_trait]
impl Store for DynamoStore {
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let mut items = vec![
            write(put(
                &self.tables.approvals,
                item::approval_item(approval, self.tables.due_shards)?,
                "attribute_not_exists(pk)",
            ))?,
            write(put(
                &self.tables.audit,
                item::record_item(record)?,
                "attribute_not_exists(approval)",
            ))?,
        ];
        if let Some(k) = idempotency {
            let key_item = Item::from([
                (
                    "pk".into(),
                    s(item::idempotency_pk(&approval.tenant, &k.key)),
                ),
                ("request_hash".into(), s(&k.request_hash)),
                ("approval_id".into(), s(approval.id.to_string())),
            ]);
            items.push(write(put(
                &self.tables.approvals,
                key_item,
                "attribute_not_exists(pk)",
            ))?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Created::New(approval.clone())),
            Err(Cancelled::Error(e)) => Err(e),
            Err(Cancelled::Reasons(reasons)) => {
                if let (Some(k), Some(reason)) = (idempotency, reasons.get(2))
                    && failed(reason)
                {
                    let seen = match reason.item() {
                        Some(i) => Some(i.clone()),
                        None => {
                            self.get_item(item::idempotency_pk(&approval.tenant, &k.key))
                                .await?
                        }
                    };
                    let Some(seen) = seen else {
                        return Err(StoreError::Unavailable("idempotency key in flux".into()));
                    };
                    if item::string(&seen, "request_hash").as_deref() != Some(&k.request_hash) {
                        return Err(StoreError::IdempotencyKeyReused);
                    }
                    let id = item::string(&seen, "approval_id")
                        .and_then(|id| Uuid::try_parse(&id).ok())
                        .ok_or_else(|| StoreError::Internal("idempotency item has no id".into()))?;
                    let existing = self.get(&approval.tenant, id).await?;
                    return existing.map(Created::Existing).ok_or(StoreError::NotFound);
                }
                if reasons.first().is_some_and(failed) {
                    return Err(StoreError::AlreadyExists);
                }
                Err(StoreError::Unavailable(format!(
                    "create cancelled: {:?}",
                    reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                )))
            }
        }
    }

    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        self.get_item(item::approval_pk(tenant, id))
            .await?
            .as_ref()
            .map(|i| item::approval_from(i, self.tables.due_shards))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        // The index narrows by tenant and stored status; every other filter, and status as seen
        // at `now` (lazy expiry, which only the domain knows), `ListFilter::matches` applies to
        // the approvals read. Like a FilterExpression, it filters after `Limit`: a page may
        // hold fewer items.
        let (index, pk_name, pk_value) = match filter.narrowed_status() {
            // Seen at `now`, these span stored statuses (lazy expiry, lazy lapse).
            Some(Status::Expired | Status::Lapsed) | None => {
                (BY_TENANT, "tenant", tenant.to_owned())
            }
            Some(status) => (
                BY_STATUS,
                "tenant_status",
                item::tenant_status(tenant, status),
            ),
        };
        let start = after.map(|c| {
            Item::from([
                ("pk".into(), s(item::approval_pk(tenant, c.id))),
                (pk_name.into(), s(&pk_value)),
                ("created".into(), s(item::created_key(c))),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.tables.approvals)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&pk_value))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let pks: Vec<String> = out
            .items()
            .iter()
            .filter_map(|i| item::string(i, "pk"))
            .collect();
        // Eventually consistent, like the index the page came from: half the read units.
        let mut items = self.approvals_at(&pks, false, false).await?;
        items.retain(|a| filter.matches(a, now));
        let next = out.last_evaluated_key().and_then(item::cursor_from_key);
        Ok(Page { items, next })
    }

    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError> {
        super::check_transition(expected_version, next, record)?;
        let state = put(
            &self.tables.approvals,
            item::approval_item(next, self.tables.due_shards)?,
            "#v = :expected",
        )
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":expected", n(expected_version));
        let items = vec![
            write(state)?,
            write(put(
                &self.tables.audit,
                item::record_item(record)?,
                "attribute_not_exists(approval)",
            ))?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Error(e)) => Err(e),
            Err(Cancelled::Reasons(reasons)) => {
                let first = reasons
                    .first()
                    .cloned()
                    .unwrap_or_else(|| CancellationReason::builder().code("Unknown").build());
                if !failed(&first) && reasons.get(1).is_some_and(failed) {
                    // The approval is at the version expected, yet its next record exists: the
                    // stored approval was rolled back behind its chain.
                    return Err(StoreError::Integrity {
                        id: next.id,
                        reason: format!(
                            "the audit chain already holds record {} of a state that is not stored",
                            record.sequence
                        ),
                    });
                }
                Err(self.conflict(&first, &next.tenant, next.id).await)
            }
        }
    }

    /// Sets `published` alone, and the due attributes to follow it: no document is rewritten,
    /// and the key-only tenant and status indexes are not touched.
    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.approvals)
            .key("pk", s(item::approval_pk(&approval.tenant, approval.id)))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#p", "published")
            .expression_attribute_values(":v", n(approval.version))
            .expression_attribute_values(":p", n(approval.published_seq));
        let update = match item::due(approval, self.tables.due_shards) {
            Some((shard, at)) => update
                .update_expression("SET #p = :p, due_shard = :shard, due_at = :at")
                .expression_attribute_values(":shard", shard)
                .expression_attribute_values(":at", at),
            None => update.update_expression("SET #p = :p REMOVE due_shard, due_at"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        Ok(self.due_with_items_read(now, limit).await?.0)
    }

    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("approval = :a")
                .expression_attribute_values(":a", s(item::chain_key(tenant, id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for i in out.items() {
                records.push(item::record_from(i)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }
}
