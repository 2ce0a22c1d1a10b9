//! A loopback proxy in front of the DynamoDB-protocol server that fails chosen operations on
//! demand (throttling, 5xx), or slows every call down: the faults a real server cannot produce
//! when a test needs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What to answer instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerError,
}

#[derive(Default)]
struct Plan {
    /// operation → (fault, how many more times; `usize::MAX` = always)
    faults: HashMap<String, (Fault, usize)>,
    /// operation → requests seen (forwarded or failed)
    seen: HashMap<String, usize>,
    /// Added to every request before it is forwarded.
    delay: std::time::Duration,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: Client<HttpConnector, Body>,
    plan: Arc<Mutex<Plan>>,
}

pub struct FaultProxy {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FaultProxy {
    /// A proxy to `upstream` (e.g. `http://127.0.0.1:5005`) on a free loopback port.
    pub async fn start(upstream: &str) -> FaultProxy {
        let plan = Arc::new(Mutex::new(Plan::default()));
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            plan: plan.clone(),
        };
        let app = Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { url, plan, server }
    }

    /// Fails the next `times` requests of `operation` (e.g. "TransactWriteItems") with `fault`.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        self.plan
            .lock()
            .unwrap()
            .faults
            .insert(operation.to_owned(), (fault, times));
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

    /// Holds every request `delay` before forwarding it: a store that far away.
    pub fn delay(&self, delay: std::time::Duration) {
        self.plan.lock().unwrap().delay = delay;
    }

    pub fn heal(&self) {
        self.plan.lock().unwrap().faults.clear();
    }

    /// How many requests of `operation` reached the proxy.
    pub fn seen(&self, operation: &str) -> usize {
        self.plan
            .lock()
            .unwrap()
            .seen
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let op = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let (fault, delay) = {
        let mut plan = p.plan.lock().unwrap();
        *plan.seen.entry(op.clone()).or_default() += 1;
        let fault = match plan.faults.get_mut(&op) {
            Some((fault, left)) if *left > 0 => {
                *left = left.saturating_sub(1);
                Some(*fault)
            }
            _ => None,
        };
        (fault, plan.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = fault {
        let (status, kind, message) = match fault {
            Fault::Throttle => (
                400,
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
            Fault::ServerError => (500, "InternalServerError", "Internal server error"),
        };
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"{message}"}}"#
        );
        return (
            http::StatusCode::from_u16(status).unwrap(),
            [
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amzn-errortype", kind),
            ],
            body,
        )
            .into_response();
    }
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    parts.uri = format!("{}{path}", p.upstream).parse().unwrap();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match p
        .client
        .request(Request::from_parts(parts, Body::from(bytes)))
        .await
    {
        Ok(res) => {
            let (parts, body) = res.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(e) => (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
