//! Deciding from Slack: agent text made safe for mrkdwn ([`mrkdwn`]), the Block Kit messages
//! ([`blocks`]), Slack's request signatures ([`signature`]), the signed button values
//! ([`button`]), each tenant's Slack app ([`connection`]) and Slack's Web API ([`api`]).

#[cfg(feature = "delivery")]
use std::sync::Arc;

#[cfg(feature = "delivery")]
pub mod api;
pub mod blocks;
pub mod button;
pub mod connection;
#[cfg(test)]
mod hostile;
#[cfg(feature = "delivery")]
pub mod interaction;
pub mod mrkdwn;
pub mod signature;

/// Slack as the service and the notifier use it: the tenants' apps, and the API to call.
#[cfg(feature = "delivery")]
pub struct Slack {
    pub connections: Arc<dyn connection::SlackConnections>,
    pub api: api::SlackApi,
}
