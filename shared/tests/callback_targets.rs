//! The callback URL an agent gives at create, through the one router: every IPv6 form that
//! carries an IPv4 address is judged by the address it carries (refused, 422 naming
//! `callback_url`, for loopback, private and link-local; accepted for a public one).

mod support;

use http::StatusCode;
use serde_json::json;
use support::*;

/// `v4` in each IPv6 form that carries one, as an attacker could write it.
fn forms(v4: [u8; 4]) -> Vec<String> {
    let [a, b, c, d] = v4;
    let (hi, lo) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
    vec![
        format!("::ffff:{a}.{b}.{c}.{d}"),
        format!("::{a}.{b}.{c}.{d}"),
        format!("::ffff:0:{a}.{b}.{c}.{d}"),
        format!("64:ff9b::{a}.{b}.{c}.{d}"),
        format!("2002:{hi:x}:{lo:x}::1"),
        // Teredo: server 65.54.227.120, the client's bits inverted.
        format!("2001:0:4136:e378::{:x}:{:x}", !hi, !lo),
    ]
}

async fn create_with_callback(app: &axum::Router, ip: &str) -> Reply {
    let mut body = create_body();
    body["callback_url"] = json!(format!("https://[{ip}]/callback"));
    send(app, call("POST", "/v1/approvals", Some(AGENT), Some(body))).await
}

#[tokio::test]
async fn embedded_inward_addresses_are_refused_at_create() {
    let app = router();
    for v4 in [
        [127, 0, 0, 1],
        [10, 0, 0, 7],
        [172, 16, 3, 4],
        [169, 254, 169, 254],
    ] {
        for ip in forms(v4) {
            let r = create_with_callback(&app, &ip).await;
            problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert_eq!(r.body["field"], "callback_url", "{ip}: {}", r.body);
        }
    }
    // NAT64 local-use is never public, whatever it carries.
    let r = create_with_callback(&app, "64:ff9b:1::5db8:d822").await;
    assert_eq!(r.body["field"], "callback_url", "{}", r.body);
}

#[tokio::test]
async fn embedded_public_addresses_are_accepted_at_create() {
    let app = router();
    for ip in forms([93, 184, 216, 34]) {
        let r = create_with_callback(&app, &ip).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ip}: {}", r.body);
    }
}
