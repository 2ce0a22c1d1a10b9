//! Slack's Web API, the four methods Holdpoint calls: `auth.test` (connecting), `chat.postMessage`
//! and `chat.update` (reviewers' messages), `views.open` (the reject modal). Its base URL is
//! `HOLDPOINT_SLACK_API_URL` (a local stand-in in development and tests). The bot token goes in
//! the `Authorization` header only: never in a URL, a log line or an error's text.

use std::time::Duration;

use holdpoint_core::retry::{is_retryable_status, retry_after};
use serde_json::{Value, json};

use super::connection::BotToken;

pub use super::blocks::Posted;

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

/// Slack's error codes that say "not now" rather than "never".
const RETRYABLE_CODES: [&str; 5] = [
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

impl ApiError {
    /// Whether the same call may succeed later: HTTP 429 (see `retry_after`), 5xx, Slack not
    /// reached, or one of Slack's "not now" codes. Anything else Slack refused is final.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Http { status, .. } => *status == 429 || is_retryable_status(*status),
            ApiError::Slack(code) => RETRYABLE_CODES.contains(&code.as_str()),
            ApiError::Transport(_) => true,
        }
    }

    /// How long Slack asked to be left alone (a 429's `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status Slack answered, when it was not 200.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How long one call may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer read: Slack's are a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

/// A client of Slack's Web API.
pub struct SlackApi {
    http: reqwest::Client,
    base: url::Url,
}

impl SlackApi {
    /// Calls Slack at `base` (`https://slack.com/api/`): https, or http to a loopback address
    /// (a local stand-in), as [`crate::config::check_slack_api_url`] takes it.
    pub fn new(base: &str) -> Result<SlackApi, String> {
        // One rule for the setting and the client.
        let checked = crate::config::check_slack_api_url(base)?;
        let url = url::Url::parse(&checked).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        // No redirect: the token goes to the base given and nowhere else.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent("Holdpoint/1")
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(SlackApi { http, base: url })
    }

    async fn call(&self, token: &BotToken, method: &str, body: &Value) -> Result<Value, ApiError> {
        let url = self
            .base
            .join(method)
            .map_err(|e| ApiError::Transport(format!("no URL for {method}: {e}")))?;
        let body = serde_json::to_vec(body)
            .map_err(|e| ApiError::Transport(format!("the request could not be written: {e}")))?;
        let sent = self
            .http
            .post(url)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            )
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            // Only the kind of failure: reqwest's text names the URL, never the token, but
            // nothing of the request is worth repeating.
            Err(e) => return Err(ApiError::Transport(transport_kind(&e).into())),
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, chrono::Utc::now()));
            return Err(ApiError::Http {
                status: status.as_u16(),
                retry_after,
            });
        }
        let mut read = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read.extend_from_slice(&chunk);
                    if read.len() > MAX_ANSWER {
                        return Err(ApiError::Transport(format!("{method}: answer too long")));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(ApiError::Transport(transport_kind(&e).into())),
            }
        }
        let answer: Value = serde_json::from_slice(&read)
            .map_err(|_| ApiError::Transport(format!("{method}: the answer is not JSON")))?;
        match answer.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(answer),
            _ => {
                let code = answer
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error");
                Err(ApiError::Slack(error_code(code)))
            }
        }
    }

    /// Checks `token`; answers the team it belongs to.
    pub async fn auth_test(&self, token: &BotToken) -> Result<String, ApiError> {
        let answer = self.call(token, "auth.test", &json!({})).await?;
        answer
            .get("team_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Transport("auth.test: no team_id in the answer".into()))
    }

    /// Posts `message` (`{"text", "blocks"}`) to `channel` (a user id: the app's DM with them).
    pub async fn post_message(
        &self,
        token: &BotToken,
        channel: &str,
        message: &Value,
    ) -> Result<Posted, ApiError> {
        let mut body = message.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("channel".into(), json!(channel));
        }
        let answer = self.call(token, "chat.postMessage", &body).await?;
        let field = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
        match (field("channel"), field("ts")) {
            (Some(channel), Some(ts)) => Ok(Posted { channel, ts }),
            // Posted, but not where: retrying would post twice, so it is Slack's fault, final.
            _ => Err(ApiError::Slack("no_channel_or_ts_in_answer".into())),
        }
    }

    /// Replaces the message at `posted` with `message`.
    pub async fn update(
        &self,
        token: &BotToken,
        posted: &Posted,
        message: &Value,
    ) -> Result<(), ApiError> {
        let mut body = message.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("channel".into(), json!(posted.channel));
            o.insert("ts".into(), json!(posted.ts));
        }
        self.call(token, "chat.update", &body).await.map(|_| ())
    }

    /// Opens `view` (a modal) for the click that gave `trigger_id`.
    pub async fn open_view(
        &self,
        token: &BotToken,
        trigger_id: &str,
        view: &Value,
    ) -> Result<(), ApiError> {
        let body = json!({"trigger_id": trigger_id, "view": view});
        self.call(token, "views.open", &body).await.map(|_| ())
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    }
}

/// Slack's error code as kept: its own characters only (`[a-z0-9_]`, bounded), so an answer
/// cannot write anything else into a delivery's record or a log.
fn error_code(code: &str) -> String {
    let kept: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if kept.is_empty() {
        "unknown_error".into()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_retried() {
        let http = |status, retry_after| ApiError::Http {
            status,
            retry_after,
        };
        let limited = http(429, Some(Duration::from_secs(3)));
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert!(http(503, None).is_retryable());
        assert!(!http(404, None).is_retryable());
        assert!(ApiError::Transport("timed out".into()).is_retryable());
        for code in RETRYABLE_CODES {
            assert!(ApiError::Slack(code.into()).is_retryable(), "{code}");
        }
        let refused = ApiError::Slack("channel_not_found".into());
        assert!(!refused.is_retryable());
        assert_eq!(refused.to_string(), "slack: channel_not_found");
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(SlackApi::new("https://slack.com/api/").is_ok());
        assert!(SlackApi::new("http://127.0.0.1:9/api/").is_ok());
        assert!(SlackApi::new("http://localhost:9/api/").is_ok());
        for bad in [
            "http://slack.com/api/",
            "http://10.0.0.1/api/",
            "ftp://127.0.0.1/api/",
            "https://u:p@slack.com/api/",
            "https://slack.com/api/?x=1",
            "not a url",
        ] {
            assert!(SlackApi::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_codes_are_only_codes() {
        assert_eq!(error_code("invalid_auth"), "invalid_auth");
        assert_eq!(error_code("a\nb\u{1b}[31m"), "ab31m");
        assert_eq!(error_code(""), "unknown_error");
    }
}
