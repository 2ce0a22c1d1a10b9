//! `GET /metrics` on the local server: what `holdpoint::metrics` measured in this process, in the
//! Prometheus text format. Not an API route (no Lambda serves it: on AWS the same measurements
//! are EMF lines in CloudWatch).
//!
//! Unauthenticated, so answered to loopback peers alone (the server listens on 127.0.0.1 by
//! default): a scraper on the same host reads it, anyone else gets the answer of an unknown route.
//! The peer is the socket's, never a forwarded header; a reverse proxy on the same host must not
//! route `/metrics`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use holdpoint::http::problem::Problem;
use holdpoint::metrics::prometheus;

pub const PATH: &str = "/metrics";

/// Whether `peer` may read the metrics: a loopback address (IPv4-mapped too), nothing unknown.
fn may_read(peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| p.ip().to_canonical().is_loopback())
}

pub async fn serve(req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !may_read(peer) {
        return Problem::new(StatusCode::NOT_FOUND, "no_route", "no such route").into_response();
    }
    let mut res = prometheus::render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus::CONTENT_TYPE),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_read_the_metrics() {
        let peer = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        assert!(may_read(peer("127.0.0.1:5000")));
        assert!(may_read(peer("[::1]:5000")));
        assert!(may_read(peer("[::ffff:127.0.0.1]:5000")));
        // Attacker tries: another host, a mapped outside address, an unknown peer.
        assert!(!may_read(peer("192.168.1.20:5000")));
        assert!(!may_read(peer("[::ffff:10.0.0.1]:5000")));
        assert!(!may_read(peer("0.0.0.0:5000")));
        assert!(!may_read(None));
    }
}
