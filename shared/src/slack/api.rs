//! Slack's Web API, the four methods Holdpoint calls: `auth.test` (connecting), `chat.postMessage`
//! and `chat.update` (reviewers' messages), `views.open` (the reject modal). Its base URL is
//! `HOLDPOINT_SLACK_API_URL` (a local stand-in in development and tests). The bot token goes in
//! the `Authorization` header only: never in a URL, a log line or an error's text.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connection::BotToken;
use crate::delivery::Outcome;

/// Where a posted message is, for `chat.update`: its conversation and timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// Why a call did not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Slack answered HTTP {status}")]
    Http {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// `ok: false`, with Slack's error code.
    #[error("slack: {0}")]
    Slack(String),
    #[error("Slack not reached: {0}")]
    Transport(String),
}

impl ApiError {
    /// What this means for a delivery: worth retrying or not.
    pub fn outcome(&self) -> Outcome {
        unimplemented!("helper B")
    }
}

/// A client of Slack's Web API.
pub struct SlackApi {
    http: reqwest::Client,
    base: url::Url,
}

impl SlackApi {
    /// Calls Slack at `base` (`https://slack.com/api/`).
    pub fn new(base: &str) -> Result<SlackApi, String> {
        let _ = (base, &Self::call);
        unimplemented!("helper B")
    }

    async fn call(&self, token: &BotToken, method: &str, body: &Value) -> Result<Value, ApiError> {
        let _ = (&self.http, &self.base, token, method, body);
        unimplemented!("helper B")
    }

    /// Checks `token`; answers the team it belongs to.
    pub async fn auth_test(&self, token: &BotToken) -> Result<String, ApiError> {
        let _ = token;
        unimplemented!("helper B")
    }

    /// Posts `message` (`{"text", "blocks"}`) to `channel` (a user id: the app's DM with them).
    pub async fn post_message(
        &self,
        token: &BotToken,
        channel: &str,
        message: &Value,
    ) -> Result<Posted, ApiError> {
        let _ = (token, channel, message);
        unimplemented!("helper B")
    }

    /// Replaces the message at `posted` with `message`.
    pub async fn update(
        &self,
        token: &BotToken,
        posted: &Posted,
        message: &Value,
    ) -> Result<(), ApiError> {
        let _ = (token, posted, message);
        unimplemented!("helper B")
    }

    /// Opens `view` (a modal) for the click that gave `trigger_id`.
    pub async fn open_view(
        &self,
        token: &BotToken,
        trigger_id: &str,
        view: &Value,
    ) -> Result<(), ApiError> {
        let _ = (token, trigger_id, view);
        unimplemented!("helper B")
    }
}
