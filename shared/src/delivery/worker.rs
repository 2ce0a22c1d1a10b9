//! Planning, keeping and sending deliveries: the same code in the local server (a persisted
//! queue in `deliveries.db`, polled and woken) and in the notify function (which delivers one
//! event's deliveries, retrying within its invocation, and fails the invocation for Lambda to
//! retry what is left).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Notify;
use tokio::task::JoinSet;

mod updates;

use super::schedule::Slots;
use super::send::{ATTEMPT_TIMEOUT, Courier};
use super::{Channel, Delivery, DeliveryLog, DeliveryStatus, LinkMinter, PlanError, plan, slack};
use crate::directory::Directory;
use crate::events::{EventSink, LifecycleEvent, PublishError};
use crate::store::StoreError;
use holdpoint_core::retry::RetryPolicy;

/// Due deliveries read from the local queue at once: more than [`super::schedule::IN_FLIGHT`].
const WINDOW: usize = 256;
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
            // Without Slack there is nothing to update (and nothing more to read).
            if slack::ends_asking(e) && self.courier.has_slack() {
                planned.extend(self.slack_updates(e, now).await?);
            }
        }
        let mut kept = self.kept(planned).await?;
        // Planned again (a retried invocation): a post of its own that landed after the
        // approval left pending, and whose update did not get through then, is owed it still.
        for e in events.iter().filter(|e| !slack::ends_asking(e)) {
            let landed: Vec<_> = kept
                .iter()
                .filter(|d| d.event_id == e.detail.event_id && slack::delivered_post(d).is_some())
                .cloned()
                .collect();
            if !landed.is_empty() {
                let owed = self.late_updates(e, &landed, now).await?;
                kept.extend(self.kept(owed).await?);
            }
        }
        Ok(kept)
    }

    /// Keeps `planned` (those kept already stand); answers each as now kept.
    async fn kept(&self, planned: Vec<Delivery>) -> Result<Vec<Delivery>, StoreError> {
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
    pub async fn attempt(&self, d: Delivery) -> Delivery {
        self.attempt_owing(d).await.0
    }

    /// As [`Notifier::attempt`], with the update a Slack post delivered after its approval left
    /// pending owes at once (attempted once already).
    async fn attempt_owing(&self, mut d: Delivery) -> (Delivery, Option<Delivery>) {
        let now = Utc::now();
        // A sign-in message asks about no approval: nothing to wait for; an update of a Slack
        // message is owed because the approval no longer waits.
        let asks_reviewer = d.channel != Channel::Callback
            && !super::sign_in::is_sign_in(&d)
            && !slack::is_update(&d);
        let waits = if asks_reviewer {
            self.links.waits(&d.tenant, d.approval_id, now).await
        } else {
            Ok(true)
        };
        if slack::is_update(&d) {
            self.refresh_update(&mut d, now).await;
        }
        match waits {
            Ok(true) => {
                // The client's own timeouts bound a POST; this bounds the whole attempt.
                let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, self.courier.attempt(&d, now))
                    .await
                    .unwrap_or_else(|_| super::Outcome::Retry {
                        error: format!("timed out after {}s", ATTEMPT_TIMEOUT.as_secs()),
                        status: None,
                        retry_after: None,
                    });
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
        crate::metrics::delivery_recorded(d.status.as_str(), d.channel.as_str());
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
        // Checked after the receipt is saved: a decision that the planning of its updates did
        // not see this post for comes before this check, which then sees it.
        let owed = match slack::delivered_post(&d) {
            Some(_) => self.update_late_post(&d).await,
            None => None,
        };
        (d, owed)
    }

    /// Delivers those of `deliveries` still pending, each on its own (the slots of
    /// [`super::schedule`]: a target that never answers holds its own two), waiting out each
    /// backoff, until all are over or `deadline` would pass; answers every one as it now stands.
    pub async fn deliver_until(
        &self,
        deliveries: Vec<Delivery>,
        deadline: Instant,
    ) -> Vec<Delivery> {
        let (mut pending, mut over): (Vec<_>, Vec<_>) = deliveries
            .into_iter()
            .partition(|d| d.status == DeliveryStatus::Pending);
        let mut slots = Slots::default();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let now = Utc::now();
            // An attempt may take up to its timeout: start none that could not finish.
            if Instant::now() + ATTEMPT_TIMEOUT <= deadline {
                let (due, later): (Vec<_>, Vec<_>) =
                    pending.into_iter().partition(|d| d.next_attempt_at <= now);
                let taken = slots.take(due);
                pending = later;
                pending.extend(taken.waiting);
                pending.extend(taken.later);
                in_flight.extend(taken.start.into_iter().map(|d| self.attempt_owing(d)));
            }
            if in_flight.is_empty() {
                let Some(next) = pending.iter().map(|d| d.next_attempt_at).min() else {
                    return over;
                };
                let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                if Instant::now() + wait + ATTEMPT_TIMEOUT > deadline {
                    over.extend(pending);
                    return over;
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            // Woken by an attempt over (its slot is free) or by the next backoff ending.
            let next = pending
                .iter()
                .map(|d| d.next_attempt_at)
                .filter(|at| *at > now)
                .min();
            let wait = next.map_or(POLL, |at| (at - now).to_std().unwrap_or(Duration::ZERO));
            tokio::select! {
                Some((d, owed)) = in_flight.next() => {
                    slots.release(&d.id);
                    // A late post's update is this invocation's to finish too.
                    for d in std::iter::once(d).chain(owed) {
                        match d.status {
                            DeliveryStatus::Pending => pending.push(d),
                            _ => over.push(d),
                        }
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The local queue: delivers whatever is due, woken by new deliveries, forever. Each
    /// attempt runs as its own task holding its slots; dropped (at shutdown), the attempts in
    /// flight are abandoned unsaved, so they stay pending in the log and are attempted again.
    pub async fn run(self: Arc<Self>) {
        let mut slots = Slots::default();
        let mut attempts: JoinSet<()> = JoinSet::new();
        let mut ids: HashMap<tokio::task::Id, String> = HashMap::new();
        loop {
            // Attempts over are let go before the queue is read: each was saved as it ended, so
            // it is read as saved; one still running is in `slots` and not taken again.
            while let Some(done) = attempts.try_join_next_with_id() {
                over(done, &mut ids, &mut slots);
            }
            if slots.free() {
                match self.read_due().await {
                    Ok((due, crowded)) => {
                        let taken = slots.take(due);
                        for d in taken.start {
                            let id = d.id.clone();
                            let me = self.clone();
                            let task = attempts.spawn(async move {
                                me.attempt(d).await;
                            });
                            ids.insert(task.id(), id);
                        }
                        // What is not started now is let go, so another instance on a
                        // shared store may send it (deferred ones are let go by their save).
                        let mut unstarted: Vec<String> =
                            taken.later.iter().map(|d| d.id.clone()).collect();
                        if crowded {
                            self.defer(taken.waiting).await;
                        } else {
                            unstarted.extend(taken.waiting.iter().map(|d| d.id.clone()));
                        }
                        if let Err(e) = self.log.release(&unstarted).await {
                            tracing::warn!(error = %e, "deliveries not started were not let go");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "the delivery queue could not be read"),
                }
            }
            tokio::select! {
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    over(done, &mut ids, &mut slots);
                }
                _ = tokio::time::timeout(POLL, self.wake.notified()) => {}
            }
        }
    }

    /// What is due: reviewers' messages first, read apart so that no backlog of callbacks
    /// puts them behind it, then everything (the window is read again if it came back full).
    async fn read_due(&self) -> Result<(Vec<Delivery>, bool), crate::store::StoreError> {
        let now = Utc::now();
        let mut due = self.log.due_messages(now, WINDOW / 4).await?;
        let all = self.log.due(now, WINDOW).await?;
        let crowded = all.len() >= WINDOW;
        due.extend(all);
        Ok((due, crowded))
    }

    /// Moves `waiting` (due, their targets' slots full, filling the window the queue is read
    /// by) back by an attempt's timeout, so the window reaches the deliveries behind them: a
    /// target with many pending deliveries does not starve the others. Not an attempt.
    async fn defer(&self, waiting: Vec<Delivery>) {
        let at = Utc::now() + TimeDelta::from_std(ATTEMPT_TIMEOUT).unwrap_or(TimeDelta::MAX);
        for mut d in waiting {
            d.next_attempt_at = d.next_attempt_at.max(at);
            if let Err(e) = self.log.save(&d).await {
                tracing::warn!(delivery = %d.id, error = %e, "the delivery was not deferred");
            }
        }
    }
}

/// Frees the slots of the attempt `done` (ended or panicked).
fn over(
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    ids: &mut HashMap<tokio::task::Id, String>,
    slots: &mut Slots,
) {
    let task = match done {
        Ok((task, ())) => task,
        Err(e) => e.id(),
    };
    if let Some(id) = ids.remove(&task) {
        slots.release(&id);
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
