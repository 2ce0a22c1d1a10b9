//! A tenant connected to Slack (the stand-in) with `holdpoint slack connect`, principals with
//! Slack ids, a server posting to the stand-in, and clicks sent to it as Slack sends them.

use std::path::Path;
use std::time::Duration;

use holdpoint_tests::receivers::eventually;
use holdpoint_tests::slack::clicks::{SlackSdk, form};
use holdpoint_tests::slack::{Posted, StandIn};
use serde_json::Value;

use crate::support::team::{Added, add, approval};
use crate::support::{Server, free_port, holdpoint, printed};

pub const TENANT: &str = "local";
pub const TOKEN: &str = "xoxb-1111-2222-holdpointE2Etoken";
pub const SECRET: &str = "3f1c9a7b2e5d48c6a0b9e8d7c6b5a4f3";

/// The stand-in, a tenant connected to it, and Slack's SDK to sign clicks.
pub struct Connected {
    pub dir: tempfile::TempDir,
    pub api: StandIn,
    pub sdk: SlackSdk,
}

/// `None` when Slack's SDK is missing (the test skips, see [`SlackSdk::find`]).
pub async fn connected() -> Option<Connected> {
    let sdk = SlackSdk::find()?;
    let dir = tempfile::tempdir().unwrap();
    let api = StandIn::start().await;
    api.accept_token(TOKEN);
    let token = dir.path().join("bot-token");
    let secret = dir.path().join("signing-secret");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let out = slack_cli(dir.path(), &api, &token, &secret);
    let said = printed(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("connected {TENANT} to Slack team T0TEAM")),
        "{said}"
    );
    assert!(!said.contains(TOKEN) && !said.contains(SECRET), "{said}");
    let checked = api.calls_to("auth.test");
    assert_eq!(checked.len(), 1, "{checked:?}");
    assert_eq!(
        checked[0].token.as_deref(),
        Some(TOKEN),
        "the file's line break trimmed"
    );
    Some(Connected { dir, api, sdk })
}

fn slack_cli(dir: &Path, api: &StandIn, token: &Path, secret: &Path) -> std::process::Output {
    holdpoint(
        dir,
        &[
            "slack",
            "connect",
            TENANT,
            "--bot-token-file",
            token.to_str().unwrap(),
            "--signing-secret-file",
            secret.to_str().unwrap(),
        ],
        &[("HOLDPOINT_SLACK_API_URL", api.url().as_str())],
    )
}

impl Connected {
    /// `holdpoint principals add WHO ARGS…`.
    pub fn add(&self, who: &str, args: &[&str]) -> Added {
        let mut all = vec![who];
        all.extend_from_slice(args);
        add(self.dir.path(), &all)
    }

    /// `holdpoint principals remove WHO`.
    pub fn remove(&self, who: &str) {
        let out = holdpoint(self.dir.path(), &["principals", "remove", who], &[]);
        assert!(out.status.success(), "{}", printed(&out));
    }

    /// `holdpoint principals update WHO ARGS…`.
    pub fn update(&self, who: &str, args: &[&str]) {
        let mut all = vec!["principals", "update", who];
        all.extend_from_slice(args);
        let out = holdpoint(self.dir.path(), &all, &[]);
        assert!(out.status.success(), "{}", printed(&out));
    }

    /// The server, posting to the stand-in.
    pub async fn serve(&self) -> Server {
        let url = self.api.url();
        let env = [
            ("HOLDPOINT_SLACK_API_URL", url.as_str()),
            ("HOLDPOINT_DELIVERY_ATTEMPTS", "4"),
            ("HOLDPOINT_DELIVERY_BACKOFF_MS", "50"),
            ("HOLDPOINT_AUTH_CACHE_SECONDS", "1"),
        ];
        Server::start(self.dir.path(), &env, free_port()).await
    }

    /// The messages posted to `users`, once each has one.
    pub async fn posts_to(&self, users: &[&str]) -> Vec<Posted> {
        let posts = eventually(
            Duration::from_secs(20),
            async || self.api.posts(),
            |p| users.iter().all(|u| p.iter().any(|m| m.user == *u)),
        )
        .await;
        users
            .iter()
            .map(|u| posts.iter().find(|m| m.user == *u).unwrap().clone())
            .collect()
    }

    /// The `chat.update` of `posted` whose text contains `words` (any case), once there is one.
    pub async fn updated(&self, posted: &Posted, words: &str) -> Value {
        let words = words.to_lowercase();
        let updates = eventually(
            Duration::from_secs(20),
            async || self.api.updates_of(posted),
            |u| {
                u.iter()
                    .any(|c| text_of(&c.body).to_lowercase().contains(&words))
            },
        )
        .await;
        let call = updates
            .into_iter()
            .find(|c| text_of(&c.body).to_lowercase().contains(&words))
            .unwrap();
        assert_eq!(call.token.as_deref(), Some(TOKEN));
        assert!(
            !call.body.to_string().contains("\"actions\""),
            "no buttons left: {}",
            call.body
        );
        call.body
    }

    /// A copy of `message` in `user`'s DM (see [`StandIn::place`]).
    pub fn seed(&self, user: &str, message: &Value) -> Posted {
        self.api.place(user, message)
    }
}

/// Every text in a Slack message: its `text` and every `text` inside its blocks.
pub fn text_of(message: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "text" && v.is_string() {
                        out.push_str(v.as_str().unwrap());
                        out.push('\n');
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(message, &mut out);
    out
}

/// `POST /slack/interactions?{query}` with `body` (form) and `headers`; status and body text.
pub async fn interact(
    server: &Server,
    query: &str,
    body: &str,
    headers: &[(String, String)],
) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(format!("{}/slack/interactions?{query}", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        .body(body.to_owned());
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    let r = r.send().await.expect("the server answers");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

impl Connected {
    /// `payload` as Slack sends it to this tenant's URL, signed now with the app's secret by
    /// Slack's SDK; the answer (status, body).
    pub async fn send(&self, server: &Server, payload: &Value) -> (u16, String) {
        let body = form(payload);
        let headers = self.sdk.headers(SECRET, 0, &body);
        interact(server, &format!("tenant={TENANT}"), &body, &headers).await
    }
}

/// Approval `id` as `key` reads it, with its status and votes.
pub async fn state(server: &Server, key: &str, id: &str) -> (String, usize, u64) {
    let a = approval(server, key, id).await;
    (
        a["status"].as_str().unwrap().to_owned(),
        a["approvals"].as_array().map_or(0, Vec::len),
        a["version"].as_u64().unwrap_or_default(),
    )
}
