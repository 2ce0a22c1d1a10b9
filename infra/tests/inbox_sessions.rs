//! The inbox refuses every session that must not work, without a browser (the cookie as the
//! test gives it): another tenant's cookie (as it is, and edited to this tenant), a session past
//! its end, a removed principal's, a signed-out one's; a bulk decision past its bound; and bad
//! input of every inbox route answered with a clear 4xx page, never a 500.

mod support;

use support::create;
use support::inbox::{Web, body, cli, setup};
use support::team::{add, approval};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_must_not_work_are_refused() {
    let (dir, mail, _hooks, team, server) = setup().await;
    let web = Web::new(&server);
    let a = create(
        &server,
        &team.agent.key,
        body(
            "Local",
            &["alice", "bob", "dave"],
            "ec2.terminate",
            80,
            7200,
        ),
    )
    .await;
    add(dir.path(), &["local/dave", "--email", "dave@example.com"]);
    add(
        dir.path(),
        &["other/alice", "--email", "alice@other.example"],
    );
    let (other, other_csrf) = web
        .sign_in(&mail, "other", "alice", "alice@other.example")
        .await;

    // Another tenant's cookie: its own inbox only; this tenant's approval is not found.
    let page = web.send("GET", "/inbox", Some(&other), "").await;
    assert!(
        page.status == 200 && !page.body.contains("Local"),
        "{}",
        page.body
    );
    let one = web
        .send("GET", &format!("/inbox/approvals/{a}"), Some(&other), "")
        .await;
    assert_eq!(one.status, 404);
    let forged = web
        .send(
            "POST",
            &format!("/inbox/approvals/{a}"),
            Some(&other),
            &format!("csrf={other_csrf}&decision=approved"),
        )
        .await;
    assert_eq!(forged.status, 404);
    // Its tenant edited to this one: the secret is another tenant's, so nobody.
    let moved = other.replacen("=other~", "=local~", 1);
    assert_ne!(moved, other);
    assert_eq!(
        web.send("GET", "/inbox/decided", Some(&moved), "")
            .await
            .status,
        401
    );

    // A session past its end.
    let (bob, bob_csrf) = web.sign_in(&mail, "local", "bob", "bob@example.com").await;
    let db = rusqlite::Connection::open(dir.path().join(".holdpoint/sessions.db")).unwrap();
    db.execute("UPDATE sessions SET expires = 1 WHERE name = 'bob'", [])
        .unwrap();
    let late = web
        .send(
            "POST",
            &format!("/inbox/approvals/{a}"),
            Some(&bob),
            &format!("csrf={bob_csrf}&decision=approved"),
        )
        .await;
    assert_eq!(late.status, 401);
    assert!(
        late.body.contains("Your session has ended"),
        "{}",
        late.body
    );

    // A removed principal's session, and a signed-out one's.
    let (dave, dave_csrf) = web
        .sign_in(&mail, "local", "dave", "dave@example.com")
        .await;
    cli(dir.path(), &["principals", "remove", "local/dave"]);
    let gone = web
        .send(
            "POST",
            &format!("/inbox/approvals/{a}"),
            Some(&dave),
            &format!("csrf={dave_csrf}&decision=approved"),
        )
        .await;
    assert_eq!(gone.status, 401);
    let (alice, alice_csrf) = web
        .sign_in(&mail, "local", "alice", "alice@example.com")
        .await;
    // Bulk past its bound: refused whole.
    let many: String = (0..51)
        .map(|_| format!("&id={}", uuid::Uuid::new_v4()))
        .collect();
    let big = web
        .send(
            "POST",
            "/inbox/decide",
            Some(&alice),
            &format!("csrf={alice_csrf}&decision=approved{many}"),
        )
        .await;
    assert_eq!(big.status, 413);
    cli(dir.path(), &["principals", "sign-out", "local/alice"]);
    let out = web
        .send(
            "POST",
            &format!("/inbox/approvals/{a}"),
            Some(&alice),
            &format!("csrf={alice_csrf}&decision=approved"),
        )
        .await;
    assert_eq!(out.status, 401);
    assert_eq!(
        approval(&server, &team.agent.key, &a).await["status"],
        "pending",
        "nothing was decided"
    );
    // Bad input gets a clear 4xx page, never a 500.
    for (method, path, form) in [
        ("GET", "/inbox/sign-in", ""),
        ("GET", "/inbox/sign-in?token=%ff%fe", ""),
        ("POST", "/inbox/sign-in", "token="),
        ("POST", "/inbox", "tenant=a%20b&name=x"),
        ("POST", "/inbox", "name=x"),
        ("GET", "/inbox/approvals/not-a-uuid", ""),
        ("POST", "/inbox/preview", "id=x"),
    ] {
        let a = web.send(method, path, Some(&alice), form).await;
        assert!(
            (400..500).contains(&a.status),
            "{method} {path}: {}",
            a.status
        );
    }
    // Every answer under /inbox, the router's own 404 and 405 too, carries the strict headers
    // (an attacker found those two without them).
    let client = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/inbox/nope"),
        ("PUT", "/inbox"),
        ("DELETE", "/inbox/sign-out"),
        ("GET", "/inbox/decide"),
    ] {
        let res = client
            .request(method.parse().unwrap(), format!("{}{path}", server.url()))
            .send()
            .await
            .expect("the server answers");
        assert!(res.status().is_client_error(), "{method} {path}");
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{method} {path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{method} {path}");
        assert_eq!(h["cache-control"], "no-store", "{method} {path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{method} {path}: {csp}");
    }
}

/// `GET /v1/approvals?awaiting=me`: the inbox's list in the API, roles expanded on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_what_awaits_me() {
    let (_dir, _mail, _hooks, team, server) = setup().await;
    let agent = &team.agent.key;
    let named = create(&server, agent, body("Named", &["alice"], "t", 1, 7200)).await;
    let by_role = create(
        &server,
        agent,
        body("Role", &["role:finance"], "t", 1, 7200),
    )
    .await;
    create(&server, agent, body("Carol's", &["carol"], "t", 1, 7200)).await;
    let ids = async |key: &str, query: &str| {
        let (status, page) = server
            .call("GET", &format!("/v1/approvals?{query}"), Some(key), None)
            .await
            .unwrap();
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|a| a["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        (status, ids)
    };
    let mut both = vec![named.clone(), by_role.clone()];
    both.sort();
    assert_eq!(ids(&team.alice.key, "awaiting=me").await, (200, both));
    assert_eq!(
        ids(&team.bob.key, "awaiting=me").await,
        (200, vec![by_role])
    );
    assert_eq!(
        ids(agent, "awaiting=me").await,
        (200, vec![]),
        "an agent decides nothing"
    );
    assert_eq!(ids(&team.alice.key, "awaiting=bob").await.0, 400, "only me");
    assert_eq!(
        ids(&team.alice.key, "awaiting=me&status=approved").await,
        (200, vec![])
    );
}

/// The Insights tab is for admins alone; signing out needs the CSRF token and ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_for_admins_and_signing_out() {
    let (dir, mail, _hooks, _team, server) = setup().await;
    let web = Web::new(&server);
    add(
        dir.path(),
        &[
            "local/erin",
            "--role",
            "admin",
            "--email",
            "erin@example.com",
        ],
    );
    let (erin, _) = web
        .sign_in(&mail, "local", "erin", "erin@example.com")
        .await;
    let (alice, alice_csrf) = web
        .sign_in(&mail, "local", "alice", "alice@example.com")
        .await;
    let inbox = web.send("GET", "/inbox", Some(&erin), "").await;
    assert!(inbox.body.contains("href=\"/inbox/insights\""));
    let tab = web.send("GET", "/inbox/insights", Some(&erin), "").await;
    assert_eq!(tab.status, 200, "{}", tab.body);
    let inbox = web.send("GET", "/inbox", Some(&alice), "").await;
    assert!(!inbox.body.contains("/inbox/insights"), "not offered");
    let tab = web.send("GET", "/inbox/insights", Some(&alice), "").await;
    assert_eq!(tab.status, 403);

    // Another site cannot sign alice out (no token), then she does.
    let forged = web.send("POST", "/inbox/sign-out", Some(&alice), "").await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        web.send("GET", "/inbox/decided", Some(&alice), "")
            .await
            .status,
        200
    );
    let out = web
        .send(
            "POST",
            "/inbox/sign-out",
            Some(&alice),
            &format!("csrf={alice_csrf}"),
        )
        .await;
    assert_eq!(out.status, 200);
    assert!(
        out.cookie.is_some_and(|c| c.contains("Max-Age=0")),
        "the browser forgets it"
    );
    assert_eq!(
        web.send("GET", "/inbox/decided", Some(&alice), "")
            .await
            .status,
        401
    );
    assert_eq!(
        web.send("GET", "/inbox/decided", Some(&erin), "")
            .await
            .status,
        200,
        "erin's goes on"
    );
}
