//! The signing key in AWS Secrets Manager. Each secret version is a key, its version id the key
//! id: `AWSCURRENT` signs, and any version that still exists verifies (so records and links signed
//! before a rotation stay valid). Which version is current is cached for a bounded time; a
//! version's material never changes, so it is cached for the life of the process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use tokio::sync::Mutex;

use holdpoint_core::keys::{Key, KeyError, KeyProvider};

#[derive(Default)]
struct Cache {
    current: Option<(Key, Instant)>,
    versions: HashMap<String, Key>,
}

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
    ttl: Duration,
    cache: Mutex<Cache>,
}

enum Selector<'a> {
    Stage(&'a str),
    Version(&'a str),
}

impl SecretsManagerKeys {
    pub fn new(client: Client, secret_id: impl Into<String>, ttl: Duration) -> SecretsManagerKeys {
        SecretsManagerKeys {
            client,
            secret_id: secret_id.into(),
            ttl,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Starts fetching the current key without waiting for it, so a function's first request
    /// that needs it (a read checks the seal) finds it fetched, or in flight with the cache
    /// held, while that request reads its caller and its approval: the key's round trip
    /// overlaps theirs instead of following them. A failure is only logged: the request that
    /// needs the key fetches it again and answers 503 if it still cannot.
    pub fn warm_in_background(self: &Arc<Self>) {
        let keys = self.clone();
        tokio::spawn(async move {
            if let Err(e) = keys.current().await {
                tracing::warn!(error = %e, "signing key not fetched at cold start");
            }
        });
    }

    async fn fetch(&self, which: Selector<'_>) -> Result<Option<Key>, KeyError> {
        let request = self.client.get_secret_value().secret_id(&self.secret_id);
        let request = match which {
            Selector::Stage(stage) => request.version_stage(stage),
            Selector::Version(id) => request.version_id(id),
        };
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                if e.as_service_error().and_then(|se| se.code())
                    == Some("ResourceNotFoundException")
                    && matches!(which, Selector::Version(_))
                {
                    return Ok(None);
                }
                // The error names the secret and the failure, never its value.
                return Err(KeyError::Unavailable(format!(
                    "secret {}: {}",
                    self.secret_id,
                    DisplayErrorContext(&e)
                )));
            }
        };
        let id = out
            .version_id()
            .ok_or_else(|| KeyError::Unusable("secret version has no id".into()))?
            .to_owned();
        let material = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(b)) => b.as_ref().to_vec(),
            (None, None) => {
                return Err(KeyError::Unusable(format!("secret version {id} is empty")));
            }
        };
        Key::new(id, material).map(Some)
    }
}

#[async_trait]
impl KeyProvider for SecretsManagerKeys {
    async fn current(&self) -> Result<Key, KeyError> {
        let mut cache = self.cache.lock().await;
        if let Some((key, at)) = &cache.current
            && at.elapsed() < self.ttl
        {
            return Ok(key.clone());
        }
        let key = self
            .fetch(Selector::Stage("AWSCURRENT"))
            .await?
            .ok_or_else(|| {
                KeyError::Unavailable(format!("secret {} has no current version", self.secret_id))
            })?;
        cache.versions.insert(key.id.clone(), key.clone());
        cache.current = Some((key.clone(), Instant::now()));
        Ok(key)
    }

    async fn by_id(&self, id: &str) -> Result<Option<Key>, KeyError> {
        if let Some(key) = self.cache.lock().await.versions.get(id) {
            return Ok(Some(key.clone()));
        }
        // Version ids are UUIDs; anything else cannot name a version.
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        let found = self.fetch(Selector::Version(id)).await?;
        if let Some(key) = &found {
            self.cache
                .lock()
                .await
                .versions
                .insert(key.id.clone(), key.clone());
        }
        Ok(found)
    }
}
