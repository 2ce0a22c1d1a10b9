//! What Slack sends to an app's interactivity URL, built from what the stand-in recorded: a
//! button click (`block_actions`) and a modal's submission (`view_submission`), form-encoded as
//! `payload={json}`, and signed by Slack's own SDK (`slack_sdk.signature`, Python), so the
//! signature Holdpoint checks is not one it computed itself.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// A Python that has `slack_sdk`: `$HOLDPOINT_TEST_PYTHON` (infra/test.sh sets it), else
/// `python3`. `None` (the test skips) only when neither is set up and not under CI; when the
/// variable is set or under CI a Python that cannot sign fails the test.
pub struct SlackSdk(String);

impl SlackSdk {
    pub fn find() -> Option<SlackSdk> {
        let set = std::env::var("HOLDPOINT_TEST_PYTHON").ok();
        let bin = set.clone().unwrap_or_else(|| "python3".to_owned());
        let ready = Command::new(&bin)
            .args(["-c", "import slack_sdk.signature"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ready {
            assert!(
                set.is_none() && std::env::var("CI").as_deref() != Ok("true"),
                "{bin} cannot import slack_sdk: run infra/test.sh, which installs it"
            );
            eprintln!("python3 with slack_sdk missing: the Slack click test is skipped");
            return None;
        }
        Some(SlackSdk(bin))
    }

    /// `X-Slack-Signature` for `body` at `timestamp`, as
    /// `SignatureVerifier(secret).generate_signature(timestamp=…, body=…)` computes it.
    pub fn sign(&self, secret: &str, timestamp: i64, body: &str) -> String {
        const SCRIPT: &str = "import sys\nfrom slack_sdk.signature import SignatureVerifier\n\
            body = sys.stdin.buffer.read().decode('utf-8')\n\
            print(SignatureVerifier(sys.argv[1]).generate_signature(timestamp=sys.argv[2], body=body))";
        let mut child = Command::new(&self.0)
            .args(["-c", SCRIPT, secret, &timestamp.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.0));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("the body written");
        let out = child.wait_with_output().expect("slack_sdk ran");
        assert!(
            out.status.success(),
            "slack_sdk failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let signature = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            signature.starts_with("v0=") && signature.len() == 67,
            "{signature}"
        );
        signature
    }

    /// The two headers Slack adds, for `body` signed now (less `age_secs`).
    pub fn headers(&self, secret: &str, age_secs: i64, body: &str) -> Vec<(String, String)> {
        let at = now() - age_secs;
        vec![
            ("x-slack-request-timestamp".into(), at.to_string()),
            ("x-slack-signature".into(), self.sign(secret, at, body)),
        ]
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// A message the stand-in posted, as a click needs it.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The user it was posted to (`chat.postMessage`'s `channel`).
    pub user: String,
    /// Where Slack put it: the DM `channel` and its `ts`.
    pub channel: String,
    pub ts: String,
    /// What was posted: `text` and `blocks`.
    pub message: Value,
}

impl Posted {
    /// The actions block's `block_id` and its button `action_id`.
    pub fn button(&self, action_id: &str) -> (String, Value) {
        let blocks = self.message["blocks"].as_array().expect("blocks");
        blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .find_map(|b| {
                let e = b["elements"]
                    .as_array()?
                    .iter()
                    .find(|e| e["action_id"] == action_id)?;
                Some((b["block_id"].as_str()?.to_owned(), e.clone()))
            })
            .unwrap_or_else(|| panic!("no {action_id} button in {}", self.message))
    }
}

/// A click on `action_id` in `message` by `user` (of `team`), as Slack posts it.
pub fn block_actions(user: &str, team: &str, message: &Posted, action_id: &str) -> Value {
    let (block_id, button) = message.button(action_id);
    click_on(user, team, message, &block_id, &button)
}

/// A click on `button` in the actions block `block_id` of `message`: lets a test put a value
/// where Holdpoint did not.
pub fn click_on(user: &str, team: &str, message: &Posted, block_id: &str, button: &Value) -> Value {
    let mut action = button.clone();
    action["block_id"] = json!(block_id);
    action["action_ts"] = json!("1700000100.000200");
    if let Some(text) = action.get_mut("text") {
        text["emoji"] = json!(true);
    }
    let mut shown = message.message.clone();
    if let Some(m) = shown.as_object_mut() {
        m.remove("channel");
        m.insert("type".into(), json!("message"));
        m.insert("ts".into(), json!(message.ts));
        m.insert("bot_id".into(), json!("B0BOT"));
    }
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": team},
        "api_app_id": "A0HOLDPOINT",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
        "trigger_id": format!("{}.{}.{}", 1700000100, 4242, uuid::Uuid::new_v4().simple()),
        "team": {"id": team, "domain": "holdpoint-test"},
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": {"id": message.channel, "name": "directmessage"},
        "message": shown,
        "state": {"values": {}},
        "response_url": format!("https://hooks.slack.com/actions/{team}/1/abc"),
        "actions": [action],
    })
}

/// The modal `view` (as `views.open` sent it) submitted by `user` with `comment` (`None`: the
/// input left empty, which Slack sends as a `null` value).
pub fn view_submission(user: &str, team: &str, view: &Value, comment: Option<&str>) -> Value {
    let mut view = view.clone();
    view["id"] = json!("V0MODAL");
    view["team_id"] = json!(team);
    view["app_id"] = json!("A0HOLDPOINT");
    view["bot_id"] = json!("B0BOT");
    view["hash"] = json!("1700000100.abc");
    view["state"] =
        json!({"values": {"comment": {"comment": {"type": "plain_text_input", "value": comment}}}});
    json!({
        "type": "view_submission",
        "team": {"id": team, "domain": "holdpoint-test"},
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": team},
        "api_app_id": "A0HOLDPOINT",
        "token": "legacy-verification-token",
        "trigger_id": "1700000200.4242.def",
        "view": view,
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null,
    })
}

/// The body Slack posts: `payload=` and the JSON, form-encoded (space as `+`).
pub fn form(payload: &Value) -> String {
    let json = payload.to_string();
    let mut out = String::from("payload=");
    for b in json.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The team of the stand-in's workspace (its `auth.test`), for clicks from it.
pub const TEAM: &str = "T0TEAM";
