//! Reaching people and agents: what each lifecycle event owes whom, kept as deliveries until
//! each is delivered or has failed for good.
//!
//! - A reviewer with a contact in the directory gets one message per channel (email, webhook, Slack)
//!   with their own review link, when an approval is requested and when it is escalated to them.
//!   Events name reviewers; the link is minted here, for the message ([`links`]).
//! - An agent that gave a `callback_url` gets every terminal change (approved, rejected,
//!   modified, expired, cancelled) and execution, never a review link.
//!
//! A delivery's id is stable (`{event_id}.{channel}.{recipient}`): planning an event twice
//! (a republished event, a retried invocation) finds the deliveries already there, and receivers
//! de-duplicate by it (it is the `webhook-id`). Webhooks and callbacks are signed per Standard
//! Webhooks with the recipient's secret from the directory (the requester's, for callbacks).
//!
//! Retries: capped exponential backoff with equal jitter for timeouts, lost connections, 408,
//! 429 (honouring `Retry-After`) and 5xx; any other 4xx is final. Every attempt is recorded.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::directory::Directory;
use crate::events::LifecycleEvent;
use crate::store::StoreError;
use holdpoint_core::retry::RetryPolicy;
use holdpoint_core::time::rfc3339;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod links;
mod message;
#[cfg(all(feature = "embedded", feature = "dynamodb"))]
pub mod mirrored;
#[cfg(feature = "delivery")]
pub mod schedule;
#[cfg(feature = "delivery")]
pub mod send;
pub mod sign_in;
pub mod slack;
pub mod target;
#[cfg(feature = "delivery")]
pub mod worker;

pub use links::{LinkMinter, PlanError};
pub use message::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Webhook,
    Callback,
    /// A DM from the tenant's Slack app: a post asking a reviewer, or the update of one.
    Slack,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Callback => "callback",
            Channel::Slack => "slack",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    /// Not sent: a message to a reviewer whose approval stopped waiting (decided, expired,
    /// cancelled) before it could be delivered.
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }
}

/// One message to one recipient on one channel, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `{event_id}.{channel}.{recipient}`: the same for every attempt (the `webhook-id`).
    pub id: String,
    pub tenant: String,
    pub approval_id: Uuid,
    pub event_id: String,
    /// The Standard Webhooks event type (`approval.review_requested`, `approval.approved`, …).
    pub event_type: String,
    pub channel: Channel,
    /// The principal it goes to (for a callback, the requester).
    pub recipient: String,
    /// The email address or URL.
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339::option")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, with = "rfc3339::option")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The HTTP status of the last answer, for webhooks and callbacks.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// What is sent; dropped once the delivery is over, so no review link outlives its need.
    #[serde(default)]
    pub message: Option<Message>,
    /// Where a delivered Slack post landed, for its updates; never shown (a DM's id is
    /// nobody's business).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<crate::slack::blocks::Posted>,
}

impl Delivery {
    /// What the requester and reviewers may see of it: never the message (it may hold a review
    /// link) nor the address.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "channel": self.channel,
            "recipient": self.recipient,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": holdpoint_core::time::format(&self.created_at),
            "last_attempt_at": self.last_attempt_at.as_ref().map(holdpoint_core::time::format),
            "delivered_at": self.delivered_at.as_ref().map(holdpoint_core::time::format),
            "next_attempt_at": (self.status == DeliveryStatus::Pending)
                .then(|| holdpoint_core::time::format(&self.next_attempt_at)),
            "last_error": self.last_error,
            "last_status": self.last_status,
        })
    }

    /// Records that `d` is not sent, and why.
    pub fn skip(&mut self, why: &str, now: DateTime<Utc>) {
        self.status = DeliveryStatus::Skipped;
        self.last_attempt_at = Some(now);
        self.last_error = Some(why.to_owned());
        self.message = None;
    }

    /// Records one attempt's `outcome` at `now`: delivered, failed for good, or due again after
    /// a backoff (failed once `policy.attempts` are spent).
    pub fn record(&mut self, outcome: Outcome, now: DateTime<Utc>, policy: &RetryPolicy) {
        self.attempts += 1;
        self.last_attempt_at = Some(now);
        match outcome {
            Outcome::Delivered { status, receipt } => {
                self.status = DeliveryStatus::Delivered;
                self.receipt = receipt;
                self.delivered_at = Some(now);
                self.last_status = status;
                self.last_error = None;
                self.message = None;
            }
            Outcome::Final { error, status } => {
                self.status = DeliveryStatus::Failed;
                self.last_status = status;
                self.last_error = Some(error);
                self.message = None;
            }
            Outcome::Retry {
                error,
                status,
                retry_after,
            } => {
                self.last_status = status;
                if self.attempts >= policy.attempts {
                    self.status = DeliveryStatus::Failed;
                    self.last_error =
                        Some(format!("gave up after {} attempts: {error}", self.attempts));
                    self.message = None;
                } else {
                    self.last_error = Some(error);
                    let wait = policy.delay(self.attempts, retry_after);
                    self.next_attempt_at =
                        now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
                }
            }
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: Option<u16>,
        /// Where a Slack post landed (`None` on every other channel).
        receipt: Option<crate::slack::blocks::Posted>,
    },
    /// Worth trying again: a timeout, a lost connection, 408, 429, 5xx, a mail server's
    /// temporary refusal. `retry_after` is what the receiver asked for.
    Retry {
        error: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
    },
    /// Never worth repeating: another 4xx, a refused address, no secret to sign with.
    Final { error: String, status: Option<u16> },
}

/// Where deliveries are kept: the record of every attempt, and locally the retry queue.
#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Stores each delivery unless one with its id is stored already (then that one stands).
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;

    /// Stores `delivery` in place of the one with its id.
    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError>;

    /// One delivery by approval and id.
    async fn get(
        &self,
        tenant: &str,
        approval: Uuid,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError>;

    /// Pending deliveries due by `now`, oldest first, at most `limit`.
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// As [`DeliveryLog::due`], reviewers' messages only (no callbacks): read apart, so however
    /// many callbacks an agent has waiting on dead receivers, reviewers' messages are never
    /// behind them in the queue.
    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut due = self.due(now, limit).await?;
        due.retain(|d| d.channel != Channel::Callback);
        Ok(due)
    }

    /// Lets go of `ids`, read from [`DeliveryLog::due`] but not attempted now, so another
    /// instance on the same store may take them (PostgreSQL's claims; a store only one process
    /// sends from has nothing to let go of).
    async fn release(&self, _ids: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    /// The deliveries of one approval, in the order they were planned.
    async fn of_approval(&self, tenant: &str, approval: Uuid) -> Result<Vec<Delivery>, StoreError>;

    /// The newest `limit` deliveries of `tenant` (of every tenant when `None`), failed ones
    /// only when `failed`.
    async fn recent(
        &self,
        tenant: Option<&str>,
        failed: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
}

/// What `event` owes whom: a message per channel to each reviewer it asks (as the directory has
/// them), with their own link from `links`, and the callback of a terminal change. A reviewer
/// the approval no longer waits for gets a skipped delivery. Reads the directory and the
/// approval; writes nothing.
pub async fn plan(
    event: &LifecycleEvent,
    directory: &dyn Directory,
    links: &LinkMinter,
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, PlanError> {
    let d = &event.detail;
    let mut out = Vec::new();
    let new =
        |channel: Channel, recipient: &str, target: &str, event_type: &str, m: Option<Message>| {
            Delivery {
                id: format!("{}.{}.{recipient}", d.event_id, channel.as_str()),
                tenant: d.tenant.clone(),
                approval_id: d.approval_id,
                event_id: d.event_id.clone(),
                event_type: event_type.to_owned(),
                channel,
                recipient: recipient.to_owned(),
                target: target.to_owned(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                created_at: now,
                next_attempt_at: now,
                last_attempt_at: None,
                delivered_at: None,
                last_error: None,
                last_status: None,
                message: m,
                receipt: None,
            }
        };
    let minting = match d.reviewers.is_empty() {
        true => links::Minting::NotWaiting,
        false => links.minting(d, now).await?,
    };
    for reviewer in &d.reviewers {
        let Some(entry) = directory.get(&d.tenant, reviewer).await? else {
            continue;
        };
        let event_type = message::review_type(d.event);
        let link = links.link(&minting, event, &entry);
        let mut asked = |channel, target: &str, m: Option<Message>| {
            let mut delivery = new(channel, &entry.name, target, event_type, m);
            if delivery.message.is_none() {
                delivery.skip("the approval no longer waits for this reviewer", now);
            }
            out.push(delivery);
        };
        if let Some(email) = &entry.email {
            let m = link
                .as_deref()
                .map(|url| message::review_email(event, &entry.name, url));
            asked(Channel::Email, email, m);
        }
        if let Some(target) = &entry.webhook {
            let m = link
                .as_deref()
                .map(|url| message::review_webhook(event, &entry.name, url, now));
            asked(Channel::Webhook, target, m);
        }
        if let Some(user) = &entry.slack {
            let post = link
                .as_deref()
                .and_then(|url| message::review_slack(&minting, event, &entry, url));
            match post {
                Some(Err(refused)) => {
                    // Never expected (every piece is bounded); told rather than silently lost.
                    let mut d = new(Channel::Slack, &entry.name, user, event_type, None);
                    d.status = DeliveryStatus::Failed;
                    d.last_error = Some(refused.to_string());
                    out.push(d);
                }
                post => asked(
                    Channel::Slack,
                    user,
                    post.and_then(Result::ok)
                        .map(|post| Message::Slack { post }),
                ),
            }
        }
    }
    if let (Some(url), Some(event_type)) = (&d.callback_url, d.event.facts().callback_type) {
        let m = message::callback(event, event_type, now);
        out.push(new(
            Channel::Callback,
            &d.requested_by,
            url,
            event_type,
            Some(m),
        ));
    }
    Ok(out)
}
