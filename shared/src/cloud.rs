//! The Lambda functions' edge: what each builds once per cold start (through [`backend`], from
//! the environment) and what an invocation of the scheduled sweep or of the notify function
//! answers the runtime. A missing or invalid setting stops the cold start with a clear error:
//! nothing runs on a default identity map. A failed invocation tells the runtime whether
//! running it again can help (its error type is `Retryable` or `NonRetryable`).
//!
//! [`backend`]: crate::backend

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::RequestExt;
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::request::RequestContext;
use tower::util::MapRequestLayer;

use crate::backend::{Access, Backend};
use crate::config::{self, Settings};
use crate::http::auth::Scheme;
use crate::http::{AppState, Authenticator, Routes, app};
use crate::metrics;
use crate::service::{Service, ServiceError};
use holdpoint_core::domain::review_link::BaseUrl;
use holdpoint_core::domain::sweep::SweepReport;

#[cfg(feature = "delivery")]
pub mod sign_in;

/// A cold start that failed: the function does not start.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The runtime's error type of a failure worth (or not worth) an invocation again.
fn diagnostic(retryable: bool, error: &impl std::error::Error) -> Diagnostic {
    Diagnostic {
        error_type: if retryable {
            "Retryable"
        } else {
            "NonRetryable"
        }
        .into(),
        error_message: error.to_string(),
    }
}

/// The service on the DynamoDB tables `settings` name, signing with the key in the secret
/// `HOLDPOINT_SIGNING_SECRET_ID` (required), publishing lifecycle events to the bus
/// `HOLDPOINT_EVENT_BUS` with review links under `base_url`.
///
/// Nothing is waited for here: the key's fetch starts in the background, so a first request
/// that needs it (a signature to make, or a read's seal to check) finds it fetched or in
/// flight, overlapping the reads of its caller and approval. Until it can be read, such
/// requests answer 503, nothing is signed with anything else. A cold start that answers health
/// or refuses a request never waits for Secrets Manager.
pub async fn service(settings: &Settings, base_url: BaseUrl) -> Result<Service, Error> {
    Ok(function_backend(settings)
        .function_service(base_url)
        .await?)
}

/// The parts of a Lambda function, with its metrics written to its log: every function's cold
/// start comes through here, so none can miss the metrics its alarms read.
fn function_backend(settings: &Settings) -> Backend {
    metrics::emit_to_stdout();
    Backend::new(settings, Access::Function)
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
    let backend = function_backend(&settings);
    let service = backend.function_service(base_url.clone()).await?;
    // Slack's clicks come to the decide function alone (its route, its secret grant).
    #[cfg(feature = "delivery")]
    let slack = if groups.contains(&Routes::Decide) {
        backend.slack().await?
    } else {
        None
    };
    #[cfg(feature = "delivery")]
    let service = match slack {
        Some(slack) => service.with_slack(slack),
        None => service,
    };
    let directory = backend.directory().await?;
    let auth = Authenticator::new(Scheme::Iam, directory, settings.auth_cache);
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
/// `HOLDPOINT_EMAIL_FROM` (unset: mail deliveries fail, recorded), webhooks and callbacks, the
/// approvals table to tell whether an approval still waits for its reviewers, and each
/// reviewer's link minted for their message, signed with the key in
/// `HOLDPOINT_SIGNING_SECRET_ID` under `HOLDPOINT_PUBLIC_BASE_URL` (both required: events carry
/// no link). It publishes nothing.
#[cfg(feature = "delivery")]
pub async fn notifier_from_env() -> Result<crate::delivery::worker::Notifier, Error> {
    let settings = Settings::from_env()?;
    let base_url = Settings::required(
        &settings.public_base_url,
        config::PUBLIC_BASE_URL,
        "reviewers' messages need the base URL of their review links",
    )?;
    // Its metrics matter: DeliveryFailuresAlarm reads the DeliveryFailures it writes.
    let backend = function_backend(&settings);
    let directory = backend.directory().await?;
    Ok(backend
        .notifier(directory, BaseUrl::fixed(base_url))
        .await?)
}

/// Why a notify invocation failed.
#[cfg(feature = "delivery")]
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Not an event of Holdpoint's lifecycle: the same event fails the same way again.
    #[error("not a Holdpoint lifecycle event: {0}")]
    NotALifecycleEvent(#[from] serde_json::Error),
    /// The deliveries could not be planned or kept (a store unavailable, no key for a link).
    #[error(transparent)]
    Plan(#[from] crate::delivery::PlanError),
    /// Deliveries still pending at the deadline: Lambda retries the invocation, then keeps it
    /// in the failure queue.
    #[error("{pending} deliveries of {event} still pending; the invocation is retried")]
    StillPending { pending: usize, event: String },
}

#[cfg(feature = "delivery")]
impl NotifyError {
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::NotALifecycleEvent(_) => false,
            NotifyError::Plan(e) => e.is_retryable(),
            NotifyError::StillPending { .. } => true,
        }
    }
}

#[cfg(feature = "delivery")]
impl From<NotifyError> for Diagnostic {
    fn from(e: NotifyError) -> Diagnostic {
        diagnostic(e.is_retryable(), &e)
    }
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
) -> Result<NotifyReport, NotifyError> {
    use crate::delivery::DeliveryStatus;
    use crate::events::LifecycleEvent;
    // EventBridge's envelope: `source`, `detail-type`, `detail`.
    let text = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
    let lifecycle = LifecycleEvent {
        source: text("source"),
        detail_type: text("detail-type"),
        detail: serde_json::from_value(event["detail"].clone())?,
    };
    let kept = notifier.keep(std::slice::from_ref(&lifecycle)).await?;
    // Skipped deliveries may be planned so now; only what was sent (or given up) is done.
    let already_done = kept
        .iter()
        .filter(|d| matches!(d.status, DeliveryStatus::Delivered | DeliveryStatus::Failed))
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
        return Err(NotifyError::StillPending {
            pending: still,
            event: lifecycle.detail.event_id.clone(),
        });
    }
    Ok(report)
}

/// Why a sweep invocation failed: the due approvals could not be read, or a change not made.
#[derive(Debug, thiserror::Error)]
#[error("sweep failed: {0}")]
pub struct SweepError(#[from] pub ServiceError);

impl SweepError {
    /// The store or the key was unavailable: the next invocation may get through. Anything
    /// else (a broken seal, a defect) fails the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.0,
            ServiceError::Unavailable(_) | ServiceError::KeyUnavailable(_)
        )
    }
}

impl From<SweepError> for Diagnostic {
    fn from(e: SweepError) -> Diagnostic {
        diagnostic(e.is_retryable(), &e)
    }
}

/// How long before the invocation's deadline the sweep stops taking new batches.
const SWEEP_MARGIN: Duration = Duration::from_secs(10);

/// The scheduled sweep, stopping [`SWEEP_MARGIN`] before `deadline_ms` (the invocation's
/// deadline, Unix ms) and leaving the rest to the next run. A failed due query fails the
/// invocation so the scheduler retries it; what it did is logged and counted (metrics).
pub async fn sweep(service: &Service, deadline_ms: u64) -> Result<SweepReport, SweepError> {
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
    // Then the chains that moved are checkpointed (each minute, with the schedule), when this
    // function holds the checkpoint key. A failure is logged and retried by the next run: the
    // approvals stay moved until a checkpoint records them.
    if service.writes_checkpoints() {
        match service.checkpoint().await {
            Ok(c) => tracing::info!(
                written = c.written,
                heads = c.heads,
                contended = c.contended,
                rolled_back = c.rolled_back,
                "checkpoints written"
            ),
            Err(e) => tracing::error!(error = %e, "checkpoints could not be written"),
        }
    }
    Ok(r)
}
