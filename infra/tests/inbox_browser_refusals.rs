//! The inbox refuses, in a real browser (headless Chromium), the sessions that must not work:
//! alice's session made to expire, then her principal removed, each while a page of hers is
//! open (its form, sent afterwards, decides nothing; the next page is the sign-in form and the
//! browser forgets the cookie); and another tenant's session cookie placed in the browser (its
//! own inbox only; this tenant's request is not found, and a decision posted with that
//! session's own CSRF token, one request or in bulk, decides nothing). One browser for all.

mod support;

use serde_json::json;
use support::create;
use support::inbox::{
    Web, body, browser_sign_in, cli, listed, on_a_large_stack, setup, wait_for_text,
};
use support::team::{add, approval};
use support::webdriver::Browser;

#[test]
fn refused_sessions_in_the_browser() {
    on_a_large_stack(refusals);
}

/// The sign-in form, as a refused session gets it: no approval listed, no session cookie left.
async fn signed_out(browser: &Browser, why: &str) {
    let text = browser.text().await;
    assert!(
        text.contains("Send me a sign-in link") && !text.contains("Signed in as"),
        "{why}: {text}"
    );
    assert_eq!(
        listed(browser, "#pending").await,
        Vec::<String>::new(),
        "{why}"
    );
    assert_eq!(
        browser.cookies().await,
        json!([]),
        "{why}: the cookie is ended"
    );
}

async fn refusals() {
    let (dir, mail, _hooks, team, server) = setup().await;
    let web = Web::new(&server);
    let agent = &team.agent.key;
    let url = |path: &str| format!("{}{path}", server.url());
    let status = async |id: &str| approval(&server, agent, id).await["status"].clone();
    let a = create(
        &server,
        agent,
        body("Terminate i-07", &["alice"], "ec2.terminate", 80, 7200),
    )
    .await;
    let b = create(
        &server,
        agent,
        body("Refund order 7", &["alice"], "payments.refund", 40, 7200),
    )
    .await;
    let browser = Browser::start().await;

    // (b) The session made to expire while the preview of a bulk approval is open.
    browser_sign_in(&browser, &server, &mail).await;
    let mut mine = listed(&browser, "#pending").await;
    mine.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(mine, both);
    browser.click(&format!("input[value='{a}']")).await;
    browser.click(&format!("input[value='{b}']")).await;
    browser.click("#preview").await;
    wait_for_text(&browser, "You selected 2 requests").await;
    let db = rusqlite::Connection::open(dir.path().join(".holdpoint/sessions.db")).unwrap();
    let ended = db
        .execute(
            "UPDATE sessions SET expires = 1 WHERE tenant = 'local' AND name = 'alice'",
            [],
        )
        .unwrap();
    assert_eq!(ended, 1, "alice's one session");
    browser.click("#approve-all").await;
    wait_for_text(&browser, "Your session has ended").await;
    signed_out(&browser, "the bulk form after the session's end").await;
    assert_eq!(
        (status(&a).await, status(&b).await),
        (json!("pending"), json!("pending"))
    );
    browser.goto(&url("/inbox")).await;
    signed_out(&browser, "the inbox after the session's end").await;

    // (a) Signed in again; her principal removed while her request's page is open.
    browser_sign_in(&browser, &server, &mail).await;
    assert_eq!(listed(&browser, "#pending").await.len(), 2);
    browser.goto(&url(&format!("/inbox/approvals/{a}"))).await;
    wait_for_text(&browser, "Terminate i-07").await;
    cli(dir.path(), &["principals", "remove", "local/alice"]);
    browser.click("#approve").await;
    wait_for_text(&browser, "Your session has ended").await;
    signed_out(&browser, "the decision form after the removal").await;
    assert_eq!(status(&a).await, "pending", "nothing was decided");
    browser.goto(&url("/inbox")).await;
    signed_out(&browser, "the inbox after the removal").await;
    browser.goto(&url(&format!("/inbox/approvals/{b}"))).await;
    signed_out(&browser, "her request's page after the removal").await;

    // (c) Another tenant's session cookie, placed in this browser.
    let other_agent = add(dir.path(), &["other/agent"]);
    add(
        dir.path(),
        &["other/alice", "--email", "alice@other.example"],
    );
    let theirs = create(
        &server,
        &other_agent.key,
        body("Other tenant's", &["alice"], "ec2.terminate", 80, 7200),
    )
    .await;
    let (cookie, csrf) = web
        .sign_in(&mail, "other", "alice", "alice@other.example")
        .await;
    let (name, value) = cookie.split_once('=').unwrap();
    browser
        .add_cookie(
            json!({"name": name, "value": value, "path": "/", "httpOnly": true,
                           "sameSite": "Strict"}),
        )
        .await;
    browser.goto(&url("/inbox")).await;
    let text = wait_for_text(&browser, "Signed in as alice (other)").await;
    assert!(
        !text.contains("Terminate i-07") && !text.contains("Refund order 7"),
        "{text}"
    );
    assert_eq!(
        listed(&browser, "#pending").await,
        vec![theirs.clone()],
        "its own inbox only"
    );
    browser.goto(&url(&format!("/inbox/approvals/{a}"))).await;
    let text = wait_for_text(&browser, "There is no such request for you").await;
    assert!(!text.contains("Terminate i-07"), "{text}");
    // Its own request's page, its forms sent to this tenant's request: not found.
    browser
        .goto(&url(&format!("/inbox/approvals/{theirs}")))
        .await;
    wait_for_text(&browser, "Other tenant's").await;
    let page_csrf = browser
        .execute("return document.querySelector('input[name=csrf]').value")
        .await;
    assert_eq!(page_csrf, json!(csrf), "the session's own CSRF token");
    browser
        .execute(&format!(
            "document.querySelectorAll('form[action^=\"/inbox/approvals/\"]').forEach(f => f.action = '/inbox/approvals/{a}')"
        ))
        .await;
    browser.click("#approve").await;
    wait_for_text(&browser, "There is no such request for you").await;
    // And in bulk: its own preview, the ids swapped for this tenant's.
    browser.goto(&url("/inbox")).await;
    browser.click(&format!("input[value='{theirs}']")).await;
    browser.click("#preview").await;
    wait_for_text(&browser, "You selected 1 request").await;
    browser
        .execute(&format!(
            "document.querySelectorAll('input[name=id]').forEach(i => i.value = '{b}')"
        ))
        .await;
    browser.click("#approve-all").await;
    let text = wait_for_text(&browser, "Results").await;
    assert!(text.contains("Not found: nothing done."), "{text}");
    assert_eq!(
        (status(&a).await, status(&b).await),
        (json!("pending"), json!("pending"))
    );
    assert_eq!(
        approval(&server, &other_agent.key, &theirs).await["status"],
        "pending",
        "its own request was not decided either"
    );
    browser.quit();
}
