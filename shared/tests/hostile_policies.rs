//! Hostile tries at the policy surfaces over HTTP on the embedded store: documents built to hurt
//! the reader, predicates built to hurt the evaluator, agents trying to weaken the gate or decide,
//! and deadlines pushed at their edges. Each try is bounded in time; none may answer 500.

#[path = "hostile_policies/deadlines.rs"]
mod deadlines;
#[path = "hostile_policies/fixture.rs"]
mod fixture;
mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use fixture::{ADMIN, AGENT, AGENT_ADMIN, ALICE, BOB, HELPER_BOT, fixture};
use support::{call, problem};

/// A policy with an ask the agent might try to weaken.
const GATED: &str = r#"rules:
  - id: payments
    match: {tool: "payments.*"}
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
    max_expires_in_seconds: 3600
    execute_within_seconds: 600
    escalation:
      - after_seconds: 1800
        reviewers: ["bob", "carol"]
    agents_may_add_reviewers: false
"#;

/// Every hostile document is refused with a 4xx problem within seconds, and the version in force
/// stays what it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_and_the_policy_in_force_stays() {
    let f = fixture();
    f.set(GATED).await;
    let laughs = {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            s += &format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            );
        }
        s + "rules: *a9\n"
    };
    let rules_alias = "x: &r\n  - id: a\n    outcome: allow\nrules: *r\n".to_owned();
    let block_deep = format!(
        "rules:\n  - id: a\n    outcome: allow\n    match:\n      when: {}x\n",
        "- ".repeat(20_000)
    );
    let map_deep = {
        let mut s = String::from("rules:\n  - id: a\n    outcome: allow\n    match:\n");
        for i in 0..2_000 {
            s += &format!("{}k:\n", "  ".repeat(3 + i));
        }
        s
    };
    let cases: Vec<(&str, String)> = vec![
        ("billion laughs", laughs),
        ("rules through an alias", rules_alias),
        ("block sequences nested deep", block_deep),
        ("mappings nested deep", map_deep),
        ("huge quorum", GATED.replace("quorum: 2", "quorum: 99999999999999999999999")),
        ("negative quorum", GATED.replace("quorum: 2", "quorum: -1")),
        ("float quorum", GATED.replace("quorum: 2", "quorum: 1e400")),
        ("quorum over the limit", GATED.replace("quorum: 2", "quorum: 4294967295")),
        ("window huge", GATED.replace("600", "4294967296")),
        ("risk past 100", "rules:\n  - id: r\n    match: {risk: {min: 0, max: 4294967296}}\n    outcome: allow\n".into()),
        ("risk inverted", "rules:\n  - id: r\n    match: {risk: {min: 90, max: 10}}\n    outcome: deny\n".into()),
        ("duplicate top-level rules", format!("{GATED}rules: []\n")),
        ("duplicate rule key", "rules:\n  - id: a\n    outcome: deny\n    outcome: allow\n".into()),
        ("duplicate default", "default: deny\ndefault: ask\n".into()),
        ("json duplicate key", r#"{"default": "deny", "default": "ask"}"#.into()),
        ("NUL byte", "rules:\n  - id: a\u{0}\n    outcome: allow\n".into()),
        ("tab indentation", "rules:\n\t- id: a\n\t  outcome: allow\n".into()),
        ("rule id with spaces", "rules:\n  - id: 'a b'\n    outcome: allow\n".into()),
        ("rule id default", "rules:\n  - id: default\n    outcome: allow\n".into()),
        ("reviewer with whitespace", GATED.replace("\"bob\"", "\" bob\"")),
        ("reviewer role empty", GATED.replace("\"bob\"", "\"role:\"")),
        ("unknown role case", GATED.replace("role:finance", "role:FINANCE")),
        ("quorum above reviewers", GATED.replace("[\"role:finance\"]", "[\"alice\"]")),
        ("ask naming an agent", GATED.replace("\"bob\"", "\"helper-bot\"")),
        ("unknown variable", "rules:\n  - id: a\n    match: {when: 'request.x == 1'}\n    outcome: deny\n".into()),
        ("three macros deep", "rules:\n  - id: a\n    match: {when: '[1].all(x, [1].all(y, [1].all(z, true)))'}\n    outcome: deny\n".into()),
        ("brackets deep", format!("rules:\n  - id: a\n    match: {{when: '{}true{}'}}\n    outcome: deny\n", "(".repeat(40), ")".repeat(40))),
        ("expression deep", format!("rules:\n  - id: a\n    match: {{when: '{}'}}\n    outcome: deny\n", vec!["-1"; 1].into_iter().chain(std::iter::repeat_n("- -1", 60)).collect::<String>().replace("- -", "--"))),
        ("regex", "rules:\n  - id: a\n    match: {when: 'action.matches(\"(a+)+$\")'}\n    outcome: deny\n".into()),
        ("glob unclosed", "rules:\n  - id: a\n    match: {tool: '[a-'}\n    outcome: deny\n".into()),
        ("not a mapping", "- 1\n- 2\n".into()),
        ("a scalar", "42".into()),
        ("empty rule", "rules:\n  - {}\n".into()),
        ("too many rules", format!("rules:\n{}", (0..201).map(|i| format!("  - {{id: r{i}, outcome: allow}}\n")).collect::<String>())),
        ("too big", format!("# {}\nrules: []\n", "x".repeat(70_000))),
    ];
    let mut failures = Vec::new();
    for (name, text) in &cases {
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            f.put(text, "application/yaml", None),
        )
        .await
        .unwrap_or_else(|_| panic!("{name}: no answer within 20 s"));
        if !r.status.is_client_error() || r.content_type != "application/problem+json" {
            failures.push(format!("{name}: {} {}", r.status, r.body));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let now = f.send(call("GET", "/v1/policy", Some(ADMIN), None)).await;
    assert_eq!(now.body["version"], 1, "{}", now.body);
    assert_eq!(now.body["text"], GATED);
}

/// Bytes that are not UTF-8, wrong media types and spoofed `If-Match` headers are refused; nothing
/// is written by any of them.
#[tokio::test]
async fn bytes_media_types_and_if_match_are_checked() {
    let f = fixture();
    f.set(GATED).await;
    let r = f
        .put_bytes(b"rules: [\xff\xfe]".to_vec(), "application/yaml", None)
        .await;
    problem(&r, StatusCode::BAD_REQUEST, "invalid_body");
    for media in [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "",
        "yaml",
        "text/html",
    ] {
        let r = f.put("rules: []\n", media, None).await;
        problem(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    for tag in [
        "W/\"1\"",
        "\"1\", \"2\"",
        "-1",
        "\"1",
        "1\"",
        "\" 1\"",
        "\"99999999999999999999999\"",
        "\"0x1\"",
        "\"+1\"",
    ] {
        let r = f.put("rules: []\n", "application/yaml", Some(tag)).await;
        assert!(r.status.is_client_error(), "{tag}: {} {}", r.status, r.body);
    }
    // A version that never was, or one behind, is refused as stale.
    for tag in ["\"0\"", "\"2\"", "\"18446744073709551615\""] {
        let r = f.put("rules: []\n", "application/yaml", Some(tag)).await;
        assert_eq!(
            r.status,
            StatusCode::PRECONDITION_FAILED,
            "{tag}: {}",
            r.body
        );
    }
    let now = f
        .send(call("GET", "/v1/policy/history", Some(ADMIN), None))
        .await;
    assert_eq!(
        now.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        now.body
    );
}

/// A predicate built to cost: two macros over lists the agent sends (12,000 items each held a
/// worker for minutes before it was bounded), and a literal list multiplied by itself twice. Past
/// its budget a predicate is not run and fails closed (a deny matches, an allow does not); a
/// request of ordinary size is ruled as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicates_cannot_make_a_create_hang() {
    let f = fixture();
    let policy = r#"rules:
  - id: blocked-recipient
    match: {when: '!has(context.to) || context.to.exists(r, context.blocked.exists(b, r == b))'}
    outcome: deny
  - id: cheap-if-few
    match: {when: 'has(context.to) && context.to.all(r, context.to.all(s, r == s))'}
    outcome: allow
"#;
    f.set(policy).await;
    let timed = |body: Value| {
        let req = call("POST", "/v1/approvals", Some(AGENT), Some(body));
        let started = std::time::Instant::now();
        let router = f.router.clone();
        async move {
            // On a worker of its own: an evaluation that never yields cannot starve the timer.
            let task = tokio::spawn(async move { support::send(&router, req).await });
            let r = tokio::time::timeout(Duration::from_secs(20), task).await;
            let r = r.expect("a create answers within 20 s").unwrap();
            (r, started.elapsed())
        }
    };
    let mut body = f.payment();
    body["context"] = json!({"to": vec![0u8; 12_000], "blocked": vec![1u8; 12_000]});
    let (r, took) = timed(body).await;
    problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
    assert_eq!(r.body["rule"], "blocked-recipient");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Few items: both rules run; none blocked, all alike, so the allow rules alone.
    let mut body = f.payment();
    body["context"] = json!({"to": vec![0u8; 50], "blocked": vec![1u8; 50]});
    let (r, _) = timed(body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "approved", "{}", r.body);
    // Many alike: the allow is past its budget and does not match; the deny does.
    let mut body = f.payment();
    body["context"] = json!({"to": vec![0u8; 2_000], "blocked": []});
    let (r, took) = timed(body).await;
    problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // An admin's own literal, cubed: set, it never runs long.
    let list = format!("[{}]", vec!["0"; 600].join(","));
    let cubed = format!(
        "rules:\n  - id: cubed\n    match: {{when: '{list}.map(x, {list}.map(y, {list})).size() > 0'}}\n    outcome: deny\n"
    );
    let set = f.put(&cubed, "application/yaml", None).await;
    if set.status == StatusCode::OK {
        let (r, took) = timed(f.payment()).await;
        problem(&r, StatusCode::FORBIDDEN, "denied_by_policy");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    } else {
        assert!(set.status.is_client_error(), "{}", set.body);
    }
}

/// The agent names fewer reviewers, a lower quorum, a longer lifetime and window, its own chain
/// of itself, case and whitespace variants of the rule's reviewers, and duplicates: the rule's
/// gate stands.
#[tokio::test]
async fn an_agent_cannot_weaken_the_rule_it_is_asked_under() {
    let f = fixture();
    f.set(GATED).await;
    let mut body = f.payment();
    body["reviewers"] = json!(["alice"]);
    body["quorum"] = json!(1);
    body["expires_in_seconds"] = json!(2_592_000);
    body["execute_within_seconds"] = json!(2_592_000);
    body["escalation"] = json!([{"after_seconds": 60, "reviewers": ["alice"]}]);
    let r = f
        .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = &r.body;
    assert_eq!(a["quorum"], 2, "{a}");
    assert_eq!(a["reviewers"], json!(["role:finance"]), "{a}");
    assert!(a["execute_within_seconds"].as_u64().unwrap() <= 600, "{a}");
    assert_eq!(
        a["escalation"][0]["reviewers"],
        json!(["bob", "carol"]),
        "{a}"
    );
    let created = chrono::DateTime::parse_from_rfc3339(a["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(a["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires - created).num_seconds() <= 3600, "{a}");

    // Variants of names that are not the rule's reviewers, and reviewers that are agents.
    for reviewers in [
        json!(["ALICE"]),
        json!([" alice"]),
        json!(["alice\u{0}"]),
        json!(["role:Finance"]),
        json!(["Role:finance"]),
        json!(["helper-bot"]),
        json!(["alice", "alice", "alice"]),
        json!(["role:finance", "role:finance"]),
    ] {
        let mut body = f.payment();
        body["reviewers"] = reviewers.clone();
        let r = f
            .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
            .await;
        assert!(
            r.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{reviewers}: {}",
            r.body
        );
        if r.status == StatusCode::CREATED {
            assert_eq!(r.body["quorum"], 2, "{reviewers}: {}", r.body);
            assert_eq!(
                r.body["reviewers"],
                json!(["role:finance"]),
                "{reviewers}: {}",
                r.body
            );
        }
    }
    for quorum in [
        json!(0),
        json!(-1),
        json!(4_294_967_296_u64),
        json!(1.5),
        json!("2"),
    ] {
        let mut body = f.payment();
        body["quorum"] = quorum.clone();
        let r = f
            .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
            .await;
        assert!(
            r.status.is_client_error(),
            "{quorum}: {} {}",
            r.status,
            r.body
        );
    }
}

/// With no policy, duplicate reviewers never let one person make a quorum of two, and the agent
/// cannot name an agent (itself included) as reviewer.
#[tokio::test]
async fn without_a_policy_one_reviewer_named_twice_is_still_one_vote() {
    let f = fixture();
    let mut body = f.payment();
    body["reviewers"] = json!(["alice", "alice"]);
    body["quorum"] = json!(2);
    let r = f
        .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
        .await;
    if r.status == StatusCode::CREATED {
        let id = r.body["id"].as_str().unwrap();
        let approve = json!({"decision": "approved"});
        let uri = format!("/v1/approvals/{id}/decision");
        let first = f
            .send(call("POST", &uri, Some(ALICE), Some(approve.clone())))
            .await;
        let again = f.send(call("POST", &uri, Some(ALICE), Some(approve))).await;
        assert_ne!(first.body["status"], "approved", "{}", first.body);
        assert_ne!(again.body["status"], "approved", "{}", again.body);
    } else {
        assert!(r.status.is_client_error(), "{}", r.body);
    }
    for reviewers in [
        json!(["agent"]),
        json!(["helper-bot"]),
        json!(["alice", "helper-bot"]),
    ] {
        let mut body = f.payment();
        body["reviewers"] = reviewers.clone();
        let r = f
            .send(call("POST", "/v1/approvals", Some(AGENT), Some(body)))
            .await;
        assert!(
            r.status.is_client_error(),
            "{reviewers}: {} {}",
            r.status,
            r.body
        );
    }
}

/// The policy's read and test routes: refused to a non-admin; an agent holding the role admin
/// cannot set the policy, and reading or testing it gives it nothing it can change.
#[tokio::test]
async fn the_policy_routes_as_a_non_admin_and_as_an_agent_admin() {
    let f = fixture();
    f.set(GATED).await;
    let test = |key| call("POST", "/v1/policy/test", Some(key), Some(f.payment()));
    for key in [ALICE, BOB, AGENT, HELPER_BOT] {
        let r = f.send(test(key)).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
        let r = f.send(call("GET", "/v1/policy", Some(key), None)).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
    }
    let put = f.put_as(AGENT_ADMIN, "rules: []\n").await;
    assert_eq!(put.status, StatusCode::FORBIDDEN, "{}", put.body);
    // Nor read or test it, to search for what it would allow.
    let r = f.send(test(AGENT_ADMIN)).await;
    problem(&r, StatusCode::FORBIDDEN, "not_admin");
    for uri in ["/v1/policy", "/v1/policy/history"] {
        let r = f.send(call("GET", uri, Some(AGENT_ADMIN), None)).await;
        problem(&r, StatusCode::FORBIDDEN, "not_admin");
    }
    // Testing as another principal names only principals of the tenant.
    let r = f
        .send(call(
            "POST",
            "/v1/policy/test?principal=root%00",
            Some(ADMIN),
            Some(f.payment()),
        ))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    let r = f
        .send(call(
            "POST",
            "/v1/policy/test?principal=a&principal=b",
            Some(ADMIN),
            Some(f.payment()),
        ))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
}
