//! The deliveries of a local server on the DynamoDB tables: the server's notifier takes what is
//! due from its local retry queue (`deliveries.db`, which survives a restart), and every delivery
//! and each attempt's outcome is recorded in the DynamoDB deliveries table too, where `holdpoint
//! deliveries --store dynamodb` and `GET /v1/approvals/{id}/deliveries` read them. (On AWS the
//! notify function needs no queue: EventBridge and Lambda retry it.)

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Delivery, DeliveryLog};
use crate::store::StoreError;

pub struct Mirrored {
    queue: Arc<dyn DeliveryLog>,
    record: Arc<dyn DeliveryLog>,
}

impl Mirrored {
    /// Sends from `queue`, records in `record`.
    pub fn new(queue: Arc<dyn DeliveryLog>, record: Arc<dyn DeliveryLog>) -> Mirrored {
        Mirrored { queue, record }
    }
}

#[async_trait]
impl DeliveryLog for Mirrored {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        // Recorded first: nothing is sent that the record does not show.
        self.record.enqueue(deliveries).await?;
        self.queue.enqueue(deliveries).await
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.record.save(delivery).await?;
        self.queue.save(delivery).await
    }

    async fn get(
        &self,
        tenant: &str,
        approval: Uuid,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        self.queue.get(tenant, approval, id).await
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.queue.due(now, limit).await
    }

    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.queue.due_messages(now, limit).await
    }

    async fn of_approval(&self, tenant: &str, approval: Uuid) -> Result<Vec<Delivery>, StoreError> {
        self.record.of_approval(tenant, approval).await
    }

    async fn recent(
        &self,
        tenant: Option<&str>,
        failed: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.record.recent(tenant, failed, limit).await
    }
}
