//! A loopback HTTP front for a `holdpoint serve`, for the faults a real server will not produce
//! on demand: a create whose answer is lost after the server committed it, and busy answers
//! (429/503 with `Retry-After`). Everything else is forwarded as it is; every request is counted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(Default)]
pub struct Plan {
    /// Creates to forward and then answer by closing the connection.
    pub lost_create_answers: usize,
    /// Statuses (429, 503) to answer the next gets of one approval with, `Retry-After: 1`.
    pub busy_gets: Vec<u16>,
    /// Creates the server received.
    pub creates: usize,
    /// When each get of one approval arrived.
    pub gets: Vec<Instant>,
    /// The headers of every request, in order.
    pub headers: Vec<http::HeaderMap>,
}

pub struct Front {
    pub url: String,
    plan: Arc<Mutex<Plan>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    pub async fn start(upstream: SocketAddr) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let plan = Arc::new(Mutex::new(Plan::default()));
        let http = reqwest::Client::new();
        let shared = plan.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (plan, http) = (shared.clone(), http.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |req| handle(req, upstream, plan.clone(), http.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Front { url, plan, task }
    }

    pub fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap()
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    http: reqwest::Client,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    plan.lock().unwrap().headers.push(req.headers().clone());
    let path = req.uri().path().to_owned();
    let create = req.method() == Method::POST && path == "/v1/approvals";
    let get = req.method() == Method::GET
        && path.starts_with("/v1/approvals/")
        && path.matches('/').count() == 3;
    if get {
        let mut p = plan.lock().unwrap();
        p.gets.push(Instant::now());
        if !p.busy_gets.is_empty() {
            let status = p.busy_gets.remove(0);
            return Ok(Response::builder()
                .status(status)
                .header("retry-after", "1")
                .header("content-type", "application/problem+json")
                .body(Full::from(
                    r#"{"type":"about:blank","title":"Busy","status":503,"code":"unavailable","detail":"busy"}"#,
                ))
                .unwrap());
        }
    }
    let target = format!(
        "http://{upstream}{}",
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let mut headers = parts.headers.clone();
    headers.remove(http::header::HOST);
    let answer = http
        .request(parts.method, target)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.map_err(std::io::Error::other)?;
    if create {
        let mut p = plan.lock().unwrap();
        p.creates += 1;
        if p.lost_create_answers > 0 {
            p.lost_create_answers -= 1;
            // The server committed; its answer never reaches the client.
            return Err(std::io::Error::other("answer lost"));
        }
    }
    let mut res = Response::builder().status(status);
    for (k, v) in &headers {
        if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
            res = res.header(k, v);
        }
    }
    Ok(res.body(Full::new(bytes)).unwrap())
}
