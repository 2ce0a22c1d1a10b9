//! The Slack stand-in answers as Slack's Web API does, records every call, fails as scripted
//! and stops when dropped.

use holdpoint_tests::slack::{BOT_USER_ID, Scripted, StandIn, TEAM_ID};
use serde_json::{Value, json};

async fn call(
    http: &reqwest::Client,
    s: &StandIn,
    method: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let mut r = http.post(format!("{}{method}", s.url())).json(body);
    if let Some(token) = token {
        r = r.bearer_auth(token);
    }
    let r = r.send().await.expect("the stand-in answers");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.json().await.unwrap_or(Value::Null);
    (status, retry, body)
}

#[tokio::test]
async fn answers_as_slack_and_records_every_call() {
    let s = StandIn::start().await;
    assert!(s.url().starts_with("http://127.0.0.1:") && s.url().ends_with("/api/"));
    let http = reqwest::Client::new();
    let token = Some("xoxb-1-abc");

    let (status, _, auth) = call(&http, &s, "auth.test", token, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(auth["ok"], true);
    assert_eq!(auth["team_id"], TEAM_ID);
    assert_eq!(auth["user_id"], BOT_USER_ID);

    let post = json!({"channel": "U0ALICE", "text": "a <b>", "blocks": [{"type": "section"}]});
    let (_, _, first) = call(&http, &s, "chat.postMessage", token, &post).await;
    let (_, _, second) = call(&http, &s, "chat.postMessage", token, &post).await;
    assert_eq!(first["ok"], true);
    assert_eq!(first["channel"], "DU0ALICE");
    assert_eq!(first["message"]["blocks"], post["blocks"]);
    let (a, b) = (
        first["ts"].as_str().unwrap(),
        second["ts"].as_str().unwrap(),
    );
    assert!(a < b, "ts count up: {a} then {b}");

    let update = json!({"channel": "DU0ALICE", "ts": a, "text": "approved by bob"});
    let (_, _, updated) = call(&http, &s, "chat.update", token, &update).await;
    assert_eq!(updated["ok"], true);
    assert_eq!(updated["ts"], a);
    // Only messages it posted can be updated.
    let elsewhere = json!({"channel": "DU0BOB", "ts": a, "text": "x"});
    let (_, _, missing) = call(&http, &s, "chat.update", token, &elsewhere).await;
    assert_eq!(missing, json!({"ok": false, "error": "message_not_found"}));

    let view = json!({"trigger_id": "1.2.abc", "view": {"type": "modal"}});
    let (_, _, opened) = call(&http, &s, "views.open", token, &view).await;
    assert_eq!(opened["ok"], true);
    assert!(opened["view"]["id"].is_string());
    let (_, _, no_trigger) = call(&http, &s, "views.open", token, &json!({"view": {}})).await;
    assert_eq!(no_trigger["error"], "invalid_arguments");

    let (_, _, not_object) = call(&http, &s, "chat.postMessage", token, &json!([1])).await;
    assert_eq!(not_object["error"], "invalid_arguments");
    let (_, _, no_channel) =
        call(&http, &s, "chat.postMessage", token, &json!({"text": "x"})).await;
    assert_eq!(no_channel["error"], "channel_not_found");
    let (status, _, unknown) = call(&http, &s, "chat.delete", token, &json!({})).await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (404, Some("unknown_method"))
    );

    let posts = s.posts();
    assert_eq!(posts.len(), 2, "only posts answered ok");
    assert_eq!(
        (
            posts[0].user.as_str(),
            posts[0].channel.as_str(),
            posts[0].ts.as_str()
        ),
        ("U0ALICE", "DU0ALICE", a)
    );
    assert_eq!(posts[1].message["blocks"], post["blocks"]);
    assert_eq!(s.posts_to("U0ALICE").len(), 2);
    assert_eq!(s.updates_of(&posts[0]).len(), 1);
    assert!(s.updates_of(&posts[1]).is_empty());

    let calls = s.calls();
    assert_eq!(calls.len(), 10);
    assert_eq!(calls[0].method, "auth.test");
    assert_eq!(calls[1].token.as_deref(), Some("xoxb-1-abc"));
    assert_eq!(calls[1].body, post);
    let posts = s.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 4);
    assert!(posts.iter().all(|c| c.method == "chat.postMessage"));
    assert_eq!(s.calls_to("chat.update")[0].body, update);
}

#[tokio::test]
async fn tokens_are_checked() {
    let s = StandIn::start().await;
    let http = reqwest::Client::new();
    let body = json!({});
    // None registered: any bot token, nothing else.
    assert_eq!(
        call(&http, &s, "auth.test", Some("xoxb-any"), &body)
            .await
            .2["ok"],
        true
    );
    let (_, _, user) = call(&http, &s, "auth.test", Some("xoxp-user"), &body).await;
    assert_eq!(user["error"], "invalid_auth");
    let (_, _, none) = call(&http, &s, "auth.test", None, &body).await;
    assert_eq!(none["error"], "not_authed");
    assert_eq!(s.calls()[2].token, None);

    s.accept_token("xoxb-right");
    let (_, _, wrong) = call(&http, &s, "auth.test", Some("xoxb-any"), &body).await;
    assert_eq!(wrong["error"], "invalid_auth");
    let (_, _, right) = call(&http, &s, "auth.test", Some("xoxb-right"), &body).await;
    assert_eq!(right["ok"], true);
}

#[tokio::test]
async fn failures_are_scripted_per_method_and_then_it_answers_again() {
    let s = StandIn::start().await;
    let http = reqwest::Client::new();
    let post = json!({"channel": "U0ALICE", "text": "hi"});
    let token = Some("xoxb-1");
    s.fail_next(
        "chat.postMessage",
        2,
        Scripted::RateLimited {
            retry_after_secs: 1,
        },
    );
    s.fail_next("chat.postMessage", 1, Scripted::Error("channel_not_found"));
    s.fail_next("chat.update", 1, Scripted::ServerError);

    // Other methods are untouched.
    assert_eq!(
        call(&http, &s, "auth.test", token, &json!({})).await.2["ok"],
        true
    );
    for _ in 0..2 {
        let (status, retry, body) = call(&http, &s, "chat.postMessage", token, &post).await;
        assert_eq!((status, retry.as_deref()), (429, Some("1")));
        assert_eq!(body["error"], "ratelimited");
    }
    let (status, _, body) = call(&http, &s, "chat.postMessage", token, &post).await;
    assert_eq!(
        (status, body),
        (200, json!({"ok": false, "error": "channel_not_found"}))
    );
    let (status, _, body) = call(&http, &s, "chat.postMessage", token, &post).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
    let (status, _, _) = call(&http, &s, "chat.update", token, &json!({})).await;
    assert_eq!(status, 500);
    // Every call recorded, the scripted ones too.
    assert_eq!(s.calls_to("chat.postMessage").len(), 4);
    assert_eq!(s.calls().len(), 6);
}

#[tokio::test]
async fn form_bodies_are_recorded_by_field() {
    let s = StandIn::start().await;
    let r = reqwest::Client::new()
        .post(format!("{}chat.postMessage", s.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=xoxb-form&channel=U0ALICE&text=a+%3Cb%3E%20%26+ren%C3%A9e")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true);
    let call = &s.calls()[0];
    assert_eq!(call.token.as_deref(), Some("xoxb-form"));
    assert_eq!(call.body["text"], "a <b> & renée");
    assert_eq!(call.body["channel"], "U0ALICE");
}

#[tokio::test]
async fn stops_when_dropped() {
    let s = StandIn::start().await;
    let url = format!("{}auth.test", s.url());
    drop(s);
    let http = reqwest::Client::new();
    holdpoint_tests::receivers::eventually(
        std::time::Duration::from_secs(5),
        async || http.post(&url).send().await.is_err(),
        |refused| *refused,
    )
    .await;
}

#[tokio::test]
async fn answers_while_the_tests_own_runtime_is_blocked() {
    use std::io::{Read, Write};
    let s = StandIn::start().await;
    // As when a test runs the CLI (std::process) and the CLI calls Slack: this runtime's only
    // thread waits on blocking I/O, and the stand-in must answer anyway.
    let addr = s
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/api/")
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let body = r#"{"channel":"U0ALICE","text":"hi"}"#;
    write!(
        stream,
        "POST /api/chat.postMessage HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer xoxb-1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""ok":true"#), "{answer}");
}
