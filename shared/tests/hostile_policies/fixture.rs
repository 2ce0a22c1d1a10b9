//! The router the hostile tries attack: API keys of a tenant with finance reviewers, agents (one
//! holding the finance role, one holding admin), a directory, a policy store, and a clock the
//! tests move.

use axum::Router;
use axum::body::Body;
use http::{Request, header};
use serde_json::{Value, json};

use crate::support::{Reply, send};
use holdpoint::conformance::ManualClock;
use holdpoint::service::Service;

pub const AGENT: &str = "key-agent-0000000000";
pub const ADMIN: &str = "key-admin-0000000000";
pub const ALICE: &str = "key-alice-0000000000";
pub const BOB: &str = "key-bob-000000000000";
pub const CAROL: &str = "key-carol-0000000000";
/// An agent holding the reviewer role `finance`.
pub const HELPER_BOT: &str = "key-helper-bot-00000";
/// An agent holding the role `admin`.
pub const AGENT_ADMIN: &str = "key-agent-admin-0000";
pub const STRANGER: &str = "key-other-tenant-000";

pub struct Fixture {
    pub router: Router,
    pub service: Service,
    pub time: ManualClock,
}

pub fn fixture() -> Fixture {
    let keys = json!({
        AGENT: {"tenant": "acme", "principal": "agent", "kind": "agent"},
        ADMIN: {"tenant": "acme", "principal": "root", "roles": ["admin"]},
        ALICE: {"tenant": "acme", "principal": "alice", "roles": ["finance"]},
        BOB: {"tenant": "acme", "principal": "bob", "roles": ["finance", "cfo"]},
        CAROL: {"tenant": "acme", "principal": "carol", "roles": ["finance"]},
        HELPER_BOT: {"tenant": "acme", "principal": "helper-bot", "kind": "agent",
                     "roles": ["finance"]},
        AGENT_ADMIN: {"tenant": "acme", "principal": "ops-bot", "kind": "agent",
                      "roles": ["admin"]},
        STRANGER: {"tenant": "globex", "principal": "alice", "roles": ["admin", "finance"]},
    });
    let time = ManualClock::default();
    let (router, service) = crate::support::policy_router(&keys, time.clock());
    Fixture {
        router,
        service,
        time,
    }
}

impl Fixture {
    /// The service's time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.time.clock().now()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        send(&self.router, req).await
    }

    pub async fn put(&self, text: &str, media: &str, if_match: Option<&str>) -> Reply {
        self.put_bytes(text.as_bytes().to_vec(), media, if_match)
            .await
    }

    pub async fn put_bytes(&self, body: Vec<u8>, media: &str, if_match: Option<&str>) -> Reply {
        let mut b = Request::builder()
            .method("PUT")
            .uri("/v1/policy")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
        if !media.is_empty() {
            b = b.header(header::CONTENT_TYPE, media);
        }
        if let Some(tag) = if_match {
            b = b.header(header::IF_MATCH, tag);
        }
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// Sets `text` as the admin, which must succeed.
    pub async fn set(&self, text: &str) {
        let r = self.put(text, "application/yaml", None).await;
        assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    }

    pub async fn put_as(&self, key: &str, text: &str) -> Reply {
        let req = Request::builder()
            .method("PUT")
            .uri("/v1/policy")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(text.to_owned()))
            .unwrap();
        self.send(req).await
    }

    /// A refund the agent asks about, naming reviewers of its own.
    pub fn payment(&self) -> Value {
        json!({
            "action": "Refund order 1042",
            "agent_id": "billing-agent",
            "reviewers": ["alice", "bob"],
            "context": {"amount": 2500, "currency": "EUR"},
            "tool_call": {"name": "payments.refund", "arguments": {"order": 1042}},
            "expires_in_seconds": 900,
        })
    }
}
