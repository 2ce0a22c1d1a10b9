//! The local server's HTTP/1.1 front: bounded in time and size, so a hostile client cannot hold
//! it, and every answer it gives itself is a problem document like the application's own.
//!
//! - A client must send a request's headers within [`HEADER_SECONDS`] of connecting or of its
//!   previous answer (this also ends idle keep-alive connections), and headers of at most
//!   [`MAX_HEADER_BYTES`]; a whole request, body included, must be answered within
//!   [`REQUEST_SECONDS`] (408 otherwise).
//! - Bodies are bounded per route by the application, before they are read.
//! - At most `max_connections` are open at once: one past it has its request read (for at most
//!   a second) and is answered `503 unavailable` with `Retry-After: 1` — or `200` if it asked for
//!   `/health` — and closed, so a flood of idle connections holds a bounded amount.
//! - A client that stops reading its answers is cut off once a write has waited
//!   [`WRITE_STALL_SECONDS`] for it, so unread answers are not held for ever.
//! - What hyper answers by itself (malformed HTTP 400, 414, 431) goes out as
//!   `application/problem+json`: [`ProblemIo`] rewrites those bodiless answers on the way out.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use holdpoint::http::problem::Problem;
use http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

pub const HEADER_SECONDS: u64 = 10;
pub const REQUEST_SECONDS: u64 = 30;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves `app` on `listener`, at most `max_connections` at once, until `shutdown` completes,
/// then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = accepted;
        let Ok(slot) = open.clone().try_acquire_owned() else {
            match refusing.clone().try_acquire_owned() {
                Ok(turn) => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(turn);
                    });
                }
                // Past even that: the short answer, at once (a fresh socket's send buffer is
                // empty), then closed; the peer may see a reset.
                Err(_) => {
                    let _ = stream.try_write(&REFUSED);
                }
            }
            continue;
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let answer = tokio::time::timeout(
                        Duration::from_secs(REQUEST_SECONDS),
                        app.oneshot(req),
                    )
                    .await;
                    Ok::<_, std::convert::Infallible>(match answer {
                        Ok(Ok(res)) => res,
                        Ok(Err(never)) => match never {},
                        Err(_) => Problem::new(
                            StatusCode::REQUEST_TIMEOUT,
                            "request_timeout",
                            format!("the request was not complete within {REQUEST_SECONDS} s"),
                        )
                        .into_response(),
                    })
                }
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(HEADER_SECONDS))
            .max_header_size(MAX_HEADER_BYTES)
            .writev(false);
        let connection = http.serve_connection(TokioIo::new(ProblemIo::new(stream)), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Connections past the bound being answered at once; past these a refusal is not read.
const REFUSING: usize = 64;
/// How long a refused connection has to send its request, and then to close.
const REFUSE_SECONDS: u64 = 1;

/// Answers a connection past the bound after reading what it sent, so its answer is not lost to
/// a reset: `/health` is answered as ever (a monitor still sees the process alive when every
/// connection is taken), anything else `503`; then the connection is drained and closed.
async fn refuse(mut stream: TcpStream) {
    let wait = Duration::from_secs(REFUSE_SECONDS);
    let mut head = [0u8; 1024];
    let mut read = 0;
    let _ = tokio::time::timeout(wait, async {
        while read < head.len() && !head[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut head[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
    let answer: &[u8] = if head[..read].starts_with(b"GET /health ") {
        HEALTHY
    } else {
        &REFUSED
    };
    if stream.write_all(answer).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(wait, async {
        let mut sink = [0u8; 1024];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

const HEALTHY: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\
    cache-control: no-store\r\nconnection: close\r\n\r\n{\"status\":\"ok\"}";

/// The answer to a connection past the bound.
static REFUSED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = r#"{"code":"unavailable","detail":"too many connections are open; retry","status":503,"title":"Service Unavailable","type":"https://holdpoint.dev/problems/unavailable"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nretry-after: 1\r\ncache-control: no-store\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// A connection whose bodiless error answers (hyper's own, for requests it could not parse) are
/// replaced by problem documents. Every answer of the application has a `content-type`, so a
/// 4xx/5xx head with none and `content-length: 0` can only be hyper's.
///
/// It also ends a connection whose client stops reading: a write that makes no progress for
/// [`WRITE_STALL_SECONDS`] fails, so an answer nobody reads is not held in memory for ever.
pub struct ProblemIo<S> {
    inner: S,
    /// A replacement being written, how much of it is out, and the length hyper wrote.
    pending: Option<(Vec<u8>, usize, usize)>,
    /// Since when a write has been waiting for the client to read.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long a write may wait for a client that does not read.
pub const WRITE_STALL_SECONDS: u64 = 10;

impl<S> ProblemIo<S> {
    pub fn new(inner: S) -> ProblemIo<S> {
        ProblemIo {
            inner,
            pending: None,
            stalled: None,
        }
    }
}

/// `poll` as it is, except that one pending past the write stall limit fails.
fn watched<T>(
    stalled: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    cx: &mut Context<'_>,
    poll: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    if poll.is_ready() {
        *stalled = None;
        return poll;
    }
    let timer = stalled.get_or_insert_with(|| {
        Box::pin(tokio::time::sleep(Duration::from_secs(WRITE_STALL_SECONDS)))
    });
    if timer.as_mut().poll(cx).is_ready() {
        return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
    }
    Poll::Pending
}

/// The problem document that stands in for hyper's bodiless error answer `head`, if it is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    let code: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let lower = rest.to_ascii_lowercase();
    let bare = code >= 400
        && lower.ends_with("\r\n\r\n")
        && lower.contains("content-length: 0\r\n")
        && !lower.contains("content-type:");
    if !bare {
        return None;
    }
    let status = StatusCode::from_u16(code).ok()?;
    let (problem, detail) = match code {
        400 => ("malformed_request", "the request is not valid HTTP/1.1"),
        414 => ("uri_too_long", "the request target is too long"),
        431 => ("headers_too_large", "the request headers are too large"),
        _ => ("http_error", "the request could not be served"),
    };
    let body = serde_json::json!({
        "type": format!("https://holdpoint.dev/problems/{problem}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": code,
        "code": problem,
        "detail": detail,
    })
    .to_string();
    Some(
        format!(
            "HTTP/1.1 {code} {}\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n\
             connection: close\r\n\r\n{body}",
            status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match replacement(buf) {
                Some(bytes) => this.pending = Some((bytes, 0, buf.len())),
                None => {
                    let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
                    return watched(&mut this.stalled, cx, poll);
                }
            }
        }
        while let Some((bytes, written, claimed)) = &mut this.pending {
            if *written == bytes.len() {
                let claimed = *claimed;
                this.pending = None;
                return Poll::Ready(Ok(claimed));
            }
            let poll = Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]);
            let n = ready!(watched(&mut this.stalled, cx, poll))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        watched(&mut this.stalled, cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_bodiless_error_heads_are_replaced() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(replacement(hyper_431).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "));
        assert!(out.contains("content-type: application/problem+json"));
        assert!(out.ends_with("\"status\":431,\"title\":\"Request Header Fields Too Large\",\"type\":\"https://holdpoint.dev/problems/headers_too_large\"}"));
        let app = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(
            replacement(app).is_none(),
            "the application's own answers pass"
        );
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ok).is_none());
        assert!(replacement(b"{\"partial\": \"body bytes\"}").is_none());
    }
}
