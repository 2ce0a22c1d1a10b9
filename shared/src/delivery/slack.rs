//! Reviewers in Slack: a post (a DM from the tenant's app) asking them, with Approve and Reject
//! buttons signed for them alone, and once the approval leaves pending an update of every post
//! delivered, so no copy keeps buttons that can no longer decide.
//!
//! A post's receipt (its conversation and timestamp) is kept on its delivery, never shown: it
//! is what the updates address. Updates are planned for the posts delivered when a terminal
//! event is planned; a post delivered after that is updated by the notifier as it lands.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Channel, Delivery, DeliveryStatus, Message};
use crate::events::{INTEGRITY_VIOLATION, LifecycleEvent};
use crate::slack::blocks::{self, MessageRefusal};
use holdpoint_core::domain::approval::{Approval, Status};

pub use crate::slack::blocks::Posted;

/// Whether `event` is one after which no copy of the question may keep its buttons.
pub fn ends_asking(event: &LifecycleEvent) -> bool {
    event.detail.status != Status::Pending && event.detail_type != INTEGRITY_VIOLATION
}

/// Whether `d` is a post delivered to Slack, with where it landed.
pub fn delivered_post(d: &Delivery) -> Option<&Posted> {
    let post =
        d.channel == Channel::Slack && d.status == DeliveryStatus::Delivered && !is_update(d);
    d.receipt.as_ref().filter(|_| post)
}

/// The event type of an update (the approval's outcome is in the message itself).
pub const UPDATE_TYPE: &str = "approval.slack_update";

/// Whether `d` updates a message rather than asking anyone: sent whatever the approval's state.
pub fn is_update(d: &Delivery) -> bool {
    d.event_type == UPDATE_TYPE
}

/// The message every copy becomes: `approval` (as now stored) told as decided, without buttons.
/// By whom: the decider or the canceller; nobody when the deadline passed.
pub fn answer(approval: &Approval, now: DateTime<Utc>) -> Result<Value, MessageRefusal> {
    let status = approval.status_at(now);
    let by = match status {
        Status::Expired => None,
        Status::Cancelled => approval.cancelled_by.as_deref(),
        _ => approval.decision.as_ref().map(|d| d.by.as_str()),
    };
    let at = approval.decided_at().unwrap_or(now);
    blocks::decided(approval, status, by, at)
}

/// The update of `post` (a delivered Slack post) to `message`, owed to the event `event_id`
/// (the terminal one; the post's own when it landed after the approval left pending): its id,
/// `{event_id}.slack-update.{post id}`, is the same however often it is planned.
pub fn update(
    event_id: &str,
    post: &Delivery,
    message: &Value,
    now: DateTime<Utc>,
) -> Option<Delivery> {
    let posted = delivered_post(post)?;
    Some(Delivery {
        id: format!("{event_id}.slack-update.{}", post.id),
        tenant: post.tenant.clone(),
        approval_id: post.approval_id,
        event_id: event_id.to_owned(),
        event_type: UPDATE_TYPE.to_owned(),
        channel: Channel::Slack,
        recipient: post.recipient.clone(),
        target: post.target.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: now,
        next_attempt_at: now,
        last_attempt_at: None,
        delivered_at: None,
        last_error: None,
        last_status: None,
        message: Some(Message::SlackUpdate {
            posted: posted.clone(),
            post: message.clone(),
        }),
        receipt: None,
    })
}

/// The updates `event` (one that ends asking) owes: one per post of `deliveries` (the
/// approval's) delivered so far, each to `message`.
pub fn updates(
    event: &LifecycleEvent,
    deliveries: &[Delivery],
    message: &Value,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    deliveries
        .iter()
        .filter_map(|post| update(&event.detail.event_id, post, message, now))
        .collect()
}

/// One attempt at `d`, a Slack post or update (`message`), with the app of `d`'s tenant.
#[cfg(feature = "delivery")]
pub(super) async fn send(
    slack: Option<&crate::slack::Slack>,
    d: &Delivery,
    message: &Message,
) -> super::Outcome {
    use super::Outcome;
    let final_ = |error: &str| Outcome::Final {
        error: error.to_owned(),
        status: None,
    };
    let connection = match slack {
        Some(s) => s.connections.get(&d.tenant).await,
        None => Ok(None),
    };
    let (slack, connection) = match (slack, connection) {
        (Some(s), Ok(Some(c))) => (s, c),
        (_, Ok(None)) | (None, _) => return final_("no Slack app is connected for this tenant"),
        (_, Err(e)) => {
            return Outcome::Retry {
                error: format!("the tenant's Slack app could not be read: {e}"),
                status: None,
                retry_after: None,
            };
        }
    };
    let token = &connection.bot_token;
    match message {
        Message::Slack { post } => match slack.api.post_message(token, &d.target, post).await {
            Ok(posted) => Outcome::Delivered {
                status: None,
                receipt: Some(posted),
            },
            Err(e) => outcome(&e),
        },
        Message::SlackUpdate { posted, post } => {
            match slack.api.update(token, posted, post).await {
                Ok(()) => Outcome::Delivered {
                    status: None,
                    receipt: None,
                },
                Err(e) => outcome(&e),
            }
        }
        _ => final_("nothing to send"),
    }
}

/// What a Slack API error means for a delivery: retried (a 429 after its `Retry-After`) or
/// final, its text (never the token) kept as the delivery's last error.
#[cfg(feature = "delivery")]
pub fn outcome(e: &crate::slack::api::ApiError) -> super::Outcome {
    let (error, status) = (e.to_string(), e.status());
    match e.is_retryable() {
        true => super::Outcome::Retry {
            error,
            status,
            retry_after: e.retry_after(),
        },
        false => super::Outcome::Final { error, status },
    }
}

#[cfg(test)]
#[path = "slack_tests.rs"]
mod tests;
