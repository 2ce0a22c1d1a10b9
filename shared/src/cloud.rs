//! What every Lambda function builds once per cold start: the DynamoDB store, the service and
//! the authenticator, all from the environment. A missing or invalid setting stops the cold
//! start with a clear error: nothing runs on a default identity map.

use std::sync::Arc;
use std::time::Duration;

use crate::events::EventBridgeSink;
use crate::http::{AppState, Authenticator, Routes, app};
use crate::keys::KeyProvider;
use crate::keys::secrets_manager::SecretsManagerKeys;
use crate::service::{Service, SweepReport};
use crate::store::dynamodb::{DynamoStore, Tables, sdk_config};
use crate::time::Clock;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The service on the DynamoDB tables the environment names, signing with the key in the
/// secret `HOLDPOINT_SIGNING_SECRET_ID` (required), publishing lifecycle events to the bus
/// `HOLDPOINT_EVENT_BUS` (`default`) with review links under `HOLDPOINT_PUBLIC_BASE_URL`
/// (required).
pub async fn service_from_env() -> Result<Service, Error> {
    let base_url = std::env::var("HOLDPOINT_PUBLIC_BASE_URL")
        .ok()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or("HOLDPOINT_PUBLIC_BASE_URL must be the http(s) base URL of the review links")?;
    let bus = std::env::var("HOLDPOINT_EVENT_BUS").unwrap_or_else(|_| "default".into());
    let expiry = crate::config::expiry_bounds()?;
    let tables = Tables::from_env()?;
    let secret_id = std::env::var("HOLDPOINT_SIGNING_SECRET_ID")
        .map_err(|_| "HOLDPOINT_SIGNING_SECRET_ID is not set: nothing could be signed")?;
    let ttl = crate::config::number("HOLDPOINT_KEY_CACHE_SECONDS", 300)?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), tables);
    let keys = SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret_id,
        Duration::from_secs(u64::from(ttl)),
    );
    // Read once per cold start; if it fails now, each request retries and answers 503 meanwhile.
    if let Err(e) = keys.current().await {
        tracing::error!(error = %e, "signing key not readable at cold start");
    }
    let events = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
    Ok(
        Service::new(Arc::new(store), Arc::new(keys), Clock::system(), expiry)
            .with_events(Arc::new(events), base_url),
    )
}

/// The router serving `groups`, with identities from `HOLDPOINT_IAM_PRINCIPALS` (required).
pub async fn app_from_env(groups: &[Routes]) -> Result<axum::Router, Error> {
    let principals = std::env::var("HOLDPOINT_IAM_PRINCIPALS")
        .map_err(|_| "HOLDPOINT_IAM_PRINCIPALS is not set: no caller could be identified")?;
    let auth = Authenticator::iam_from_json(&principals)?;
    let state = AppState {
        service: service_from_env().await?,
        auth: Arc::new(auth),
    };
    Ok(app(state, groups))
}

/// The scheduled sweep. An error fails the invocation so the scheduler retries it.
pub async fn sweep(service: &Service) -> Result<SweepReport, Error> {
    let r = service.sweep().await?;
    tracing::info!(
        expired = r.expired,
        escalated = r.escalated,
        republished = r.republished,
        skipped = r.skipped,
        "sweep done"
    );
    Ok(r)
}
