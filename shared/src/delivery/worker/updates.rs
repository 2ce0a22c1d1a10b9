//! The notifier's Slack updates: once an approval leaves pending, every post delivered for it
//! becomes what it came to (no buttons left); a post that lands after that is updated at once,
//! and again when its event is planned again if that update did not get through.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Notifier;
use crate::delivery::{Delivery, DeliveryStatus, Message, PlanError, slack};
use crate::events::LifecycleEvent;
use crate::store::StoreError;

impl Notifier {
    /// The updates of `landed` (delivered posts of `event`) if the approval no longer waits.
    pub(super) async fn late_updates(
        &self,
        event: &LifecycleEvent,
        landed: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let d = &event.detail;
        if self.links.waits(&d.tenant, d.approval_id, now).await? {
            return Ok(Vec::new());
        }
        let Some(message) = self.slack_answer(&d.tenant, d.approval_id, now).await? else {
            return Ok(Vec::new());
        };
        Ok(slack::updates(event, landed, &message, now))
    }

    /// The updates `event` (one that ends asking) owes the Slack posts of its approval
    /// delivered so far: each becomes what the approval, as now stored, came to.
    pub(super) async fn slack_updates(
        &self,
        event: &LifecycleEvent,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, PlanError> {
        let d = &event.detail;
        let deliveries = self.log.of_approval(&d.tenant, d.approval_id).await?;
        if !deliveries
            .iter()
            .any(|p| slack::delivered_post(p).is_some())
        {
            return Ok(Vec::new());
        }
        let Some(message) = self.slack_answer(&d.tenant, d.approval_id, now).await? else {
            return Ok(Vec::new());
        };
        Ok(slack::updates(event, &deliveries, &message, now))
    }

    /// Renders update `d` again from the approval as stored now: an update says what the
    /// approval came to when it is sent, not when it was planned, so a retried "approved" never
    /// overwrites the "carried out" sent after it. Unreadable now: sent as planned.
    pub(super) async fn refresh_update(&self, d: &mut Delivery, now: DateTime<Utc>) {
        let (tenant, id) = (d.tenant.clone(), d.approval_id);
        if let Some(Message::SlackUpdate { post, .. }) = &mut d.message
            && let Ok(Some(now_shown)) = self.slack_answer(&tenant, id, now).await
        {
            *post = now_shown;
        }
    }

    /// What every Slack copy of the approval becomes; `None` while it still waits (or is gone).
    async fn slack_answer(
        &self,
        tenant: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(approval) = self.links.approval(tenant, id).await? else {
            return Ok(None);
        };
        match slack::answer(&approval, now) {
            Ok(message) => Ok(Some(message)),
            Err(e) => {
                tracing::warn!(approval = %id, error = %e, "no Slack update: {e}");
                Ok(None)
            }
        }
    }

    /// A Slack post delivered after its approval left pending (a click that raced it): updated
    /// at once, so it keeps no buttons; answers the update as saved. Its id is the one
    /// [`Notifier::keep`] plans for it when the post's event is planned again.
    pub(super) async fn update_late_post(&self, post: &Delivery) -> Option<Delivery> {
        let now = Utc::now();
        let late = async {
            let event_id = &post.event_id;
            if self
                .links
                .waits(&post.tenant, post.approval_id, now)
                .await?
            {
                return Ok(None);
            }
            let message = self
                .slack_answer(&post.tenant, post.approval_id, now)
                .await?;
            Ok::<_, StoreError>(message.and_then(|m| slack::update(event_id, post, &m, now)))
        };
        let update = match late.await {
            Ok(update) => update?,
            Err(e) => {
                tracing::warn!(delivery = %post.id, error = %e, "could not tell whether a late post needs its update");
                return None;
            }
        };
        let kept = match self.kept(vec![update]).await {
            Ok(mut kept) => kept.pop()?,
            Err(e) => {
                tracing::warn!(delivery = %post.id, error = %e, "the late post's update was not kept");
                return None;
            }
        };
        match kept.status {
            DeliveryStatus::Pending => Some(Box::pin(self.attempt(kept)).await),
            _ => Some(kept),
        }
    }
}
