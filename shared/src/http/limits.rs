//! What the local server takes on at once, so memory stays bounded whatever concurrent callers
//! ask, and a caller who sends slowly holds only what is its own. Past a bound the answer is
//! `503 unavailable` + `Retry-After: 1`. `/health` is never refused, so a monitor still sees the
//! process alive while it sheds load. On AWS, API Gateway throttling and the functions' reserved
//! concurrency do this instead; their routers carry no such layer.
//!
//! A request is admitted in this order:
//! 1. **Who.** Its credentials are checked from its headers alone. A `/v1` request that names no
//!    known caller goes straight to its handler, which refuses it `401` before any of its body is
//!    read: it holds nothing while it trickles.
//! 2. **Its caller's share.** At most `per_caller` requests of one caller (a principal, or the
//!    peer address of a request without credentials, such as a review form) are in hand at once.
//! 3. **Its body.** Bytes of the shared body budget for what the body may hold (a body without
//!    credentials — a review form — from a quarter of it apart), then the body is read whole. A
//!    slow body holds its caller's share and its bytes, never a request slot.
//! 4. **A request slot** (`requests` at once), held while the handler runs.
//! 5. **A large answer** (over [`LARGE_ANSWER`]) holds a slot of its own until it is sent, so
//!    answers nobody reads cannot pile up in memory (the listener ends a stalled write).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::limits::{
    BODY_BYTES as LARGEST_BODY, FORM_BYTES, SLACK_BODY_BYTES,
};
use http::{HeaderMap, StatusCode, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::Authenticator;
use super::problem::Problem;
use crate::config::ServerLimits;

/// How long a request past the bound waits for a slot before it is refused: a burst a little
/// over the bound is smoothed, a sustained one is shed.
const WAIT: Duration = Duration::from_millis(250);

/// Requests of one caller in hand at once, from reading its body to its answer.
pub const PER_CALLER: usize = 16;

/// The caller the admission layer already authenticated; the `Caller` extractor takes it rather
/// than asking the directory twice.
#[derive(Clone)]
pub struct Authenticated(pub Principal);

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

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Principal(String, String),
    Peer(IpAddr),
}

/// Requests in hand per caller; an entry lives only while its caller has one.
#[derive(Default)]
pub struct Shares(Mutex<HashMap<Who, usize>>);

/// One request's place in its caller's share, given back when dropped.
pub struct Share {
    shares: Arc<Shares>,
    who: Who,
}

impl Shares {
    pub fn take(self: &Arc<Self>, who: Who, most: usize) -> Option<Share> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(who.clone()).or_default();
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Share {
            shares: self.clone(),
            who,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.who) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.who);
            }
        }
    }
}

#[derive(Clone)]
struct Bounds {
    auth: Arc<Authenticator>,
    requests: Arc<Semaphore>,
    bodies: BodyBudget,
    /// For requests without credentials (review forms): a quarter of the budget, apart.
    anonymous_bodies: BodyBudget,
    shares: Arc<Shares>,
    per_caller: usize,
    answers: Answers,
}

/// `router` with the local server's bounds; `auth` names each request's caller.
pub fn bounded(router: Router, limits: &ServerLimits, auth: Arc<Authenticator>) -> Router {
    let bounds = Bounds {
        auth,
        requests: Arc::new(Semaphore::new(limits.requests)),
        bodies: BodyBudget::new(limits.body_bytes),
        anonymous_bodies: BodyBudget::new((limits.body_bytes / 4).max(FORM_BYTES)),
        shares: Arc::default(),
        per_caller: PER_CALLER,
        answers: Answers::default(),
    };
    router.layer(axum::middleware::from_fn_with_state(bounds, admit))
}

async fn admit(State(bounds): State<Bounds>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let known = bounds.auth.authenticate(&parts).await.ok();
    let who = match &known {
        Some(p) => Who::Principal(p.tenant.clone(), p.principal.clone()),
        None => Who::Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ),
    };
    let anonymous = known.is_none();
    if let Some(p) = known {
        parts.extensions.insert(Authenticated(p));
    }
    let Some(share) = bounds.shares.take(who.clone(), bounds.per_caller) else {
        return busy("this caller has too many requests in hand; retry");
    };
    let (req, held) = if anonymous && parts.uri.path().starts_with("/v1/") {
        // Its handler refuses it before reading a byte of it.
        (Request::from_parts(parts, body), None)
    } else {
        // Without credentials, only a review form is read (and from a pool of its own, so
        // anonymous senders cannot hold the bytes callers need).
        let (pool, most) = if anonymous {
            let most = match parts.uri.path() {
                "/slack/interactions" => SLACK_BODY_BYTES,
                _ => FORM_BYTES,
            };
            (&bounds.anonymous_bodies, most)
        } else {
            (&bounds.bodies, LARGEST_BODY)
        };
        if declared(&parts.headers).is_some_and(|n| n > most as u64) {
            // More than its kind of request may send: left for the route to refuse in its own
            // words (a page, or a problem), unread.
            (Request::from_parts(parts, Body::empty()), None)
        } else {
            let held = match body_claim(&parts.headers, most) {
                0 => None,
                n => match pool.admit(n).await {
                    Some(h) => Some(h),
                    None => return busy("too many request bodies are being read; retry"),
                },
            };
            match axum::body::to_bytes(body, most).await {
                Ok(bytes) => (Request::from_parts(parts, Body::from(bytes)), held),
                // A chunked body past it: the route is handed one byte more than the most, so
                // it refuses it in its own words too.
                Err(_) => (
                    Request::from_parts(parts, Body::from(vec![0u8; most + 1])),
                    held,
                ),
            }
        }
    };
    let permit = match bounds.requests.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => match tokio::time::timeout(WAIT, bounds.requests.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => return busy("too many requests are being served; retry"),
        },
    };
    let res = next.run(req).await;
    drop((permit, held, share));
    bounds.answers.hold(res, who).await
}

fn declared(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The most a request's body can hold: what it declares, else (chunked) the most its kind of
/// request may send (`most`); no route reads more, so no claim needs to be larger.
fn body_claim(headers: &HeaderMap, most: usize) -> usize {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return most;
    }
    declared(headers).map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(most))
}

/// Answers larger than this hold a slot of their own until they are sent.
pub const LARGE_ANSWER: usize = 64 * 1024;
/// Large answers being sent at once, and of one caller.
const LARGE_AT_ONCE: usize = 16;
const LARGE_PER_CALLER: usize = 4;

/// Large answers (list pages of up to 2 MiB) in the sending. A request's slot is given back
/// when its handler returns, before its answer is written; a client that never reads would
/// then keep any number of answers in memory. A large answer holds one of these slots until
/// its last chunk is taken to be written (chunks of [`LARGE_ANSWER`], so that is when little of
/// it is left unsent), and the connection's write stall limit ends a client that never reads.
#[derive(Clone)]
struct Answers {
    slots: Arc<Semaphore>,
    shares: Arc<Shares>,
}

impl Default for Answers {
    fn default() -> Answers {
        Answers {
            slots: Arc::new(Semaphore::new(LARGE_AT_ONCE)),
            shares: Arc::default(),
        }
    }
}

impl Answers {
    /// `res`, holding a large-answer slot of `who` until it is sent if it is large.
    async fn hold(&self, res: Response, who: Who) -> Response {
        use axum::body::HttpBody as _;
        if res
            .body()
            .size_hint()
            .exact()
            .is_none_or(|n| n <= LARGE_ANSWER as u64)
        {
            return res;
        }
        let Some(share) = self.shares.take(who, LARGE_PER_CALLER) else {
            return busy("this caller has too many large answers being sent; retry");
        };
        let Ok(Ok(slot)) = tokio::time::timeout(WAIT, self.slots.clone().acquire_owned()).await
        else {
            return busy("too many large answers are being sent; retry");
        };
        let (mut parts, body) = res.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return busy("the answer could not be read; retry");
        };
        parts
            .headers
            .insert(header::CONTENT_LENGTH, bytes.len().into());
        let chunks =
            futures_util::stream::unfold((bytes, (slot, share)), |(mut rest, held)| async move {
                if rest.is_empty() {
                    return None;
                }
                let chunk = rest.split_to(LARGE_ANSWER.min(rest.len()));
                Some((Ok::<_, std::convert::Infallible>(chunk), (rest, held)))
            });
        Response::from_parts(parts, Body::from_stream(chunks))
    }
}

/// The answer past a bound.
pub fn busy(detail: &'static str) -> Response {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).into_response()
}
