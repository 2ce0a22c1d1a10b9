//! The notify function's side of a reviewer's sign-in: the API function counts the request and
//! puts `Sign-in Requested` (tenant and name, no secret) on the bus, the same for every name;
//! here, off the answer's path, the link is minted for a principal that may sign in, kept in the
//! deliveries table and sent like every other message.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use uuid::Uuid;

use super::{Error, NotifyError, NotifyReport, function_backend};
use crate::config::{self, Settings};
use crate::delivery::DeliveryStatus;
use crate::delivery::worker::Notifier;
use crate::directory::Directory;
use crate::events::SIGN_IN_REQUESTED;
use crate::sessions::SessionStore;

/// What minting a sign-in link needs: the session store, the directory, the links' base URL.
pub struct SignInSender {
    sessions: Arc<dyn SessionStore>,
    directory: Arc<dyn Directory>,
    base: String,
}

/// The notify function's sender, from the environment (`HOLDPOINT_PUBLIC_BASE_URL` required,
/// as for review links).
pub async fn sign_in_sender_from_env() -> Result<SignInSender, Error> {
    let settings = Settings::from_env()?;
    let base = Settings::required(
        &settings.public_base_url,
        config::PUBLIC_BASE_URL,
        "sign-in messages need the base URL of their links",
    )?;
    let backend = function_backend(&settings);
    Ok(SignInSender {
        sessions: backend.sessions().await?,
        directory: backend.directory().await?,
        base: base.trim_end_matches('/').to_owned(),
    })
}

/// Whether `event` (EventBridge's envelope) is a sign-in request.
pub fn is_sign_in_request(event: &serde_json::Value) -> bool {
    event["source"] == "holdpoint" && event["detail-type"] == SIGN_IN_REQUESTED
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Asked {
    tenant: String,
    name: String,
}

/// Mints, keeps and sends the sign-in link one request owes (nothing for a name that may not
/// sign in), retrying until shortly before `deadline_ms`. The event's id names the messages, so
/// a retried invocation sends what the first one kept.
pub async fn notify_sign_in(
    notifier: &Notifier,
    sender: &SignInSender,
    event: serde_json::Value,
    deadline_ms: u64,
) -> Result<NotifyReport, NotifyError> {
    let asked: Asked = serde_json::from_value(event["detail"].clone())?;
    let request = event["id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .unwrap_or_else(Uuid::new_v4);
    let planned = crate::delivery::sign_in::mint(
        &*sender.sessions,
        &*sender.directory,
        &sender.base,
        (&asked.tenant, &asked.name),
        request,
        Utc::now(),
    )
    .await
    .map_err(crate::delivery::PlanError::from)?;
    notifier
        .log()
        .enqueue(&planned)
        .await
        .map_err(crate::delivery::PlanError::from)?;
    let mut kept = Vec::with_capacity(planned.len());
    for d in planned {
        let stored = notifier.log().get(&d.tenant, d.approval_id, &d.id).await;
        kept.push(stored.ok().flatten().unwrap_or(d));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let stop = Instant::now() + left.saturating_sub(Duration::from_secs(2));
    let all = notifier.deliver_until(kept, stop).await;
    let count = |s: DeliveryStatus| all.iter().filter(|d| d.status == s).count();
    let still = count(DeliveryStatus::Pending);
    if still > 0 {
        return Err(NotifyError::StillPending {
            pending: still,
            event: format!("sign-in:{request}"),
        });
    }
    Ok(NotifyReport {
        delivered: count(DeliveryStatus::Delivered),
        failed: count(DeliveryStatus::Failed),
        skipped: count(DeliveryStatus::Skipped),
        already_done: 0,
    })
}
