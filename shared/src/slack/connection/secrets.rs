//! Tenants' Slack apps on AWS: one Secrets Manager secret (`HOLDPOINT_SLACK_SECRET_ID`) the
//! operator writes, `{"<tenant>": {"bot_token", "signing_secret", "team_id"}}`, read at most
//! once per cache period. No secret: no tenant is connected. A secret that is not that shape
//! refuses every tenant (503), one tenant's unusable entry refuses that tenant alone, and
//! nothing of a secret reaches a log or an error's text.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{SlackConnection, SlackConnections};
use crate::store::StoreError;

/// The secret's largest size taken (Secrets Manager's own limit is 64 KiB).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// One tenant's entry as the operator writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    bot_token: String,
    signing_secret: String,
    /// Required: a click is taken only from the workspace the app is installed in.
    team_id: String,
}

/// Each tenant's app, or why its entry is unusable.
type Apps = HashMap<String, Result<SlackConnection, String>>;

pub struct SecretsManagerSlack {
    client: Client,
    secret_id: String,
    ttl: Duration,
    cache: Mutex<Option<(Instant, Arc<Apps>)>>,
    /// Whether "no secret" was logged already (said once, not at every click).
    told_missing: AtomicBool,
}

impl SecretsManagerSlack {
    pub fn new(client: Client, secret_id: impl Into<String>, ttl: Duration) -> SecretsManagerSlack {
        SecretsManagerSlack {
            client,
            secret_id: secret_id.into(),
            ttl,
            cache: Mutex::new(None),
            told_missing: AtomicBool::new(false),
        }
    }

    async fn fetch(&self) -> Result<Apps, StoreError> {
        let out = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
                if code == Some("ResourceNotFoundException") {
                    if !self.told_missing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(secret = %self.secret_id, "no Slack secret: no tenant is connected to Slack");
                    }
                    return Ok(Apps::new());
                }
                return Err(StoreError::Unavailable(format!(
                    "Slack secret {}: {}",
                    self.secret_id,
                    DisplayErrorContext(&e)
                )));
            }
        };
        let text = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => s.to_owned(),
            (None, Some(b)) => String::from_utf8(b.as_ref().to_vec()).unwrap_or_default(),
            (None, None) => String::new(),
        };
        parse(&self.secret_id, &text)
    }
}

/// The apps of a secret's text; an error that names the secret and the fault, never a value.
pub fn parse(secret_id: &str, text: &str) -> Result<Apps, StoreError> {
    let refused = |why: &str| {
        StoreError::Unavailable(format!(
            "Slack secret {secret_id} {why}: it must be {{\"<tenant>\": {{\"bot_token\": …, \"signing_secret\": …, \"team_id\": …}}}}"
        ))
    };
    if text.len() > MAX_SECRET_BYTES {
        return Err(refused("is too large"));
    }
    // Values are read as JSON first so a serde error, which may quote the text, is never told.
    let tenants: HashMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| refused("is not a JSON object"))?;
    Ok(tenants
        .into_iter()
        .map(|(tenant, value)| {
            let app = serde_json::from_value::<Stored>(value)
                .map_err(|_| "its entry is not {bot_token, signing_secret, team_id}".to_owned())
                .and_then(|s| {
                    SlackConnection::from_parts(
                        &tenant,
                        Some(s.team_id.as_str()),
                        &s.bot_token,
                        &s.signing_secret,
                    )
                });
            (tenant, app)
        })
        .collect())
}

#[async_trait]
impl SlackConnections for SecretsManagerSlack {
    async fn get(&self, tenant: &str) -> Result<Option<SlackConnection>, StoreError> {
        // Held across the fetch: concurrent clicks of a cold function read the secret once.
        let mut cache = self.cache.lock().await;
        let apps = match &*cache {
            Some((at, apps)) if at.elapsed() < self.ttl => apps.clone(),
            _ => {
                let apps = Arc::new(self.fetch().await?);
                *cache = Some((Instant::now(), apps.clone()));
                apps
            }
        };
        drop(cache);
        match apps.get(tenant) {
            None => Ok(None),
            Some(Ok(app)) => Ok(Some(app.clone())),
            Some(Err(why)) => Err(StoreError::Unavailable(format!(
                "Slack secret {}, tenant {tenant}: {why}",
                self.secret_id
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_read_tenant_by_tenant_and_never_told() {
        let apps = parse(
            "s",
            r#"{"acme": {"bot_token": "xoxb-1-topsecret", "signing_secret": "sigsecret", "team_id": "T0TEAM"},
                "bad": {"bot_token": "not-a-token-topsecret", "signing_secret": "x"},
                "odd": {"token": "xoxb-2-topsecret"}}"#,
        )
        .unwrap();
        let acme = apps["acme"].as_ref().unwrap();
        assert_eq!(acme.team_id.as_deref(), Some("T0TEAM"));
        for tenant in ["bad", "odd"] {
            let why = apps[tenant].as_ref().unwrap_err();
            assert!(!why.contains("topsecret"), "{why}");
        }
        for text in [
            "",
            "xoxb-1-topsecret",
            r#"["xoxb-1-topsecret"]"#,
            r#"{"acme": "xoxb-1-topsecret"#,
            &format!(r#"{{"acme": "{}"}}"#, "x".repeat(MAX_SECRET_BYTES)),
        ] {
            let err = parse("s", text).unwrap_err().to_string();
            assert!(
                err.contains("Slack secret s") && !err.contains("topsecret"),
                "{err}"
            );
        }
    }
}
