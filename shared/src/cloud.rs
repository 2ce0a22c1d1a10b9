//! What every Lambda function builds once per cold start: the DynamoDB store, the service and
//! the authenticator, all from the environment. A missing or invalid setting stops the cold
//! start with a clear error: nothing runs on a default identity map.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tower::util::MapRequestLayer;

use crate::config::{self, Settings};
use crate::directory::dynamodb::DynamoDirectory;
use crate::events::EventBridgeSink;
use crate::http::auth::Scheme;
use crate::http::{AppState, Authenticator, Routes, app};
use crate::keys::secrets_manager::SecretsManagerKeys;
use crate::metrics;
use crate::service::Service;
use crate::store::dynamodb::{DynamoStore, sdk_config};
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::domain::sweep::SweepReport;
use holdpoint_core::time::Clock;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The service on the DynamoDB tables `settings` name, signing with the key in the secret
/// `HOLDPOINT_SIGNING_SECRET_ID` (required), publishing lifecycle events to the bus
/// `HOLDPOINT_EVENT_BUS` with review links under `base_url`.
///
/// Nothing is fetched here: the key is read when a request first needs it (a signature to make
/// or check) and cached; until it can be read, such requests answer 503, nothing is signed
/// with anything else. A cold start that answers health or refuses a request never waits for
/// Secrets Manager (reads need the key too: they check each approval's seal).
pub async fn service(settings: &Settings, base_url: BaseUrl) -> Result<Service, Error> {
    let secret_id = Settings::required(
        &settings.signing_secret_id,
        config::SIGNING_SECRET_ID,
        "nothing could be signed",
    )?;
    metrics::emit_to_stdout();
    let sdk = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let directory = DynamoDirectory::new(dynamodb.clone(), settings.tables.directory.clone());
    let deliveries = crate::delivery::dynamodb::DynamoDeliveries::new(
        dynamodb.clone(),
        settings.tables.deliveries.clone(),
    );
    let store = DynamoStore::new(dynamodb, settings.tables.clone());
    let keys = SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret_id,
        settings.key_cache,
    );
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
    .with_events(Arc::new(events), base_url)
    .with_directory(Arc::new(directory))
    .with_deliveries(Arc::new(deliveries))
    .allowing_private_webhooks(settings.allow_private_webhooks))
}

/// The service of the sweep, from the environment: it serves no request to learn the API's
/// domain from, so `HOLDPOINT_PUBLIC_BASE_URL` is required (the template sets it).
pub async fn service_from_env() -> Result<Service, Error> {
    let settings = Settings::from_env()?;
    let base_url = Settings::required(
        &settings.public_base_url,
        config::PUBLIC_BASE_URL,
        "escalations need the base URL of their review links",
    )?;
    service(&settings, BaseUrl::fixed(base_url)).await
}

/// The router serving `groups`, with settings read once from the environment and callers found
/// by their IAM ARN in the directory table (`HOLDPOINT_DIRECTORY_TABLE`). Review links start at
/// `HOLDPOINT_PUBLIC_BASE_URL` when it is set, else at the domain API Gateway says the API was
/// called on.
pub async fn app_from_env(groups: &[Routes]) -> Result<axum::Router, Error> {
    let settings = Settings::from_env()?;
    let base_url = match &settings.public_base_url {
        Some(url) => BaseUrl::fixed(url.as_str()),
        None => BaseUrl::learned(),
    };
    let service = service(&settings, base_url.clone()).await?;
    let auth = Authenticator::new(
        Scheme::Iam,
        service
            .directory()
            .ok_or("the service has no directory")?
            .clone(),
        settings.auth_cache,
    );
    let state = AppState {
        service,
        auth: Arc::new(auth),
    };
    let learn = MapRequestLayer::new(move |request: axum::extract::Request| {
        if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
            && let Some(domain) = &context.domain_name
        {
            base_url.learn(domain);
        }
        request
    });
    Ok(app(state, groups).layer(learn))
}

/// The notifier of the notify function: the directory and delivery tables, mail by SES from
/// `HOLDPOINT_EMAIL_FROM` (unset: mail deliveries fail, recorded), webhooks and callbacks, and
/// the approvals table to tell whether an approval still waits for its reviewers.
#[cfg(feature = "delivery")]
pub async fn notifier_from_env() -> Result<crate::delivery::worker::Notifier, Error> {
    use crate::delivery::dynamodb::DynamoDeliveries;
    use crate::delivery::send::{Courier, Mailer};
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let directory: Arc<dyn crate::directory::Directory> = Arc::new(DynamoDirectory::new(
        dynamodb.clone(),
        settings.tables.directory.clone(),
    ));
    let log = DynamoDeliveries::new(dynamodb, settings.tables.deliveries.clone());
    let mailer = settings.email_from.clone().map(|from| Mailer::Ses {
        client: aws_sdk_sesv2::Client::new(&sdk),
        from,
    });
    let courier = Courier::new(directory.clone(), mailer, settings.allow_private_webhooks)?;
    // Reads whether an approval still waits (one GetItem), so a decided one asks nobody.
    let approvals = service(&settings, BaseUrl::learned()).await?;
    Ok(
        crate::delivery::worker::Notifier::new(
            Arc::new(log),
            courier,
            directory,
            settings.delivery,
        )
        .asking_only_while_waiting(Arc::new(approvals)),
    )
}

/// What one notify invocation did.
#[cfg(feature = "delivery")]
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NotifyReport {
    /// The event's deliveries delivered (now or before).
    pub delivered: usize,
    pub failed: usize,
    /// Messages to reviewers not sent: the approval no longer waited for them.
    pub skipped: usize,
    /// Of those, delivered or failed by an earlier invocation of the same event.
    pub already_done: usize,
}

/// How long before the invocation's deadline the notifier stops starting attempts.
#[cfg(feature = "delivery")]
const NOTIFY_MARGIN: Duration = Duration::from_secs(2);

/// Delivers what one lifecycle event owes (kept first, so a retried invocation sends only what
/// is still pending), retrying until shortly before `deadline_ms`. Deliveries still pending
/// then fail the invocation: Lambda retries it, then keeps it in the failure queue.
#[cfg(feature = "delivery")]
pub async fn notify(
    notifier: &crate::delivery::worker::Notifier,
    event: serde_json::Value,
    deadline_ms: u64,
) -> Result<NotifyReport, Error> {
    use crate::delivery::DeliveryStatus;
    use crate::events::LifecycleEvent;
    // EventBridge's envelope: `source`, `detail-type`, `detail`.
    let text = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
    let lifecycle = LifecycleEvent {
        source: text("source"),
        detail_type: text("detail-type"),
        detail: serde_json::from_value(event["detail"].clone())
            .map_err(|e| format!("not a Holdpoint lifecycle event: {e}"))?,
    };
    let kept = notifier.keep(std::slice::from_ref(&lifecycle)).await?;
    let already_done = kept
        .iter()
        .filter(|d| d.status != DeliveryStatus::Pending)
        .count();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let stop = Instant::now() + left.saturating_sub(NOTIFY_MARGIN);
    let all = notifier.deliver_until(kept, stop).await;
    let count = |s: DeliveryStatus| all.iter().filter(|d| d.status == s).count();
    let report = NotifyReport {
        delivered: count(DeliveryStatus::Delivered),
        failed: count(DeliveryStatus::Failed),
        skipped: count(DeliveryStatus::Skipped),
        already_done,
    };
    let still = count(DeliveryStatus::Pending);
    tracing::info!(
        event = %lifecycle.detail.event_id,
        delivered = report.delivered,
        failed = report.failed,
        pending = still,
        "notified"
    );
    if still > 0 {
        return Err(format!(
            "{still} deliveries of {} still pending; the invocation is retried",
            lifecycle.detail.event_id
        )
        .into());
    }
    Ok(report)
}

/// How long before the invocation's deadline the sweep stops taking new batches.
const SWEEP_MARGIN: Duration = Duration::from_secs(10);

/// The scheduled sweep, stopping [`SWEEP_MARGIN`] before `deadline_ms` (the invocation's
/// deadline, Unix ms) and leaving the rest to the next run. A failed due query fails the
/// invocation so the scheduler retries it; what it did is logged and counted (metrics).
pub async fn sweep(service: &Service, deadline_ms: u64) -> Result<SweepReport, Error> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let stop = Instant::now() + left.saturating_sub(SWEEP_MARGIN);
    let r = service.sweep_until(Some(stop)).await?;
    tracing::info!(
        expired = r.expired,
        escalated = r.escalated,
        republished = r.republished,
        skipped = r.skipped,
        failed = r.failed,
        unfinished = r.unfinished,
        "sweep done"
    );
    metrics::sweep(&r);
    Ok(r)
}
