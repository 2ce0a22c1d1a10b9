//! What the inbox's browser tests share: signing in through a mailed link (in the browser or
//! without one), a form client that keeps cookies as the test gives them, and approvals to list.

use std::path::Path;
use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};

use super::team;
use super::webdriver::Browser;
use super::{Server, holdpoint, printed};

/// The newest sign-in link mailed to `to`, once there are more than `before` of them.
pub async fn link_for(mail: &Mailbox, to: &str, before: usize) -> String {
    let links = eventually(
        Duration::from_secs(15),
        async || sign_in_links(mail, to),
        |l: &Vec<String>| l.len() > before,
    )
    .await;
    links.last().cloned().unwrap()
}

pub fn sign_in_links(mail: &Mailbox, to: &str) -> Vec<String> {
    mail.messages()
        .iter()
        .filter(|m| m["to"][0] == to)
        .filter_map(|m| {
            m["text"]
                .as_str()?
                .lines()
                .find(|l| l.contains("/inbox/sign-in?token="))
                .map(|l| l.trim().to_owned())
        })
        .collect()
}

/// A browser-less client: no redirects followed, cookies as the test gives them.
pub struct Web {
    base: String,
    client: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub cookie: Option<String>,
    pub body: String,
}

impl Web {
    pub fn new(server: &Server) -> Web {
        Web {
            base: server.url(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, cookie: Option<&str>, form: &str) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(url),
            _ => self
                .client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned()),
        };
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        Answer {
            status,
            cookie,
            body: res.text().await.unwrap_or_default(),
        }
    }

    /// Signs `tenant/name` in through its mailed link: the cookie (`name=value`) and the CSRF
    /// token of its pages.
    pub async fn sign_in(
        &self,
        mail: &Mailbox,
        tenant: &str,
        name: &str,
        to: &str,
    ) -> (String, String) {
        let before = sign_in_links(mail, to).len();
        let asked = self
            .send(
                "POST",
                "/inbox",
                None,
                &format!("tenant={tenant}&name={name}"),
            )
            .await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        let link = link_for(mail, to, before).await;
        let token = link.split("token=").nth(1).unwrap();
        // Another site's form cannot sign the browser in with it (login CSRF), nor use it up:
        // neither another site, nor a sibling subdomain (an attacker got `same-site` through),
        // nor a browser that does not say where from but sends a foreign Origin.
        for (header, value) in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.example.com"),
            ("origin", "null"),
        ] {
            let foreign = self
                .client
                .post(format!("{}/inbox/sign-in", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header(header, value)
                .body(format!("token={token}"))
                .send()
                .await
                .expect("the server answers");
            assert_eq!(foreign.status(), 403, "{header}: {value}");
            assert!(foreign.headers().get("set-cookie").is_none());
        }
        let done = self
            .send("POST", "/inbox/sign-in", None, &format!("token={token}"))
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let set = done.cookie.expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.send("GET", "/inbox", Some(&cookie), "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        (cookie, csrf_in(&page.body))
    }
}

pub fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

pub fn body(action: &str, reviewers: &[&str], tool: &str, risk: u8, seconds: u32) -> Value {
    json!({
        "action": action, "agent_id": "ops-agent", "reviewers": reviewers,
        "reason": format!("reason for {action}"), "risk_score": risk,
        "expires_in_seconds": seconds,
        "context": {"ticket": action},
        "tool_call": {"name": tool, "arguments": {"target": action}},
    })
}

/// The ids the page's table `table` lists, in order.
pub async fn listed(browser: &Browser, table: &str) -> Vec<String> {
    let ids = browser
        .execute(&format!(
            "return Array.from(document.querySelectorAll('{table} tr[data-id]')).map(r => r.dataset.id)"
        ))
        .await;
    serde_json::from_value(ids).unwrap()
}

pub async fn wait_for_text(browser: &Browser, needle: &str) -> String {
    eventually(
        Duration::from_secs(10),
        async || browser.text().await,
        |t: &String| t.contains(needle),
    )
    .await
}

/// alice in the browser, signed in through the sign-in form and the mailed link.
pub async fn browser_sign_in(browser: &Browser, server: &Server, mail: &Mailbox) -> String {
    browser.goto(&format!("{}/inbox", server.url())).await;
    let before = sign_in_links(mail, "alice@example.com").len();
    browser.type_into("#tenant", "local").await;
    browser.type_into("#name", "alice").await;
    browser.click("#send-link").await;
    wait_for_text(browser, "a sign-in link is on its way").await;
    let link = link_for(mail, "alice@example.com", before).await;
    browser.goto(&link).await;
    assert!(
        browser.text().await.contains("Sign in as alice"),
        "opening the link signs nothing in yet"
    );
    browser.click("#sign-in").await;
    wait_for_text(browser, "Signed in as alice").await;
    link
}

pub async fn setup() -> (tempfile::TempDir, Mailbox, Webhooks, team::Team, Server) {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let team = team::team(dir.path(), &hooks);
    let server = team::serve(dir.path(), &mail, true).await;
    (dir, mail, hooks, team, server)
}

pub fn cli(dir: &Path, args: &[&str]) {
    let out = holdpoint(dir, args, &[]);
    assert!(out.status.success(), "{}", printed(&out));
}

/// Runs a test on a thread with a 64 MiB stack (and a runtime of its own): a walk-through's
/// future, unoptimised, overflows a test thread's 2 MiB.
pub fn on_a_large_stack<F: std::future::Future<Output = ()>>(
    test: impl FnOnce() -> F + Send + 'static,
) {
    let ran = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(test())
        })
        .expect("a thread")
        .join();
    if let Err(panic) = ran {
        std::panic::resume_unwind(panic);
    }
}
