//! `holdpoint approvals extend ID --by 30m`: a reviewer moves a pending deadline later from the
//! terminal; the requester cannot; durations are a number with s, m, h or d.

mod support;

use std::path::Path;
use std::process::Output;

use holdpoint_client::{ApprovalRequest, Client, Credentials};
use serde_json::Value;
use support::{ADMIN_KEY, AGENT_KEY, REVIEWER_KEY, Server, holdpoint};

fn as_key(url: &str, key: &str, args: &[&str]) -> Output {
    holdpoint(
        Path::new("."),
        args,
        &[("HOLDPOINT_URL", url), ("HOLDPOINT_API_KEY", key)],
    )
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn at(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_extends_a_pending_deadline_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::for_team(dir.path(), &[]).await;
    let url = s.url();
    let agent = Client::new(&url, Credentials::api_key(AGENT_KEY)).unwrap();
    let t = agent
        .request_approval(&ApprovalRequest::new(
            "Restart the API",
            "ops-bot",
            ["reviewer"],
        ))
        .await
        .unwrap();
    let id = t.id().to_string();
    let before = at(&serde_json::to_value(agent.get(t.id()).await.unwrap().expires_at).unwrap());

    let extended = json_of(&as_key(
        &url,
        REVIEWER_KEY,
        &[
            "approvals",
            "extend",
            &id,
            "--by",
            "30m",
            "--reason",
            "owner at lunch",
            "--json",
        ],
    ));
    assert_eq!(extended["status"], "pending");
    assert_eq!((at(&extended["expires_at"]) - before).num_seconds(), 1800);
    // An admin may too; the status line names the new deadline.
    let out = as_key(&url, ADMIN_KEY, &["approvals", "extend", &id, "--by", "1h"]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(line.starts_with(&format!("{id} pending until ")), "{line}");
    let audit = agent.audit(t.id()).await.unwrap();
    let extensions: Vec<_> = audit
        .records
        .iter()
        .filter(|r| r.event.as_str() == "extended")
        .map(|r| r.actor.as_str())
        .collect();
    assert_eq!(extensions, ["reviewer", "root"]);

    // Refused by the server: the requester, and past the latest expiry (30 days).
    let out = as_key(
        &url,
        AGENT_KEY,
        &["approvals", "extend", &id, "--by", "10m"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("not_a_reviewer (403)"), "{}", err(&out));
    let out = as_key(
        &url,
        REVIEWER_KEY,
        &["approvals", "extend", &id, "--by", "30d"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("invalid_field (422)"), "{}", err(&out));

    // Usage: a duration that is not one, or none at all (exit 2), before anything is sent.
    for by in ["30x", "0m", "m", "-5m", "99999999d"] {
        let out = as_key(
            &url,
            REVIEWER_KEY,
            &["approvals", "extend", &id, "--by", by],
        );
        assert_eq!(out.status.code(), Some(2), "{by}: {}", err(&out));
    }
    let out = as_key(&url, REVIEWER_KEY, &["approvals", "extend", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert_eq!(agent.audit(t.id()).await.unwrap().records.len(), 3);
}
