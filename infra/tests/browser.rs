//! The review page in a real browser (headless Chromium): a reviewer opens a printed link and
//! approves in one click; hostile agent input shows up as text and runs nothing.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::hostile::hostile;
use support::webdriver::Browser;
use support::{AGENT_KEY, Server, create, holdpoint, printed, team_keys};

/// `holdpoint links ID`, beside the running server (with its key map, so no directory of the
/// data directory filters the team's names out): alice's link.
fn alice_link(cwd: &Path, server: &Server, id: &str) -> String {
    let addr = server.addr.to_string();
    let keys = team_keys();
    let env = [
        ("HOLDPOINT_ADDR", addr.as_str()),
        ("HOLDPOINT_API_KEYS", &keys),
    ];
    let out = holdpoint(cwd, &["links", id], &env);
    assert!(out.status.success(), "{}", printed(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("alice "))
        .unwrap_or_else(|| panic!("no link for alice in {stdout}"))
        .to_owned()
}

async fn wait_for_text(browser: &Browser, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let text = browser.text().await;
        if text.contains(needle) || started.elapsed() > Duration::from_secs(10) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_approves_from_a_link_in_one_click() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let id = create(&server, AGENT_KEY, json!({
        "action": "Terminate EC2 instance i-0abc123 in eu-west-1",
        "agent_id": "ops-agent",
        "reviewers": ["alice"],
        "reason": "Idle for 30 days; last login 2026-10-02",
        "risk_score": 80,
        "context": {"instance_id": "i-0abc123", "region": "eu-west-1", "monthly_cost_eur": 412.5},
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
    }))
    .await;
    let link = alice_link(dir.path(), &server, &id);

    let browser = Browser::start().await;
    browser.goto(&link).await;
    let text = browser.text().await;
    assert!(
        text.contains("Terminate EC2 instance i-0abc123 in eu-west-1"),
        "{text}"
    );
    assert!(
        text.contains("ec2.terminate_instances") && text.contains("monthly_cost_eur"),
        "{text}"
    );
    let width = browser
        .execute("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    assert_eq!(
        width,
        json!([390, 390]),
        "fits a phone screen without sideways scrolling"
    );
    if let Ok(path) = std::env::var("HOLDPOINT_SCREENSHOT") {
        std::fs::write(path, browser.screenshot().await).unwrap();
    }
    let (status, before) = server
        .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
        .await
        .unwrap();
    assert_eq!(
        (status, before["status"].as_str()),
        (200, Some("pending")),
        "opening the page decided nothing"
    );

    browser.click("#approve").await;
    let text = wait_for_text(&browser, "Decision recorded").await;
    assert!(text.contains("now approved"), "{text}");
    let (_, after) = server
        .call("GET", &format!("/v1/approvals/{id}"), Some(AGENT_KEY), None)
        .await
        .unwrap();
    assert_eq!(after["status"], "approved");
    assert_eq!(after["decision"]["by"], "alice");

    browser.goto(&link).await;
    let text = browser.text().await;
    assert!(
        text.contains("Already decided: approved by alice"),
        "{text}"
    );
    browser.quit();
}

const NOTHING_RAN: &str = r#"
    const forms = Array.from(document.forms);
    return {
        pwned: window.__pwned !== undefined,
        hidden: getComputedStyle(document.body).display === 'none',
        injected: document.querySelectorAll('script,img,svg,iframe,object,embed,video,marquee,details,math,link,base,noscript,a,meta[http-equiv],style:not(head style),div,input:not([type=hidden])').length,
        forms: forms.length,
        foreign_forms: forms.filter(f => f.getAttribute('action') !== location.pathname).length,
    };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_shows_as_text_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::for_team(dir.path(), &[]).await;
    let browser = Browser::start().await;
    let corpus = hostile();
    assert!(corpus.len() >= 30);
    for payload in &corpus {
        // Names refuse invisible formatting characters; such payloads go in the free text.
        let agent_id = match holdpoint_core::domain::request::check_name("agent_id", payload) {
            Ok(()) => payload.as_str(),
            Err(_) => "hostile-agent",
        };
        let id = create(
            &server,
            AGENT_KEY,
            json!({
                "action": payload,
                "agent_id": agent_id,
                "reason": payload,
                "reviewers": ["alice"],
                "context": {"note": payload, payload.as_str(): "key"},
                "tool_call": {"name": payload, "arguments": {"sql": payload}},
            }),
        )
        .await;
        browser.goto(&alice_link(dir.path(), &server, &id)).await;
        let checks = browser.execute(NOTHING_RAN).await;
        assert_eq!(
            checks,
            // Approve, reject, approve with edits, and extend by an hour: all to the page itself.
            json!({"pwned": false, "hidden": false, "injected": 0, "forms": 4, "foreign_forms": 0}),
            "payload {payload:?}"
        );
        assert!(
            !browser.dialog_open().await,
            "payload {payload:?} opened a dialog"
        );
        // As text, with its hidden characters (controls, bidi, zero-width) shown as escapes.
        let text = browser.text().await;
        let shown = holdpoint_core::text::visible(payload);
        assert!(
            text.contains(shown.as_str()),
            "payload {payload:?} is not shown as text:\n{text}"
        );
    }
    browser.quit();
}
