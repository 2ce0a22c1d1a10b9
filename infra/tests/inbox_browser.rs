//! The reviewer inbox in a real browser (headless Chromium): sign-in through a mailed link,
//! exactly the reviewer's pending approvals (named and by role; not another tenant's, not
//! decided ones), a bulk approval after its preview with one decided meanwhile by someone else,
//! a rejection with a comment, an extension; a forged or missing CSRF token and a replayed link
//! refused; a review link signs nothing in; hostile agent text shows as text.
//! `HOLDPOINT_INBOX_SCREENSHOT=1` saves the inbox to docs/inbox.png.

mod support;

use std::path::Path;
use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};
use support::hostile::hostile;
use support::inbox::{Web, body, browser_sign_in, listed, on_a_large_stack, setup, wait_for_text};
use support::team::{self, Added, Team, add, approval};
use support::webdriver::Browser;
use support::{Server, create};

/// One server, its team and alice's browser, shared by the steps of the walk-through.
struct Scene {
    dir: tempfile::TempDir,
    mail: Mailbox,
    _hooks: Webhooks,
    team: Team,
    server: Server,
    browser: Browser,
    web: Web,
}

/// The approvals of the walk-through.
struct Ids {
    a1: String,
    a2: String,
    a3: String,
    rj: String,
    ex: String,
    done: String,
}

impl Scene {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }
}

#[test]
fn a_reviewer_works_through_the_inbox() {
    on_a_large_stack(walk_through);
}

async fn walk_through() {
    let (dir, mail, hooks, team, server) = setup().await;
    let web = Web::new(&server);
    let scene = Scene {
        dir,
        mail,
        _hooks: hooks,
        team,
        server,
        browser: Browser::start().await,
        web,
    };
    let (ids, link) = Box::pin(lists_exactly_mine(&scene)).await;
    Box::pin(bulk_after_preview(&scene, &ids)).await;
    Box::pin(forged_csrf_then_reject_and_extend(&scene, &ids)).await;
    Box::pin(replayed_link_and_review_link(&scene, &link)).await;
}

async fn lists_exactly_mine(s: &Scene) -> (Ids, String) {
    let (dir, mail, team, server, browser) = (&s.dir, &s.mail, &s.team, &s.server, &s.browser);
    let agent = &team.agent.key;
    let a1 = create(
        server,
        agent,
        body("Terminate i-01", &["alice"], "ec2.terminate", 80, 7200),
    )
    .await;
    let a2 = create(
        server,
        agent,
        body(
            "Refund order 42",
            &["role:finance"],
            "payments.refund",
            40,
            7200,
        ),
    )
    .await;
    let a3 = create(
        server,
        agent,
        body(
            "Delete bucket logs",
            &["alice", "carol"],
            "s3.delete",
            60,
            7200,
        ),
    )
    .await;
    let rj = create(
        server,
        agent,
        body("Drop table users", &["alice"], "sql.execute", 95, 7200),
    )
    .await;
    let ex = create(
        server,
        agent,
        body("Rotate keys", &["role:finance"], "kms.rotate", 20, 600),
    )
    .await;
    let bobs = create(
        server,
        agent,
        body("Bob's only", &["bob"], "ec2.terminate", 80, 7200),
    )
    .await;
    let done = create(
        server,
        agent,
        body("Done before", &["alice"], "ec2.terminate", 80, 7200),
    )
    .await;
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{done}/decision"),
            Some(&team.alice.key),
            Some(&json!({"decision": "approved"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Another tenant with its own alice, asked by its own agent.
    let other_agent: Added = add(dir.path(), &["other/agent"]);
    add(
        dir.path(),
        &["other/alice", "--email", "alice@other.example"],
    );
    let elsewhere = create(
        server,
        &other_agent.key,
        body("Other tenant's", &["alice"], "ec2.terminate", 80, 7200),
    )
    .await;

    let link = browser_sign_in(browser, server, mail).await;
    let mut pending = listed(browser, "#pending").await;
    pending.sort();
    let mut expected = vec![a1.clone(), a2.clone(), a3.clone(), rj.clone(), ex.clone()];
    expected.sort();
    assert_eq!(
        pending, expected,
        "named and by role; not bob's, not decided, not another tenant's"
    );
    assert!(!pending.contains(&bobs) && !pending.contains(&done) && !pending.contains(&elsewhere));
    // Soonest deadline first, and the filters narrow it.
    browser.goto(&s.url("/inbox?order=soonest")).await;
    assert_eq!(listed(browser, "#pending").await[0], ex);
    browser
        .goto(&format!("{}/inbox?tool=payments.refund", server.url()))
        .await;
    assert_eq!(listed(browser, "#pending").await, vec![a2.clone()]);
    browser
        .goto(&format!("{}/inbox?risk=90&agent=ops-agent", server.url()))
        .await;
    assert_eq!(listed(browser, "#pending").await, vec![rj.clone()]);
    browser.goto(&format!("{}/inbox", server.url())).await;
    let countdown = browser
        .execute("return document.querySelector('time.left').textContent")
        .await;
    assert!(countdown.as_str().unwrap().ends_with("left"), "{countdown}");
    let width = browser
        .execute("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(
        width,
        json!([390, 390]),
        "fits a phone without sideways scrolling"
    );
    if std::env::var("HOLDPOINT_INBOX_SCREENSHOT").is_ok_and(|v| v == "1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/inbox.png");
        std::fs::write(path, browser.screenshot().await).unwrap();
    }
    let ids = Ids {
        a1,
        a2,
        a3,
        rj,
        ex,
        done,
    };
    (ids, link)
}

async fn bulk_after_preview(s: &Scene, ids: &Ids) {
    let (team, server, browser) = (&s.team, &s.server, &s.browser);
    let agent = &team.agent.key;
    let Ids { a1, a2, a3, .. } = ids;
    // Bulk: three selected, previewed, and one decided by bob meanwhile.
    for id in [&a1, &a2, &a3] {
        browser.click(&format!("input[value='{id}']")).await;
    }
    browser.click("#preview").await;
    wait_for_text(browser, "You selected 3 requests").await;
    let mut previewed = listed(browser, "#selected").await;
    previewed.sort();
    let mut three = vec![a1.clone(), a2.clone(), a3.clone()];
    three.sort();
    assert_eq!(previewed, three, "exactly what was selected");
    let (status, _) = server
        .call(
            "POST",
            &format!("/v1/approvals/{a2}/decision"),
            Some(&team.bob.key),
            Some(&json!({"decision": "approved"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    browser.click("#approve-all").await;
    let text = wait_for_text(browser, "Results").await;
    assert!(text.contains("Already decided: approved by bob"), "{text}");
    for id in [&a1, &a3] {
        let a = approval(server, agent, id).await;
        assert_eq!(
            (a["status"].as_str(), a["decision"]["by"].as_str()),
            (Some("approved"), Some("alice")),
            "{a}"
        );
        let (_, audit) = server
            .call(
                "GET",
                &format!("/v1/approvals/{id}/audit"),
                Some(agent),
                None,
            )
            .await
            .unwrap();
        let by_alice = audit["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["actor"] == "alice")
            .count();
        assert_eq!(by_alice, 1, "its own decision record: {audit}");
    }
    assert_eq!(approval(server, agent, a2).await["decision"]["by"], "bob");
}

async fn forged_csrf_then_reject_and_extend(s: &Scene, ids: &Ids) {
    let (team, server, browser) = (&s.team, &s.server, &s.browser);
    let agent = &team.agent.key;
    let Ids {
        a1,
        a2,
        a3,
        rj,
        ex,
        done,
    } = ids;
    // A forged, then a missing CSRF token: refused, nothing changes.
    browser
        .goto(&format!("{}/inbox/approvals/{rj}", server.url()))
        .await;
    browser
        .execute("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
        .await;
    browser.type_into("#reject-comment", "no").await;
    browser.click("#reject").await;
    wait_for_text(browser, "not from your current session").await;
    browser
        .goto(&format!("{}/inbox/approvals/{rj}", server.url()))
        .await;
    browser
        .execute("document.querySelectorAll('input[name=csrf]').forEach(i => i.remove())")
        .await;
    browser.click("#approve").await;
    wait_for_text(browser, "not from your current session").await;
    assert_eq!(approval(server, agent, rj).await["status"], "pending");

    // Reject one with a comment; extend another.
    browser
        .goto(&format!("{}/inbox/approvals/{rj}", server.url()))
        .await;
    browser
        .type_into("#reject-comment", "Not on a Friday")
        .await;
    browser.click("#reject").await;
    wait_for_text(browser, "Decision recorded").await;
    let r = approval(server, agent, rj).await;
    assert_eq!(
        (r["status"].as_str(), r["decision"]["comment"].as_str()),
        (Some("rejected"), Some("Not on a Friday")),
        "{r}"
    );
    let before = approval(server, agent, ex).await["expires_at"].clone();
    browser
        .goto(&format!("{}/inbox/approvals/{ex}", server.url()))
        .await;
    browser.click("#extend").await;
    wait_for_text(browser, "Deadline extended").await;
    let after = approval(server, agent, ex).await["expires_at"].clone();
    assert!(after.as_str() > before.as_str(), "{before} → {after}");
    browser
        .goto(&format!("{}/inbox/decided", server.url()))
        .await;
    let decided = listed(browser, "#decided").await;
    for id in [&a1, &a2, &a3, &rj, &done] {
        assert!(decided.contains(id), "{id} in {decided:?}");
    }
}

async fn replayed_link_and_review_link(s: &Scene, link: &str) {
    let (mail, team, server, browser, web) = (&s.mail, &s.team, &s.server, &s.browser, &s.web);
    let agent = &team.agent.key;
    // The sign-in link, replayed: refused (as the page and as the form).
    browser.goto(link).await;
    assert!(browser.text().await.contains("expired"));
    let token = link.split("token=").nth(1).unwrap();
    let replay = web
        .send("POST", "/inbox/sign-in", None, &format!("token={token}"))
        .await;
    assert_eq!((replay.status, replay.cookie), (403, None));

    // A review link opened in a browser without a session signs nothing in.
    browser.delete_cookies().await;
    let review = create(
        server,
        agent,
        body("By link", &["alice"], "ec2.terminate", 10, 7200),
    )
    .await;
    let mailed = eventually(
        Duration::from_secs(15),
        async || mail.messages(),
        |m: &Vec<Value>| {
            m.iter().any(|m| {
                m["to"][0] == "alice@example.com"
                    && m["text"].as_str().is_some_and(|t| t.contains(&review))
            })
        },
    )
    .await;
    let review_link = team::link_in(
        mailed
            .iter()
            .find(|m| {
                m["to"][0] == "alice@example.com"
                    && m["text"].as_str().is_some_and(|t| t.contains(&review))
            })
            .unwrap(),
    );
    browser.goto(&review_link).await;
    assert!(browser.text().await.contains("By link"));
    assert_eq!(
        browser.cookies().await,
        json!([]),
        "the review page set no cookie"
    );
    let page = web
        .send(
            "GET",
            review_link.strip_prefix(&server.url()).unwrap(),
            None,
            "",
        )
        .await;
    assert_eq!((page.status, page.cookie), (200, None));
    browser.goto(&format!("{}/inbox", server.url())).await;
    assert!(browser.text().await.contains("Send me a sign-in link"));
}

const NOTHING_RAN: &str = r#"
    return {
        pwned: window.__pwned !== undefined,
        hidden: getComputedStyle(document.body).display === 'none',
        injected: document.querySelectorAll('body script,img,svg,iframe,object,embed,video,marquee,details,math,link,base,noscript,meta[http-equiv],body style,div').length,
        scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
        foreign_links: Array.from(document.querySelectorAll('a')).filter(a => !a.getAttribute('href').startsWith('/inbox')).length,
        foreign_forms: Array.from(document.forms).filter(f => !f.getAttribute('action').startsWith('/inbox')).length,
    };
"#;

#[test]
fn hostile_agent_text_shows_as_text_in_the_inbox() {
    on_a_large_stack(hostile_text);
}

async fn hostile_text() {
    let (_dir, mail, _hooks, team, server) = setup().await;
    let corpus = hostile();
    for payload in &corpus {
        let agent_id = match holdpoint_core::domain::request::check_name("agent_id", payload) {
            Ok(()) => payload.as_str(),
            Err(_) => "hostile-agent",
        };
        create(&server, &team.agent.key, json!({
            "action": payload, "agent_id": agent_id, "reason": payload, "reviewers": ["alice"],
            "context": {"note": payload}, "tool_call": {"name": payload, "arguments": {"sql": payload}},
        }))
        .await;
    }
    let browser = Browser::start().await;
    browser_sign_in(&browser, &server, &mail).await;
    let checks = browser.execute(NOTHING_RAN).await;
    assert_eq!(
        checks,
        json!({"pwned": false, "hidden": false, "injected": 0, "scripts": ["/inbox/app.js"],
               "foreign_links": 0, "foreign_forms": 0}),
    );
    assert!(!browser.dialog_open().await);
    let text = browser.text().await;
    for payload in &corpus {
        let shown = holdpoint_core::text::visible(payload);
        assert!(
            text.contains(shown.as_str()),
            "{payload:?} is not shown as text"
        );
    }
    // The preview of all of them too.
    browser
        .execute("document.querySelectorAll('input[type=checkbox]').forEach(c => c.checked = true)")
        .await;
    browser.click("#preview").await;
    wait_for_text(&browser, &format!("You selected {} requests", corpus.len())).await;
    let checks = browser.execute(NOTHING_RAN).await;
    assert_eq!(checks["pwned"], false);
    assert_eq!(checks["injected"], 0);
    assert_eq!(checks["foreign_forms"], 0);
    browser.quit();
}
