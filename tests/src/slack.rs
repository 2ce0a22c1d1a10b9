//! A stand-in for Slack's Web API on loopback, for tests and local development
//! (`HOLDPOINT_SLACK_API_URL` = [`StandIn::url`]): it records every call (method, bearer token,
//! body) and answers as Slack does — HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error"}`,
//! 429 with `Retry-After` when rate limited — for the four methods Holdpoint calls. Failures are
//! scripted per method. Stopped when dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

pub mod clicks;
pub mod on_aws;
pub use clicks::Posted;

/// The team every accepted token belongs to (`auth.test`).
pub const TEAM_ID: &str = clicks::TEAM;
/// The app's bot user (`auth.test`).
pub const BOT_USER_ID: &str = "U0BOT";

/// One call as received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, …
    pub method: String,
    /// The bearer token (or a form body's `token` field), if any.
    pub token: Option<String>,
    /// The JSON body; a form body as an object of its fields (strings); a body that is not
    /// JSON as a string.
    pub body: Value,
}

/// An answer a call gets instead of the usual one.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `{"ok": false, "error": …}`.
    Error(&'static str),
    /// HTTP 500, no JSON.
    ServerError,
}

#[derive(Default)]
struct Recorded {
    calls: Vec<Call>,
    /// method → answers still to give instead of the usual one, in order
    scripts: HashMap<String, VecDeque<Scripted>>,
    /// Tokens taken; empty = any `xoxb-` token.
    tokens: HashSet<String>,
    /// Every message posted (`chat.update` of anything else fails as Slack's does).
    posted: Vec<Posted>,
    /// Messages posted so far (their `ts` counts up).
    count: u64,
}

type Shared = Arc<Mutex<Recorded>>;

/// Slack's Web API on 127.0.0.1, stopped on drop. It runs on a thread and runtime of its own,
/// so a test may block its own (running the CLI, say) while Holdpoint calls it.
pub struct StandIn {
    addr: SocketAddr,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let state = Shared::default();
        let app = Router::new()
            .route("/api/{method}", any(answer))
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        StandIn {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The API's base URL, `http://127.0.0.1:PORT/api/` (ends with '/', as Slack's).
    pub fn url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call so far, in order (refused and scripted ones too).
    pub fn calls(&self) -> Vec<Call> {
        self.recorded().calls.clone()
    }

    /// Every call to `method` so far, in order.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.recorded()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The next `times` calls to `method` get `answer` (after any answers scripted before).
    pub fn fail_next(&self, method: &str, times: usize, answer: Scripted) {
        self.recorded()
            .scripts
            .entry(method.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(answer, times));
    }

    /// Every message posted so far (answered `ok`), in order, with where Slack put it.
    pub fn posts(&self) -> Vec<Posted> {
        self.recorded().posted.clone()
    }

    /// The messages posted so far to `user` (a DM), in order.
    pub fn posts_to(&self, user: &str) -> Vec<Posted> {
        self.posts()
            .into_iter()
            .filter(|p| p.user == user)
            .collect()
    }

    /// Puts `message` in `user`'s DM as if posted (not recorded as a call): a message for a
    /// test to click in that Holdpoint did not send, or a copy of one it did.
    pub fn place(&self, user: &str, message: &Value) -> Posted {
        let mut recorded = self.recorded();
        recorded.count += 1;
        let mut body = message.clone();
        body["channel"] = json!(user);
        let posted = Posted {
            user: user.to_owned(),
            channel: format!("D{user}"),
            ts: format!("1700000000.{:06}", recorded.count),
            message: body,
        };
        recorded.posted.push(posted.clone());
        posted
    }

    /// The `chat.update` calls so far for the message at `posted`, in order.
    pub fn updates_of(&self, posted: &Posted) -> Vec<Call> {
        self.calls_to("chat.update")
            .into_iter()
            .filter(|c| {
                c.body["channel"] == posted.channel.as_str() && c.body["ts"] == posted.ts.as_str()
            })
            .collect()
    }

    /// Takes `token` (and, from now on, only the tokens so registered).
    pub fn accept_token(&self, token: &str) {
        self.recorded().tokens.insert(token.to_owned());
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Its runtime ends with the thread, and every connection with it.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn ok(mut fields: Value) -> Response {
    fields["ok"] = json!(true);
    axum::Json(fields).into_response()
}

fn error(code: &str) -> Response {
    axum::Json(json!({"ok": false, "error": code})).into_response()
}

async fn answer(
    State(state): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if form {
        Value::Object(form_fields(&body))
    } else if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| body.get("token").and_then(Value::as_str).map(str::to_owned));
    let mut recorded = state.lock().unwrap_or_else(|e| e.into_inner());
    recorded.calls.push(Call {
        method: method.clone(),
        token: token.clone(),
        body: body.clone(),
    });
    if let Some(scripted) = recorded
        .scripts
        .get_mut(&method)
        .and_then(VecDeque::pop_front)
    {
        return match scripted {
            Scripted::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response(),
            Scripted::Error(code) => error(code),
            Scripted::ServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        };
    }
    if !matches!(
        method.as_str(),
        "auth.test" | "chat.postMessage" | "chat.update" | "views.open"
    ) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"ok": false, "error": "unknown_method"})),
        )
            .into_response();
    }
    let Some(token) = token else {
        return error("not_authed");
    };
    let taken = if recorded.tokens.is_empty() {
        token.starts_with("xoxb-")
    } else {
        recorded.tokens.contains(&token)
    };
    if !taken {
        return error("invalid_auth");
    }
    let Value::Object(args) = &body else {
        return error(if body.is_string() {
            "invalid_json"
        } else {
            "invalid_arguments"
        });
    };
    let text = |name: &str| args.get(name).and_then(Value::as_str).map(str::to_owned);
    match method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://holdpoint-test.slack.com/",
            "team": "Holdpoint tests",
            "user": "holdpoint",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "B0BOT",
        })),
        "chat.postMessage" => {
            let Some(channel) = text("channel").filter(|c| !c.is_empty()) else {
                return error("channel_not_found");
            };
            if args.get("text").is_none() && args.get("blocks").is_none() {
                return error("no_text");
            }
            recorded.count += 1;
            let ts = format!("1700000000.{:06}", recorded.count);
            let channel = format!("D{channel}");
            recorded.posted.push(Posted {
                user: args["channel"].as_str().unwrap_or_default().to_owned(),
                channel: channel.clone(),
                ts: ts.clone(),
                message: body.clone(),
            });
            ok(json!({
                "channel": channel,
                "ts": ts,
                "message": {
                    "type": "message",
                    "bot_id": "B0BOT",
                    "user": BOT_USER_ID,
                    "ts": ts,
                    "text": args.get("text").cloned().unwrap_or(Value::Null),
                    "blocks": args.get("blocks").cloned().unwrap_or(json!([])),
                },
            }))
        }
        "chat.update" => {
            let (Some(channel), Some(ts)) = (text("channel"), text("ts")) else {
                return error("invalid_arguments");
            };
            if !recorded
                .posted
                .iter()
                .any(|p| p.channel == channel && p.ts == ts)
            {
                return error("message_not_found");
            }
            ok(json!({"channel": channel, "ts": ts, "text": args.get("text")}))
        }
        _ => {
            // views.open: Slack's trigger ids are short-lived; any non-empty one is taken here.
            if text("trigger_id").is_none_or(|t| t.is_empty()) || !args.contains_key("view") {
                return error("invalid_arguments");
            }
            recorded.count += 1;
            ok(json!({"view": {"id": format!("V{:08}", recorded.count)}}))
        }
    }
}

/// The fields of a form body (`a=1&b=x%20y`), decoded.
fn form_fields(body: &[u8]) -> Map<String, Value> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (name, Value::String(value))
        })
        .collect()
}

fn decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len()
                && text[i + 1].is_ascii_hexdigit()
                && text[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&text[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
