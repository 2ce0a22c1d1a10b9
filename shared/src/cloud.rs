//! What every Lambda function builds once per cold start: the DynamoDB store, the service and
//! the authenticator, all from the environment. A missing or invalid setting stops the cold
//! start with a clear error: nothing runs on a default identity map.

use std::sync::Arc;

use crate::config::{self, Settings};
use crate::events::EventBridgeSink;
use crate::http::{AppState, Authenticator, Routes, app};
use crate::keys::KeyProvider;
use crate::keys::secrets_manager::SecretsManagerKeys;
use crate::service::{Service, SweepReport};
use crate::store::dynamodb::{DynamoStore, sdk_config};
use crate::time::Clock;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The service on the DynamoDB tables `settings` name, signing with the key in the secret
/// `HOLDPOINT_SIGNING_SECRET_ID` (required), publishing lifecycle events to the bus
/// `HOLDPOINT_EVENT_BUS` with review links under `HOLDPOINT_PUBLIC_BASE_URL` (required).
pub async fn service(settings: &Settings) -> Result<Service, Error> {
    let base_url = Settings::required(
        &settings.public_base_url,
        config::PUBLIC_BASE_URL,
        "review links need their base URL",
    )?;
    let secret_id = Settings::required(
        &settings.signing_secret_id,
        config::SIGNING_SECRET_ID,
        "nothing could be signed",
    )?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.tables.clone());
    let keys = SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret_id,
        settings.key_cache,
    );
    // Read once per cold start; if it fails now, each request retries and answers 503 meanwhile.
    if let Err(e) = keys.current().await {
        tracing::error!(error = %e, "signing key not readable at cold start");
    }
    let events = EventBridgeSink::new(
        aws_sdk_eventbridge::Client::new(&sdk),
        settings.event_bus.clone(),
    );
    Ok(Service::new(
        Arc::new(store),
        Arc::new(keys),
        Clock::system(),
        settings.expiry,
    )
    .with_events(Arc::new(events), base_url))
}

/// The service of a function that serves no route (the sweep), from the environment.
pub async fn service_from_env() -> Result<Service, Error> {
    service(&Settings::from_env()?).await
}

/// The router serving `groups`, with settings read once from the environment and identities
/// from `HOLDPOINT_IAM_PRINCIPALS` (required).
pub async fn app_from_env(groups: &[Routes]) -> Result<axum::Router, Error> {
    let settings = Settings::from_env()?;
    let principals = Settings::required(
        &settings.iam_principals,
        config::IAM_PRINCIPALS,
        "no caller could be identified",
    )?;
    let auth = Authenticator::iam_from_json(principals)?;
    let state = AppState {
        service: service(&settings).await?,
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
