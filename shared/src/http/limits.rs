//! What the local server takes on at once: requests in flight and the bytes of request bodies
//! held, both refused with `503 unavailable` + `Retry-After: 1` past their bound, so memory stays
//! bounded whatever concurrent callers ask. `/health` is never refused, so a monitor still sees
//! the process alive while it sheds load. On AWS, API Gateway throttling and the functions'
//! reserved concurrency do this instead; their routers carry no such layer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use holdpoint_core::domain::request::limits::BODY_BYTES as LARGEST_BODY;
use http::{HeaderMap, StatusCode, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::problem::Problem;
use crate::config::ServerLimits;

/// How long a request past the bound waits for a slot before it is refused: a burst a little
/// over the bound is smoothed, a sustained one is shed.
const WAIT: Duration = Duration::from_millis(250);

/// The bytes of request bodies every request together may hold. A request takes permits for
/// what its body may hold before anything of it is read, and gives them back with its answer.
#[derive(Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> BodyBudget {
        let total = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Permits for `bytes` (at most the whole budget), or `None` when they are not free within
    /// the wait.
    pub async fn admit(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        tokio::time::timeout(WAIT, self.bytes.clone().acquire_many_owned(n))
            .await
            .ok()?
            .ok()
    }
}

#[derive(Clone)]
struct Bounds {
    requests: Arc<Semaphore>,
    bodies: BodyBudget,
}

/// `router` with the local server's bounds on requests in flight and body bytes held.
pub fn bounded(router: Router, limits: &ServerLimits) -> Router {
    let bounds = Bounds {
        requests: Arc::new(Semaphore::new(limits.requests)),
        bodies: BodyBudget::new(limits.body_bytes),
    };
    router.layer(axum::middleware::from_fn_with_state(bounds, admit))
}

async fn admit(State(bounds): State<Bounds>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let permit = match bounds.requests.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => match tokio::time::timeout(WAIT, bounds.requests.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => return busy("too many requests are being served; retry"),
        },
    };
    let Some(held) = bounds.bodies.admit(body_claim(req.headers())).await else {
        return busy("too many request bodies are being read; retry");
    };
    let res = next.run(req).await;
    drop((permit, held));
    res
}

/// The most a request's body can hold: what it declares, else (chunked) the largest body any
/// route reads; no route reads more than that, so no claim needs to be larger.
fn body_claim(headers: &HeaderMap) -> usize {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return LARGEST_BODY;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |n| {
            usize::try_from(n).unwrap_or(usize::MAX).min(LARGEST_BODY)
        })
}

/// The answer past a bound.
pub fn busy(detail: &'static str) -> Response {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).into_response()
}
