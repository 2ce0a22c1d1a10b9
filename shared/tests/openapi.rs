//! `openapi.yaml` describes exactly the routes the router serves.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use http::{Method, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

use holdpoint::http::{AppState, Authenticator, Routes, app, route_list};
use holdpoint::service::Service;
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::domain::request::ExpiryBounds;
use holdpoint_core::time::Clock;

const SPEC: &str = include_str!("../../openapi.yaml");
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn spec_routes() -> BTreeSet<(String, String)> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(SPEC).expect("openapi.yaml parses");
    let paths = doc["paths"].as_mapping().expect("paths");
    let mut out = BTreeSet::new();
    for (path, ops) in paths {
        for m in METHODS {
            if ops.get(m).is_some() {
                out.insert((m.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    out
}

#[test]
fn the_spec_lists_exactly_the_routes_served() {
    let served: BTreeSet<(String, String)> = route_list(&Routes::ALL)
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    let spec = spec_routes();
    let missing: Vec<_> = served.difference(&spec).collect();
    let extra: Vec<_> = spec.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in openapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in openapi.yaml but not served: {extra:?}"
    );
}

#[tokio::test]
async fn every_listed_route_is_really_routed() {
    let dir = tempfile::tempdir().unwrap().keep();
    let state = AppState {
        service: Service::new(
            Arc::new(EmbeddedStore::open(&dir).unwrap()),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        ),
        auth: Arc::new(
            Authenticator::api_keys_from_json(
                r#"{"k-0000000000000000": {"tenant": "t", "principal": "p"}}"#,
            )
            .unwrap(),
        ),
    };
    let router = app(state, &Routes::ALL);
    for (method, path) in route_list(&Routes::ALL) {
        let uri = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let res = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("\"no_route\"") && !text.contains("\"method_not_allowed\""),
            "{method} {path} is listed but not routed: {text}"
        );
    }
    // And an unlisted method on a listed path is not.
    let res = router
        .oneshot(
            Request::builder()
                .method(Method::PUT)
                .uri("/v1/approvals")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

/// The reviewer schema states the principal-name rule the service applies: its pattern is a
/// name of the rule's characters and length, optionally after `role:`, and its maxLength fits.
#[test]
fn the_reviewer_schema_is_the_principal_name_rule() {
    use holdpoint_core::domain::identity::{NAME_CHARS, ROLE_PREFIX, check_principal_name};
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(SPEC).expect("openapi.yaml parses");
    let reviewer = &doc["components"]["schemas"]["Reviewer"];
    let pattern = reviewer["pattern"].as_str().expect("a pattern");
    let class = format!("^(?:{ROLE_PREFIX})?[");
    let body = pattern
        .strip_prefix(&class)
        .and_then(|p| p.strip_suffix(&format!("]{{1,{NAME_CHARS}}}$")))
        .unwrap_or_else(|| panic!("{pattern:?} is not ^(?:role:)?[…]{{1,{NAME_CHARS}}}$"));
    // The characters of the class (`a-z` a range, a `-` at either end itself).
    let chars: Vec<char> = body.chars().collect();
    let mut allowed = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            allowed.extend(chars[i]..=chars[i + 2]);
            i += 3;
        } else {
            allowed.push(chars[i]);
            i += 1;
        }
    }
    for c in (0u8..=255).map(char::from) {
        assert_eq!(
            check_principal_name("n", &c.to_string()).is_ok(),
            allowed.contains(&c),
            "{c:?}"
        );
    }
    assert!(check_principal_name("n", &"a".repeat(NAME_CHARS)).is_ok());
    assert!(check_principal_name("n", &"a".repeat(NAME_CHARS + 1)).is_err());
    assert_eq!(
        reviewer["maxLength"].as_u64(),
        Some((ROLE_PREFIX.len() + NAME_CHARS) as u64)
    );
}
