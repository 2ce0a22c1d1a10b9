//! Deliveries in DynamoDB (`DeliveriesTable` in `template.yaml`): pk = `{tenant}#{approval}`,
//! sk = the delivery id, so an approval's deliveries are one Query; the `recent` index (tenant,
//! created) gives a tenant's newest. On AWS the notify function retries within its invocation
//! and Lambda's asynchronous retries retry the invocation: there is no queue to poll here.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Delivery, DeliveryLog};
use crate::store::StoreError;
use crate::store::dynamodb::item::{Item, from_doc, s};
use crate::store::dynamodb::sdk_error;

#[derive(Clone)]
pub struct DynamoDeliveries {
    client: Client,
    table: String,
}

fn pk(tenant: &str, approval: Uuid) -> String {
    format!("{tenant}#{approval}")
}

fn item(d: &Delivery) -> Result<Item, StoreError> {
    let body = serde_json::to_string(d).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Item::from([
        ("pk".to_owned(), s(pk(&d.tenant, d.approval_id))),
        ("sk".to_owned(), s(&d.id)),
        ("tenant".to_owned(), s(&d.tenant)),
        (
            "created".to_owned(),
            s(format!(
                "{}#{}",
                holdpoint_core::time::format(&d.created_at),
                d.id
            )),
        ),
        ("status".to_owned(), s(d.status.as_str())),
        ("doc".to_owned(), s(body)),
    ]))
}

fn decode(item: &Item) -> Result<Delivery, StoreError> {
    from_doc(item, "delivery")
}

impl DynamoDeliveries {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDeliveries {
        DynamoDeliveries {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl DeliveryLog for DynamoDeliveries {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        for d in deliveries {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item(d)?))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => {}
                // Planned before (a republished event, a retried invocation): that one stands.
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() => {}
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Ok(())
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(delivery)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get(
        &self,
        tenant: &str,
        approval: Uuid,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk(tenant, approval)))
            .key("sk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .item
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn due(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<Delivery>, StoreError> {
        Err(StoreError::Internal(
            "on DynamoDB the notify function retries deliveries; there is no queue to poll".into(),
        ))
    }

    async fn of_approval(&self, tenant: &str, approval: Uuid) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk(tenant, approval)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for i in page.items() {
                out.push(decode(i)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn recent(
        &self,
        tenant: Option<&str>,
        failed: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let tenant = tenant.ok_or_else(|| {
            StoreError::Internal("on DynamoDB, deliveries are listed one tenant at a time".into())
        })?;
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        while out.len() < limit {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("recent")
                .key_condition_expression("tenant = :t")
                .expression_attribute_values(":t", s(tenant))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take());
            if failed {
                q = q
                    .filter_expression("#s = :failed")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":failed", s("failed"));
            }
            let page = q.send().await.map_err(sdk_error)?;
            for i in page.items() {
                out.push(decode(i)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}
