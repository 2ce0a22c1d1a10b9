//! Generated cases over what strangers control: request bodies, review tokens, cursors, and the
//! audit chain's canonical form. Bounded here (`PROPERTY_CASES`, default 200 per property, a
//! fixed seed per property); run longer with e.g.
//! `PROPERTY_CASES=20000 PROPERTY_SEED=$RANDOM cargo test --release -p holdpoint --test properties`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;

use holdpoint::conformance::{generated_bodies, test_key, test_keys};
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::Cursor;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::audit::{self, AuditEvent, AuditRecord};
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::keys::KeyRing;
use holdpoint_core::time::Clock;

const AGENT: &str = "key-agent-0000000000";

fn cases() -> usize {
    std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn rng(property: u64) -> StdRng {
    let seed: u64 = std::env::var("PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    StdRng::seed_from_u64(seed ^ property)
}

fn router() -> (Router, Service) {
    let dir = tempfile::tempdir().unwrap().keep();
    let service = Service::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let keys = json!({AGENT: {"tenant": "acme", "principal": "agent"}});
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys.to_string()).unwrap()),
    };
    (app(state, &Routes::ALL), service)
}

async fn post(app: &Router, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// One random change to `bytes`: a byte replaced, removed, or a JSON-ish fragment inserted.
fn mutate(rng: &mut StdRng, bytes: &mut Vec<u8>) {
    const FRAGMENTS: [&[u8]; 10] = [
        b"1e2",
        b"{",
        b"]",
        b"\"",
        b"\\u0000",
        b"18446744073709551616",
        b",\"a\":1,\"a\":2",
        b"null",
        b"-0",
        b"[[[[[[[[",
    ];
    if bytes.is_empty() {
        return;
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..3) {
        0 => bytes[at] = rng.random(),
        1 => {
            bytes.remove(at);
        }
        _ => {
            let f = FRAGMENTS[rng.random_range(0..FRAGMENTS.len())];
            bytes.splice(at..at, f.iter().copied());
        }
    }
}

/// Any body, however mangled: a clear answer (201, or a 4xx problem), never a 5xx; and what is
/// accepted reads back exactly as sent.
#[tokio::test]
async fn request_bodies_get_a_clear_answer_and_accepted_ones_read_back_exactly() {
    let (app, _) = router();
    let mut rng = rng(1);
    let bodies = generated_bodies(rng.random(), cases().div_ceil(4).max(8));
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..cases() {
        let mut body = bodies[i % bodies.len()].clone().into_bytes();
        for _ in 0..rng.random_range(0..3) {
            mutate(&mut rng, &mut body);
        }
        let (status, answer) = post(&app, "/v1/approvals", body.clone()).await;
        assert!(
            status == StatusCode::CREATED || status.is_client_error(),
            "{status} for {}: {answer}",
            String::from_utf8_lossy(&body)
        );
        if status == StatusCode::CREATED {
            accepted += 1;
            let sent: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer["context"], sent["context"]);
            assert_eq!(answer["tool_call"], sent["tool_call"]);
        } else {
            refused += 1;
            assert!(answer["code"].is_string(), "a problem document: {answer}");
        }
    }
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

/// Tokens: every changed token is refused, and nothing panics on garbage.
#[tokio::test]
async fn review_tokens_other_than_the_issued_one_are_refused() {
    let (_, service) = router();
    let agent = holdpoint_core::domain::identity::Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest = serde_json::from_value(
        json!({"action": "a", "agent_id": "b", "reviewers": ["alice"], "expires_in_seconds": 600}),
    )
    .unwrap();
    let (a, _) = service.create(&agent, request, None).await.unwrap();
    let links = service.review_links(&a, "http://t").await.unwrap();
    let token = links[0].1.split("token=").nth(1).unwrap().to_owned();
    let ring = KeyRing::new(test_key(), vec![]);
    let now = chrono::Utc::now();
    assert!(
        holdpoint_core::domain::review_link::verify(&ring, &token, a.id, now)
            .await
            .is_ok()
    );
    let mut rng = rng(2);
    for _ in 0..cases() {
        let mut bytes = token.clone().into_bytes();
        mutate(&mut rng, &mut bytes);
        let Ok(changed) = String::from_utf8(bytes) else {
            continue;
        };
        if changed == token {
            continue;
        }
        assert!(
            holdpoint_core::domain::review_link::verify(&ring, &changed, a.id, now)
                .await
                .is_err(),
            "accepted {changed}"
        );
        assert!(service.open_review(a.id, &changed).await.is_err());
    }
}

/// Cursors: garbage is refused as such (400), never a 5xx; a decoded cursor encodes back to itself.
#[tokio::test]
async fn cursors_decode_or_are_refused() {
    let (app, _) = router();
    let mut rng = rng(3);
    let good = Cursor {
        created_at: holdpoint_core::time::truncate_millis(chrono::Utc::now()),
        id: uuid::Uuid::new_v4(),
    }
    .encode();
    for _ in 0..cases() {
        let mut bytes = good.clone().into_bytes();
        for _ in 0..rng.random_range(1..4) {
            mutate(&mut rng, &mut bytes);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(c) = Cursor::decode(&text) {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        let path = format!("/v1/approvals?cursor={}", url_escape(&text));
        let req = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {AGENT}"))
            .body(Body::empty())
            .unwrap();
        let status = app.clone().oneshot(req).await.unwrap().status();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{status} for cursor {text:?}"
        );
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The canonical form: a generated chain verifies, and any change to any record's signed
/// fields breaks it at that record.
#[test]
fn any_change_to_a_signed_field_breaks_the_chain_there() {
    let mut rng = rng(4);
    let key = test_key();
    for _ in 0..cases() {
        let id = uuid::Uuid::new_v4();
        let n = rng.random_range(1..6);
        let mut chain: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let head = chain.last().map(AuditRecord::head);
            let mut r = AuditRecord::next(
                head.as_ref(),
                id,
                "acme",
                AuditEvent::ApprovalRecorded,
                &format!("reviewer-{}", rng.random::<u16>()),
                holdpoint_core::time::truncate_millis(chrono::Utc::now()),
                json!({"i": i, "note": rng.random::<u32>()}).into(),
            )
            .with_state(audit::SignedState {
                digest: format!("{:064x}", rng.random::<u128>()),
                fields: format!("{:012x}", rng.random::<u64>() >> 16),
            });
            r.sign(&key);
            chain.push(r);
        }
        let head = chain.last().unwrap().head();
        assert!(audit::verify(&chain, &head, |_| Some(key.clone())).valid);
        let at = rng.random_range(0..n);
        let mut broken = chain.clone();
        let r = &mut broken[at];
        match rng.random_range(0..7) {
            0 => r.actor.push('x'),
            6 => r.state_fields = "0".repeat(12),
            1 => r.payload = json!({"i": -1}).into(),
            2 => r.state_digest = "0".repeat(64),
            3 => r.at += chrono::TimeDelta::milliseconds(1),
            4 => r.tenant.push('x'),
            _ => r.event = AuditEvent::Approved,
        }
        let v = audit::verify(&broken, &head, |_| Some(key.clone()));
        assert!(!v.valid);
        assert_eq!(v.first_invalid_sequence, Some(at as u64 + 1), "{v:?}");
    }
}
