//! Planning, keeping and sending deliveries: the same code in the local server (a persisted
//! queue in `deliveries.db`, polled and woken) and in the notify function (which delivers one
//! event's deliveries, retrying within its invocation, and fails the invocation for Lambda to
//! retry what is left).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::send::Courier;
use super::{Channel, Delivery, DeliveryLog, DeliveryStatus, LinkMinter, PlanError, plan};
use crate::directory::Directory;
use crate::events::{EventSink, LifecycleEvent, PublishError};
use holdpoint_core::retry::RetryPolicy;

/// Deliveries sent at once.
const CONCURRENCY: usize = 16;
/// How often the local queue is looked at when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);

pub struct Notifier {
    log: Arc<dyn DeliveryLog>,
    courier: Courier,
    directory: Arc<dyn Directory>,
    policy: RetryPolicy,
    wake: Notify,
    /// Mints each reviewer's link as their message is planned, and tells whether an approval
    /// still waits: a reviewer is not asked about one that does not.
    links: LinkMinter,
}

impl Notifier {
    /// Deliveries kept in `log`, sent by `courier` to the principals of `directory`; reviewers'
    /// links minted by `links`, and a reviewer asked only while the approval still waits.
    pub fn new(
        log: Arc<dyn DeliveryLog>,
        courier: Courier,
        directory: Arc<dyn Directory>,
        policy: RetryPolicy,
        links: LinkMinter,
    ) -> Notifier {
        Notifier {
            log,
            courier,
            directory,
            policy,
            wake: Notify::new(),
            links,
        }
    }

    pub fn log(&self) -> &Arc<dyn DeliveryLog> {
        &self.log
    }

    /// Plans what `events` owe and keeps it (deliveries already kept stand); answers each
    /// delivery as now kept. Without a key for a reviewer's link nothing is kept: planned again
    /// later.
    pub async fn keep(&self, events: &[LifecycleEvent]) -> Result<Vec<Delivery>, PlanError> {
        let now = Utc::now();
        let mut planned = Vec::new();
        for e in events {
            planned.extend(plan(e, self.directory.as_ref(), &self.links, now).await?);
        }
        self.log.enqueue(&planned).await?;
        let mut kept = Vec::with_capacity(planned.len());
        for d in planned {
            match self.log.get(&d.tenant, d.approval_id, &d.id).await? {
                Some(stored) => kept.push(stored),
                None => kept.push(d),
            }
        }
        Ok(kept)
    }

    /// One attempt at `d`, recorded and saved; answers it as saved.
    pub async fn attempt(&self, mut d: Delivery) -> Delivery {
        let now = Utc::now();
        let asks_reviewer = d.channel != Channel::Callback;
        let waits = if asks_reviewer {
            self.links.waits(&d.tenant, d.approval_id, now).await
        } else {
            Ok(true)
        };
        match waits {
            Ok(true) => {
                let outcome = self.courier.attempt(&d, now).await;
                d.record(outcome, Utc::now(), &self.policy);
            }
            Ok(false) => d.skip("the approval no longer waits for its reviewers", now),
            Err(e) => d.record(
                super::Outcome::Retry {
                    error: format!("could not tell whether the approval still waits: {e}"),
                    status: None,
                    retry_after: None,
                },
                now,
                &self.policy,
            ),
        }
        match d.status {
            DeliveryStatus::Delivered => {
                tracing::info!(delivery = %d.id, attempts = d.attempts, "delivered")
            }
            DeliveryStatus::Failed => {
                crate::metrics::delivery_failed();
                tracing::warn!(delivery = %d.id, attempts = d.attempts, error = ?d.last_error, "delivery failed")
            }
            DeliveryStatus::Skipped => {
                tracing::info!(delivery = %d.id, "not sent: the approval no longer waits")
            }
            DeliveryStatus::Pending => {
                tracing::info!(delivery = %d.id, attempts = d.attempts, error = ?d.last_error, "delivery will be retried")
            }
        }
        if let Err(e) = self.log.save(&d).await {
            // Attempted again later: receivers de-duplicate by webhook-id.
            tracing::warn!(delivery = %d.id, error = %e, "the attempt was not recorded");
        }
        d
    }

    /// Delivers those of `deliveries` still pending, waiting out each backoff, until all are
    /// over or `deadline` would pass; answers every one of them as it now stands.
    pub async fn deliver_until(
        &self,
        deliveries: Vec<Delivery>,
        deadline: Instant,
    ) -> Vec<Delivery> {
        let (mut pending, mut over): (Vec<_>, Vec<_>) = deliveries
            .into_iter()
            .partition(|d| d.status == DeliveryStatus::Pending);
        loop {
            let now = Utc::now();
            let (due, later): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|d| d.next_attempt_at <= now);
            let done: Vec<Delivery> = futures_util::stream::iter(due)
                .map(|d| self.attempt(d))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            pending = later;
            for d in done {
                if d.status == DeliveryStatus::Pending {
                    pending.push(d);
                } else {
                    over.push(d);
                }
            }
            let Some(next) = pending.iter().map(|d| d.next_attempt_at).min() else {
                return over;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            // An attempt may take up to the HTTP timeout: start none that could not finish.
            if Instant::now() + wait + super::send::HTTP_TIMEOUT > deadline {
                over.extend(pending);
                return over;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The local queue: delivers whatever is due, woken by new deliveries, forever.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.log.due(Utc::now(), 256).await {
                Ok(due) if !due.is_empty() => {
                    futures_util::stream::iter(due)
                        .map(|d| self.attempt(d))
                        .buffer_unordered(CONCURRENCY)
                        .for_each(|_| async {})
                        .await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the delivery queue could not be read"),
            }
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        }
    }
}

/// Publishes to `inner`, then keeps the deliveries the events owe and wakes the local queue. A
/// failure to keep them fails the publish, so the sweep publishes the events again (deliveries
/// kept before stand, by their ids): nothing is lost.
pub struct NotifyingSink {
    inner: Arc<dyn EventSink>,
    notifier: Arc<Notifier>,
}

impl NotifyingSink {
    pub fn new(inner: Arc<dyn EventSink>, notifier: Arc<Notifier>) -> NotifyingSink {
        NotifyingSink { inner, notifier }
    }
}

#[async_trait]
impl EventSink for NotifyingSink {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        self.inner.publish(events).await?;
        self.notifier
            .keep(events)
            .await
            .map_err(|e| PublishError(format!("deliveries not kept: {e}")))?;
        self.notifier.wake.notify_one();
        Ok(())
    }
}
