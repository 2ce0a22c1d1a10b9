//! A decide router with Slack on: the embedded stores, one tenant's app (`acme`, team
//! `T0TEAM`) whose Web API is the stand-in, and reviewers' messages posted to it as the
//! notifier posts them, so clicks are made on messages Slack really holds.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::sessions::embedded::EmbeddedSessions;
use holdpoint::slack::Slack;
use holdpoint::slack::api::SlackApi;
use holdpoint::slack::blocks::{self, Asked, Buttons};
use holdpoint::slack::button::{Choice, mint};
use holdpoint::slack::connection::{BotToken, SlackConnection, StaticSlack};
use holdpoint::slack::signature::SigningSecret;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::{Principal, PrincipalKind};
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use holdpoint_tests::slack::{Posted, StandIn, TEAM_ID};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const TOKEN: &str = "xoxb-acme-0001";
pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const ERIN: &str = "U0ERIN";
/// An agent principal of acme with a Slack id.
pub const ROBOT: &str = "U0ROBOT";
/// A principal of globex, not of acme.
pub const DAVE: &str = "U0DAVE";

pub struct World {
    pub router: Router,
    pub service: Service,
    pub directory: Arc<dyn Directory>,
    pub slack: StandIn,
    api: SlackApi,
}

pub fn entry(tenant: &str, name: &str, slack: &str, roles: &[&str]) -> Entry {
    Entry {
        tenant: tenant.into(),
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        kind: PrincipalKind::Human,
        email: None,
        webhook: None,
        iam_arns: Vec::new(),
        key_hash: None,
        slack: Some(slack.into()),
        webhook_secret: None,
        instance: None,
    }
}

/// acme: alice, bob, erin (role sre), robot (an agent); globex: dave. Slack at `api_url`, or
/// the stand-in's.
pub async fn world_at(api_url: Option<&str>) -> World {
    let dir = tempfile::tempdir().unwrap().keep();
    let directory: Arc<dyn Directory> = Arc::new(EmbeddedDirectory::open(&dir).unwrap());
    let robot = Entry {
        kind: PrincipalKind::Agent,
        ..entry("acme", "robot", ROBOT, &["sre"])
    };
    for e in [
        entry("acme", "alice", ALICE, &[]),
        entry("acme", "bob", BOB, &[]),
        entry("acme", "erin", ERIN, &["sre"]),
        robot,
        entry("globex", "dave", DAVE, &["sre"]),
    ] {
        directory.put(&e, true).await.unwrap();
    }
    let stand_in = StandIn::start().await;
    let url = api_url.map_or_else(|| stand_in.url(), str::to_owned);
    let connection = SlackConnection {
        tenant: "acme".into(),
        team_id: Some(TEAM_ID.into()),
        bot_token: BotToken::new(TOKEN).unwrap(),
        signing_secret: SigningSecret::new(SECRET).unwrap(),
    };
    let slack = Slack {
        connections: Arc::new(StaticSlack(vec![connection])),
        api: SlackApi::new(&url).unwrap(),
    };
    let service = Service::new(
        Arc::new(EmbeddedStore::open(&dir).unwrap()),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(directory.clone())
    .with_sessions(Arc::new(EmbeddedSessions::open(&dir).unwrap()), 12)
    .with_slack(Arc::new(slack));
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(
            Authenticator::api_keys_from_json(
                r#"{"unused-key-0000000000": {"tenant": "acme", "principal": "agent"}}"#,
            )
            .unwrap(),
        ),
    };
    World {
        router: app(state, &[Routes::Decide]),
        service,
        directory,
        api: SlackApi::new(&stand_in.url()).unwrap(),
        slack: stand_in,
    }
}

pub async fn world() -> World {
    world_at(None).await
}

pub fn agent() -> Principal {
    serde_json::from_value(json!({"tenant": "acme", "principal": "agent", "kind": "agent"}))
        .unwrap()
}

impl World {
    /// A request to alice, bob and the role sre, decided by `quorum` approvals.
    pub async fn request(&self, quorum: u32) -> Approval {
        let request = serde_json::from_value(json!({
            "action": "Pay invoice 120", "agent_id": "ap",
            "reviewers": ["alice", "bob", "role:sre"], "quorum": quorum,
        }))
        .unwrap();
        self.service
            .create(&agent(), request, None)
            .await
            .unwrap()
            .0
    }

    /// The message asking `name` (Slack user `user`) about `a`, posted as the notifier does.
    pub async fn post(&self, a: &Approval, name: &str, user: &str) -> Posted {
        let key = holdpoint::conformance::test_key();
        let stored = self.directory.get(&a.tenant, name).await.unwrap();
        let instance = stored.and_then(|e| e.instance);
        let value = |c| mint(&key, &a.tenant, a.id, name, instance, c, a.expires_at);
        let (approve, reject) = (value(Choice::Approve), value(Choice::Reject));
        let buttons = Buttons {
            approve: &approve,
            reject: &reject,
            review_url: "https://holdpoint.example/review/x",
        };
        let message = blocks::request(a, Asked::Requested, buttons).unwrap();
        let token = BotToken::new(TOKEN).unwrap();
        self.api.post_message(&token, user, &message).await.unwrap();
        self.slack.posts_to(user).pop().expect("posted")
    }

    pub async fn approval(&self, id: Uuid) -> Approval {
        self.service.get(&agent(), id).await.unwrap()
    }

    /// The texts of every `chat.update` of `posted` so far, joined.
    pub fn told(&self, posted: &Posted) -> String {
        self.slack
            .updates_of(posted)
            .iter()
            .map(|c| c.body.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Posts `body` to the route for `tenant`, with `headers`; status and JSON answer.
    pub async fn send(
        &self,
        tenant: &str,
        body: &str,
        headers: &[(String, String)],
    ) -> (StatusCode, Value) {
        send(self.router.clone(), tenant, body, headers).await
    }

    /// `payload` sent to acme's route, signed now with acme's secret.
    pub async fn click(&self, payload: &Value) -> (StatusCode, Value) {
        let body = holdpoint_tests::slack::clicks::form(payload);
        self.send("acme", &body, &signed(&body, 0)).await
    }
}

/// Slack's signature headers for `body`, signed `age_secs` ago with acme's secret.
pub fn signed(body: &str, age_secs: i64) -> Vec<(String, String)> {
    signed_with(SECRET, body, age_secs)
}

pub fn signed_with(secret: &str, body: &str, age_secs: i64) -> Vec<(String, String)> {
    let at = chrono::Utc::now().timestamp() - age_secs;
    let sig = SigningSecret::new(secret)
        .unwrap()
        .sign(at, body.as_bytes());
    vec![
        ("x-slack-request-timestamp".into(), at.to_string()),
        ("x-slack-signature".into(), sig),
    ]
}

/// [`World::send`], to `router`: for requests sent at once.
pub async fn send(
    router: Router,
    tenant: &str,
    body: &str,
    headers: &[(String, String)],
) -> (StatusCode, Value) {
    let mut req = Request::post(format!("/slack/interactions?tenant={tenant}"))
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = router
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
