//! The review routes through the one router: links, the page's headers and escaping, deciding
//! from the form, and every way a link is refused.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use chrono::TimeDelta;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use holdpoint::conformance::{ManualClock, test_keys};
use holdpoint::directory::{Directory, Entry, StaticDirectory};
use holdpoint::http::{AppState, Authenticator, Routes, app};
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};

struct Fixture {
    router: Router,
    service: Service,
    store: Arc<dyn Store>,
    time: ManualClock,
}

fn fixture() -> Fixture {
    fixture_with(None)
}

/// With `directory`, links go to the members of reviewer roles too.
fn fixture_with(directory: Option<Arc<dyn Directory>>) -> Fixture {
    let dir = tempfile::tempdir().unwrap().keep();
    let time = ManualClock::default();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    let mut service = Service::new(
        store.clone(),
        test_keys(),
        time.clock(),
        ExpiryBounds::default(),
    );
    if let Some(directory) = directory {
        service = service.with_directory(directory);
    }
    let keys = json!({"agent-key-0000000000": {"tenant": "acme", "principal": "agent"}});
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(Authenticator::api_keys_from_json(&keys.to_string()).unwrap()),
    };
    Fixture {
        router: app(state, &Routes::ALL),
        service,
        store,
        time,
    }
}

async fn create(f: &Fixture, body: serde_json::Value) -> Approval {
    let agent = Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: CreateRequest = serde_json::from_value(body).unwrap();
    f.service.create(&agent, request, None).await.unwrap().0
}

fn standard() -> serde_json::Value {
    json!({
        "action": "Drop table <b>orders</b> & \"archive\"",
        "agent_id": "db-agent",
        "reviewers": ["alice", "bob"],
        "context": {"table": "orders", "rows": 1200},
        "tool_call": {"name": "sql.execute", "arguments": {"sql": "DROP TABLE orders"}},
        "reason": "Cleanup",
        "risk_score": 90,
        "expires_in_seconds": 600,
    })
}

async fn link(f: &Fixture, a: &Approval, reviewer: &str) -> String {
    let links = f
        .service
        .review_links(a, "http://holdpoint.test")
        .await
        .unwrap();
    let url = &links.iter().find(|(r, _)| r == reviewer).unwrap().1;
    url.strip_prefix("http://holdpoint.test")
        .unwrap()
        .to_owned()
}

fn token_of(path: &str) -> String {
    path.split("token=").nth(1).unwrap().to_owned()
}

struct Page {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

async fn send(f: &Fixture, req: Request<Body>) -> Page {
    let res = f.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(f: &Fixture, path: &str) -> Page {
    send(f, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post_form(f: &Fixture, id: uuid::Uuid, fields: &[(&str, &str)]) -> Page {
    let body = serde_urlencoded::to_string(fields).unwrap();
    let req = Request::post(format!("/review/{id}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(f, req).await
}

async fn stored(f: &Fixture, a: &Approval) -> Approval {
    f.store.get("acme", a.id).await.unwrap().unwrap()
}

#[tokio::test]
async fn the_page_shows_everything_escaped_with_strict_headers_and_changes_nothing() {
    let f = fixture();
    let a = create(&f, standard()).await;
    let path = link(&f, &a, "alice").await;
    let page = get(&f, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let h = &page.headers;
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("form-action 'self'")
    );
    assert!(!csp.contains("script-src") && !csp.contains("unsafe"));
    assert!(
        page.text
            .contains("Drop table &lt;b&gt;orders&lt;/b&gt; &amp; &quot;archive&quot;")
    );
    assert!(!page.text.contains("<b>orders</b>"));
    assert!(page.text.contains("sql.execute") && page.text.contains("DROP TABLE orders"));
    assert!(!page.text.contains("<script"), "no script at all");
    // Looking (twice, as a mail scanner would) changes nothing.
    get(&f, &path).await;
    assert_eq!(stored(&f, &a).await.version, 1);
}

#[tokio::test]
async fn approve_from_the_form_then_a_second_post_says_who_decided() {
    let f = fixture();
    let a = create(&f, standard()).await;
    let token = token_of(&link(&f, &a, "alice").await);
    let done = post_form(
        &f,
        a.id,
        &[("token", &token), ("decision", "approved"), ("comment", "")],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("now approved"));
    let now = stored(&f, &a).await;
    assert_eq!(
        (now.status, now.decision.as_ref().unwrap().by.as_str()),
        (Status::Approved, "alice")
    );

    let bob = token_of(&link(&f, &a, "bob").await);
    let again = post_form(
        &f,
        a.id,
        &[("token", &bob), ("decision", "rejected"), ("comment", "no")],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        again.text.contains("Already decided: approved by alice at"),
        "{}",
        again.text
    );
    let page = get(&f, &format!("/review/{}?token={token}", a.id)).await;
    assert_eq!(
        page.status,
        StatusCode::CONFLICT,
        "a decided approval's link shows the outcome"
    );
}

#[tokio::test]
async fn reject_needs_a_comment_and_edits_must_be_json() {
    let f = fixture();
    let a = create(&f, standard()).await;
    let token = token_of(&link(&f, &a, "alice").await);
    let bare = post_form(
        &f,
        a.id,
        &[
            ("token", &token),
            ("decision", "rejected"),
            ("comment", " "),
        ],
    )
    .await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = post_form(
        &f,
        a.id,
        &[
            ("token", &token),
            ("decision", "modified"),
            ("modified_output", "{not json"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        stored(&f, &a).await.status,
        Status::Pending,
        "nothing decided"
    );
    let edits = post_form(
        &f,
        a.id,
        &[
            ("token", &token),
            ("decision", "modified"),
            (
                "modified_output",
                r#"{"sql": "DELETE FROM orders WHERE id < 10"}"#,
            ),
        ],
    )
    .await;
    assert_eq!(edits.status, StatusCode::OK, "{}", edits.text);
    let now = stored(&f, &a).await;
    assert_eq!(now.status, Status::Modified);
    assert_eq!(
        now.decision.unwrap().modified_output,
        Some(json!({"sql": "DELETE FROM orders WHERE id < 10"}).into())
    );
}

#[tokio::test]
async fn bad_expired_and_reassigned_links_are_refused() {
    let f = fixture();
    let mut body = standard();
    body["escalation"] = json!([{"after_seconds": 60, "reviewers": ["carol"]}]);
    let a = create(&f, body).await;
    let path = link(&f, &a, "alice").await;
    let token = token_of(&path);

    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        format!("/review/{}?token={forged}", a.id),
        format!("/review/{}", a.id),
        format!("/review/{}?token={token}", uuid::Uuid::new_v4()),
        format!("/review/not-an-id?token={token}"),
    ] {
        let page = get(&f, &bad).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{bad}");
        assert!(
            !page.text.contains("orders"),
            "a refused link reveals nothing"
        );
    }
    let post = post_form(&f, a.id, &[("token", &forged), ("decision", "approved")]).await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);

    // Escalated away from alice: her link is dead, carol's works.
    f.time.advance(TimeDelta::seconds(61));
    f.service.sweep().await.unwrap();
    assert_eq!(get(&f, &path).await.status, StatusCode::GONE);
    let escalated = stored(&f, &a).await;
    let carol = link(&f, &escalated, "carol").await;
    assert_eq!(get(&f, &carol).await.status, StatusCode::OK);

    // Past the deadline the link itself has expired.
    f.time.advance(TimeDelta::seconds(600));
    let page = get(&f, &carol).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text.contains("expired"));
    let post = post_form(
        &f,
        a.id,
        &[("token", &token_of(&carol)), ("decision", "approved")],
    )
    .await;
    assert_eq!(post.status, StatusCode::GONE);
}

/// Opening and deciding follow one rule: a link reached through a role dies once the role is
/// no longer among the reviewers, even when its principal is named there now (that name has a
/// link of its own).
#[tokio::test]
async fn a_link_through_a_role_escalated_away_neither_opens_nor_decides() {
    let member = |name: &str| Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: vec!["sre".into()],
        ..Default::default()
    };
    let f = fixture_with(Some(Arc::new(StaticDirectory::new(vec![member("carol")]))));
    let mut body = standard();
    body["reviewers"] = json!(["role:sre"]);
    body["escalation"] = json!([{"after_seconds": 60, "reviewers": ["carol"]}]);
    let a = create(&f, body).await;
    let through_role = link(&f, &a, "carol").await;
    assert_eq!(get(&f, &through_role).await.status, StatusCode::OK);

    f.time.advance(TimeDelta::seconds(61));
    f.service.sweep().await.unwrap();
    assert_eq!(get(&f, &through_role).await.status, StatusCode::GONE);
    let fields = [
        ("token", token_of(&through_role)),
        ("decision", "approved".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let post = post_form(&f, a.id, &fields).await;
    assert_eq!(post.status, StatusCode::GONE, "{}", post.text);
    assert_eq!(
        stored(&f, &a).await.status,
        Status::Pending,
        "it decided nothing"
    );

    let named = link(&f, &stored(&f, &a).await, "carol").await;
    let fields = [("token", token_of(&named)), ("decision", "approved".into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post_form(&f, a.id, &fields).await.status, StatusCode::OK);
    assert_eq!(stored(&f, &a).await.status, Status::Approved);
}

#[tokio::test]
async fn the_form_takes_only_form_posts() {
    let f = fixture();
    let a = create(&f, standard()).await;
    let req = Request::post(format!("/review/{}", a.id))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        send(&f, req).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let garbage = post_form(&f, a.id, &[("decision", "maybe")]).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_links_reviewer_extends_the_deadline_from_the_page() {
    let f = fixture();
    let a = create(&f, standard()).await;
    let path = link(&f, &a, "alice").await;
    let page = get(&f, &path).await;
    assert!(
        page.text.contains("name=\"extend_seconds\" value=\"3600\"")
            && page.text.contains("id=\"extend\""),
        "{}",
        page.text
    );
    let token = token_of(&path);
    // The form's token is its proof, as for deciding: a forged one changes nothing.
    let forged = post_form(&f, a.id, &[("token", "forged"), ("extend_seconds", "3600")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // A decision and an extension at once is not a form of the page.
    let both = [
        ("token", token.as_str()),
        ("decision", "approved"),
        ("extend_seconds", "60"),
    ];
    assert_eq!(
        post_form(&f, a.id, &both).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(stored(&f, &a).await.version, 1, "nothing written");

    let fields = [
        ("token", token.as_str()),
        ("extend_seconds", "3600"),
        ("reason", "on call"),
    ];
    let done = post_form(&f, a.id, &fields).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Deadline extended"), "{}", done.text);
    let now = stored(&f, &a).await;
    assert_eq!(
        (now.status, now.expires_at),
        (Status::Pending, a.expires_at + TimeDelta::hours(1))
    );
    let records = f.store.audit("acme", a.id).await.unwrap();
    let last = records.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str()),
        ("extended", "alice")
    );

    // Past the old deadline it still waits, and a link minted now decides it.
    f.time.advance(TimeDelta::seconds(601));
    let fresh = token_of(&link(&f, &now, "bob").await);
    let approve = [("token", fresh.as_str()), ("decision", "approved")];
    assert_eq!(post_form(&f, a.id, &approve).await.status, StatusCode::OK);
}

#[tokio::test]
async fn no_extension_past_the_latest_expiry() {
    let f = fixture();
    let mut body = standard();
    body["expires_in_seconds"] = json!(2_592_000);
    let a = create(&f, body).await;
    let path = link(&f, &a, "alice").await;
    // No button that could only be refused; the form is refused all the same.
    assert!(!get(&f, &path).await.text.contains("extend_seconds"));
    let token = token_of(&path);
    let refused = post_form(&f, a.id, &[("token", &token), ("extend_seconds", "60")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text.contains("cannot move past"),
        "{}",
        refused.text
    );
    assert_eq!(stored(&f, &a).await.version, 1);
}
