//! A loopback proxy that fails chosen requests on demand, slows every one down, or loses an
//! answer after the upstream acted on it: the faults a real server (the DynamoDB-protocol one,
//! EventBridge's, or `holdpoint serve`) cannot produce when a test needs them. Everything else is
//! forwarded as it is; every request is counted by operation and its headers are kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What to do instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's ThrottlingException (400).
    Throttle,
    /// An AWS InternalServerError (500).
    ServerError,
    /// A busy Holdpoint: this status (429, 503) as problem+json with `Retry-After: 1`.
    Busy(u16),
    /// Forwarded, so the upstream acts on it; then the connection is closed with no answer.
    LoseAnswer,
}

#[derive(Default)]
struct Plan {
    /// operation → faults still to answer with, in order (fault, how many more times;
    /// `usize::MAX` = always)
    faults: HashMap<String, VecDeque<(Fault, usize)>>,
    /// operation → when each of its requests arrived (forwarded or failed)
    arrivals: HashMap<String, Vec<Instant>>,
    /// The headers of every request, in order.
    headers: Vec<HeaderMap>,
    /// Added to every request before it is forwarded.
    delay: Duration,
}

impl Plan {
    fn next_fault(&mut self, operation: &str) -> Option<Fault> {
        let queue = self.faults.get_mut(operation)?;
        let (fault, left) = queue.front_mut()?;
        let fault = *fault;
        *left = left.saturating_sub(1);
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }
}

/// The operation a request is: its `X-Amz-Target` action on the AWS protocols
/// (`TransactWriteItems`, `PutEvents`), `CreateApproval` or `GetApproval` on Holdpoint's API,
/// otherwise its method and path.
pub fn operation(method: &Method, path: &str, headers: &HeaderMap) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or("").to_owned();
    }
    match (method, path.strip_prefix("/v1/approvals")) {
        (&Method::POST, Some("")) => "CreateApproval".to_owned(),
        (&Method::GET, Some(rest)) if rest.len() > 1 && rest.matches('/').count() == 1 => {
            "GetApproval".to_owned()
        }
        _ => format!("{method} {path}"),
    }
}

pub struct FaultProxy {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy to `upstream` (e.g. `http://127.0.0.1:5005`) on a free loopback port.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let plan = Arc::new(Mutex::new(Plan::default()));
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let shared = plan.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (plan, upstream, client) = (shared.clone(), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        forward(req, upstream.clone(), plan.clone(), client.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, plan, task }
    }

    /// Answers the next `times` requests of `operation` (see [`operation`]) with `fault`, after
    /// the faults already planned for it.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        self.plan()
            .faults
            .entry(operation.to_owned())
            .or_default()
            .push_back((fault, times));
    }

    /// Holds every request `delay` before forwarding it: an upstream that far away.
    pub fn delay(&self, delay: Duration) {
        self.plan().delay = delay;
    }

    /// Forgets every planned fault.
    pub fn heal(&self) {
        self.plan().faults.clear();
    }

    /// How many requests of `operation` reached the proxy.
    pub fn seen(&self, operation: &str) -> usize {
        self.plan().arrivals.get(operation).map_or(0, Vec::len)
    }

    /// When each request of `operation` arrived; counting starts again from none.
    pub fn take_arrivals(&self, operation: &str) -> Vec<Instant> {
        self.plan().arrivals.remove(operation).unwrap_or_default()
    }

    /// The headers of every request so far, in order.
    pub fn headers(&self) -> Vec<HeaderMap> {
        self.plan().headers.clone()
    }

    /// A store on the same tables as `direct`, reached through this proxy.
    pub async fn store_like(
        &self,
        direct: &holdpoint::store::dynamodb::DynamoStore,
    ) -> holdpoint::store::dynamodb::DynamoStore {
        let sdk = holdpoint::store::dynamodb::sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&self.url)
            .build();
        holdpoint::store::dynamodb::DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            direct.tables().clone(),
        )
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap()
    }
}

async fn forward(
    req: Request<Incoming>,
    upstream: Arc<str>,
    plan: Arc<Mutex<Plan>>,
    client: Client<HttpConnector, Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let op = operation(req.method(), req.uri().path(), req.headers());
    let (fault, delay) = {
        let mut plan = plan.lock().unwrap();
        plan.headers.push(req.headers().clone());
        plan.arrivals
            .entry(op.clone())
            .or_default()
            .push(Instant::now());
        (plan.next_fault(&op), plan.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Throttle) => return Ok(aws_error(400, "ThrottlingException")),
        Some(Fault::ServerError) => return Ok(aws_error(500, "InternalServerError")),
        Some(Fault::Busy(status)) => return Ok(busy(status)),
        Some(Fault::LoseAnswer) | None => {}
    }
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{upstream}{path}").parse().unwrap();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let answer = match client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            let mut res = Response::new(Full::from(e.to_string()));
            *res.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(res);
        }
    };
    let (mut parts, body) = answer.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    if fault == Some(Fault::LoseAnswer) {
        // The upstream acted; its answer never reaches the client.
        return Err(std::io::Error::other("answer lost"));
    }
    // The body is whole now: its length is the new one, whatever the upstream framed it as.
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, Full::new(bytes)))
}

fn aws_error(status: u16, kind: &str) -> Response<Full<Bytes>> {
    let message = match kind {
        "ThrottlingException" => "Rate of requests exceeds the allowed throughput.",
        _ => "Internal server error",
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-errortype", kind)
        .body(Full::from(format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"{message}"}}"#
        )))
        .unwrap()
}

fn busy(status: u16) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("retry-after", "1")
        .header("content-type", "application/problem+json")
        .body(Full::from(
            r#"{"type":"about:blank","title":"Busy","status":503,"code":"unavailable","detail":"busy"}"#,
        ))
        .unwrap()
}
