//! Agents ask, humans decide: an agent principal is refused on the API's decision route and by
//! a review link, whether named or reached through a role, and the refusal writes nothing.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Entry};
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::Status;
use holdpoint_core::domain::identity::PrincipalKind;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;
use support::{call, problem, send};

const REQUESTER: &str = "key-requester-000000";
const BOT: &str = "key-sre-bot-00000000";
const NAMED_BOT: &str = "key-named-bot-000000";
const BOB: &str = "key-bob-000000000000";

fn keys() -> Value {
    json!({
        REQUESTER: {"tenant": "acme", "principal": "agent", "kind": "agent"},
        BOT: {"tenant": "acme", "principal": "sre-bot", "roles": ["sre"], "kind": "agent"},
        NAMED_BOT: {"tenant": "acme", "principal": "named-bot", "kind": "agent"},
        BOB: {"tenant": "acme", "principal": "bob", "roles": ["sre"]},
    })
}

struct Fixture {
    router: Router,
    service: Service,
    store: Arc<dyn Store>,
}

fn fixture(directory: Option<Arc<dyn Directory>>) -> Fixture {
    let dir = tempfile::tempdir().unwrap().keep();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let mut service = Service::new(
        store.clone(),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    );
    if let Some(d) = directory {
        service = service.with_directory(d);
    }
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys().to_string()).unwrap()),
    };
    Fixture {
        router: app(state, &Routes::ALL),
        service,
        store,
    }
}

async fn create(f: &Fixture, reviewers: Value) -> Value {
    let body = json!({
        "action": "Scale the cluster to zero",
        "agent_id": "ops-agent",
        "reviewers": reviewers,
        "context": {"cluster": "prod"},
        "expires_in_seconds": 600,
    });
    let r = send(
        &f.router,
        call("POST", "/v1/approvals", Some(REQUESTER), Some(body)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn audit_records(f: &Fixture, id: &str) -> usize {
    let uri = format!("/v1/approvals/{id}/audit");
    let r = send(&f.router, call("GET", &uri, Some(BOB), None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["records"].as_array().unwrap().len()
}

fn decisions() -> [Value; 3] {
    [
        json!({"decision": "approved"}),
        json!({"decision": "rejected", "comment": "no"}),
        json!({"decision": "modified", "modified_output": {"replicas": 1}}),
    ]
}

#[tokio::test]
async fn an_agent_holding_a_reviewer_role_is_refused_on_the_api_and_nothing_is_written() {
    let f = fixture(None);
    let me = send(&f.router, call("GET", "/v1/me", Some(BOT), None)).await;
    assert_eq!(me.body["kind"], "agent", "{}", me.body);
    let a = create(&f, json!(["role:sre"])).await;
    let id = a["id"].as_str().unwrap();
    let uri = format!("/v1/approvals/{id}/decision");
    for d in decisions() {
        let r = send(&f.router, call("POST", &uri, Some(BOT), Some(d))).await;
        problem(&r, StatusCode::FORBIDDEN, "agents_cannot_decide");
        assert!(
            r.body["type"]
                .as_str()
                .unwrap()
                .ends_with("/agents_cannot_decide")
        );
    }
    assert_eq!(audit_records(&f, id).await, 1, "only the created record");
    let got = send(
        &f.router,
        call("GET", &format!("/v1/approvals/{id}"), Some(BOB), None),
    )
    .await;
    assert_eq!(got.body["status"], "pending");
    assert_eq!(got.body["version"], a["version"]);

    // The requester, an agent, is refused as an agent before anything else.
    let r = send(
        &f.router,
        call("POST", &uri, Some(REQUESTER), Some(decisions()[0].clone())),
    )
    .await;
    problem(&r, StatusCode::FORBIDDEN, "agents_cannot_decide");
    // A human holding the same role still decides.
    let r = send(
        &f.router,
        call("POST", &uri, Some(BOB), Some(decisions()[0].clone())),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "approved");
}

#[tokio::test]
async fn an_agent_named_a_reviewer_never_decides_on_the_api() {
    let f = fixture(None);
    let r = send(
        &f.router,
        call(
            "POST",
            "/v1/approvals",
            Some(REQUESTER),
            Some(json!({
                "action": "Drop table orders",
                "agent_id": "db-agent",
                "reviewers": ["named-bot", "bob"],
                "expires_in_seconds": 600,
            })),
        ),
    )
    .await;
    if r.status != StatusCode::CREATED {
        // Refused at create (the service knows the directory): nothing to decide.
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        return;
    }
    let id = r.body["id"].as_str().unwrap();
    let uri = format!("/v1/approvals/{id}/decision");
    for d in decisions() {
        let r = send(&f.router, call("POST", &uri, Some(NAMED_BOT), Some(d))).await;
        problem(&r, StatusCode::FORBIDDEN, "agents_cannot_decide");
    }
    assert_eq!(audit_records(&f, id).await, 1, "only the created record");
}

fn entry(name: &str, roles: &[&str], kind: PrincipalKind) -> Entry {
    Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        kind,
        email: None,
        webhook: None,
        iam_arns: vec![],
        key_hash: None,
        slack: None,
        webhook_secret: None,
        instance: None,
    }
}

async fn review(f: &Fixture, method: &str, path_and_token: &str, form: Option<&str>) -> StatusCode {
    let (path, token) = path_and_token.split_once("?token=").unwrap();
    let req = match form {
        None => Request::get(path_and_token).body(Body::empty()).unwrap(),
        Some(fields) => Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}&{fields}")))
            .unwrap(),
    };
    send(&f.router, req).await.status
}

/// No link is minted for an agent; a link minted before its principal became an agent neither
/// opens nor decides, named or through a role; made human again, it decides.
#[tokio::test]
async fn a_review_link_of_an_agent_principal_cannot_decide() {
    let data = tempfile::tempdir().unwrap().keep();
    let directory = Arc::new(EmbeddedDirectory::open(&data).unwrap());
    for e in [
        entry("alice", &[], PrincipalKind::Human),
        entry("carol", &["sre"], PrincipalKind::Human),
        entry("sre-bot", &["sre"], PrincipalKind::Agent),
    ] {
        directory.put(&e, true).await.unwrap();
    }
    let f = fixture(Some(directory.clone()));
    let a = create(&f, json!(["alice", "role:sre"])).await;
    let id: uuid::Uuid = a["id"].as_str().unwrap().parse().unwrap();
    let approval = f.store.get("acme", id).await.unwrap().unwrap();
    let links = f.service.review_links(&approval, "").await.unwrap();
    let mut to: Vec<&str> = links.iter().map(|(r, _)| r.as_str()).collect();
    to.sort();
    assert_eq!(to, ["alice", "carol"], "sre-bot, an agent, gets no link");
    let link_of = |who: &str| links.iter().find(|(r, _)| r == who).unwrap().1.clone();

    for who in ["alice", "carol"] {
        let mut e = directory.get("acme", who).await.unwrap().unwrap();
        e.kind = PrincipalKind::Agent;
        directory.put(&e, false).await.unwrap();
        let link = link_of(who);
        assert_eq!(review(&f, "GET", &link, None).await, StatusCode::FORBIDDEN);
        for form in [
            "decision=approved",
            "decision=rejected&comment=no",
            "decision=modified&modified_output=%7B%7D",
        ] {
            let status = review(&f, "POST", &link, Some(form)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {form}");
        }
        let stored = f.store.get("acme", id).await.unwrap().unwrap();
        assert_eq!(
            stored.status,
            Status::Pending,
            "{who}'s link decided nothing"
        );
        assert_eq!(stored.version, approval.version, "nothing was written");
        let decided = f
            .service
            .decide_by_link(
                id,
                link.split("token=").nth(1).unwrap(),
                holdpoint_core::domain::approval::Verdict::Approved,
                None,
                None,
            )
            .await;
        assert!(
            matches!(
                decided,
                Err(holdpoint::service::ServiceError::Refused(
                    holdpoint_core::domain::lifecycle::Refusal::AgentCannotDecide
                ))
            ),
            "{decided:?}"
        );
    }

    let mut alice = directory.get("acme", "alice").await.unwrap().unwrap();
    alice.kind = PrincipalKind::Human;
    directory.put(&alice, false).await.unwrap();
    let status = review(&f, "POST", &link_of("alice"), Some("decision=approved")).await;
    assert_eq!(status, StatusCode::OK);
    let stored = f.store.get("acme", id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Approved);
}
