//! `holdpoint approvals …` against a running local server: tables and `--json`, and the exit
//! codes (0 done, 1 refused by the server, 2 usage, 3 cannot reach the server).

mod support;

use std::path::Path;
use std::process::Output;

use holdpoint_client::{ApprovalRequest, Client, Credentials};
use holdpoint_tests::fault_proxy::FaultProxy;
use serde_json::{Value, json};
use support::{ADMIN_KEY, AGENT_KEY, FINANCE_KEY, REVIEWER_KEY, Server, free_port, holdpoint};

/// `holdpoint ARGS…` as the principal of `key` (none: no key at all) against `url`.
fn as_key(url: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut env = vec![("HOLDPOINT_URL", url)];
    if let Some(k) = key {
        env.push(("HOLDPOINT_API_KEY", k));
    }
    holdpoint(Path::new("."), args, &env)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

// Multi-threaded: the proxy keeps serving while the test waits for a command to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_lists_shows_and_decides_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::for_team(dir.path(), &[]).await;
    let url = s.url();
    let agent = Client::new(&url, Credentials::api_key(AGENT_KEY)).unwrap();
    // What an agent writes is shown as data: an escape sequence that would clear the screen.
    let hostile = agent
        .request_approval(
            &ApprovalRequest::new("Pay invoice 77\u{1b}[2J", "billing-bot", ["role:finance"])
                .context(&json!({"amount_eur": 1200}))
                .risk(60),
        )
        .await
        .unwrap();
    let named = agent
        .request_approval(&ApprovalRequest::new(
            "Restart the API",
            "ops-bot",
            ["reviewer"],
        ))
        .await
        .unwrap();
    let (h, n) = (hostile.id().to_string(), named.id().to_string());

    // list: a table, newest first; --json for scripts; --mine by name or by role.
    let out = as_key(
        &url,
        Some(REVIEWER_KEY),
        &["approvals", "list", "--pending"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let table = text(&out);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.find(&n).unwrap() < table.find(&h).unwrap(),
        "newest first"
    );
    assert!(table.contains("Pay invoice 77\\u{1b}[2J"), "{table}");
    assert!(!table.contains('\u{1b}'), "no escape reaches the terminal");

    let mine = json_of(&as_key(
        &url,
        Some(FINANCE_KEY),
        &["approvals", "list", "--mine", "--json"],
    ));
    let ids: Vec<_> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [json!(h)], "fiona reviews through role:finance only");
    let mine = json_of(&as_key(
        &url,
        Some(REVIEWER_KEY),
        &["approvals", "list", "--mine", "--pending", "--json"],
    ));
    assert_eq!(mine["items"][0]["id"], json!(n));
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // show: the approval, its audit chain, and whether it verifies.
    let out = as_key(&url, Some(FINANCE_KEY), &["approvals", "show", &h]);
    let shown = text(&out);
    assert!(shown.contains("status      pending"), "{shown}");
    assert!(shown.contains("\"amount_eur\": 1200"), "{shown}");
    assert!(
        shown.contains("audit: 1 record, the chain verifies"),
        "{shown}"
    );
    let shown = json_of(&as_key(
        &url,
        Some(FINANCE_KEY),
        &["approvals", "show", &h, "--json"],
    ));
    assert_eq!(shown["approval"]["status"], "pending");
    assert_eq!(shown["audit"]["valid"], true);
    assert!(shown["approval"].get("seal").is_none());

    // approve with edits from a file; the status line, then --json.
    let edit = dir.path().join("edit.json");
    std::fs::write(&edit, r#"{"amount_eur": 1000}"#).unwrap();
    let out = as_key(
        &url,
        Some(FINANCE_KEY),
        &[
            "approvals",
            "approve",
            &h,
            "--comment",
            "capped",
            "--edit",
            edit.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert_eq!(text(&out).trim(), format!("{h} modified"));
    let approved = json_of(&as_key(
        &url,
        Some(REVIEWER_KEY),
        &["approvals", "approve", &n, "--json"],
    ));
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decision"]["by"], "reviewer");

    // Refused by the server: exit 1, one line with the problem's code.
    let out = as_key(
        &url,
        Some(AGENT_KEY),
        &["approvals", "reject", &n, "--comment", "no"],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = err(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with("holdpoint: self_approval (403): "),
        "{line}"
    );
    let out = as_key(&url, Some(REVIEWER_KEY), &["approvals", "sweep"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("not_admin (403)"), "{}", err(&out));
    let out = as_key(
        &url,
        Some(AGENT_KEY),
        &["approvals", "show", "00000000-0000-4000-8000-000000000000"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("not_found (404)"), "{}", err(&out));

    // cancel by the requester; sweep by an admin.
    let t = agent
        .request_approval(&ApprovalRequest::new(
            "Scale to zero",
            "ops-bot",
            ["reviewer"],
        ))
        .await
        .unwrap();
    let out = as_key(
        &url,
        Some(AGENT_KEY),
        &["approvals", "cancel", &t.id().to_string()],
    );
    assert_eq!(text(&out).trim(), format!("{} cancelled", t.id()));
    let out = as_key(&url, Some(ADMIN_KEY), &["approvals", "sweep"]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(
        text(&out).starts_with("expired 0, escalated 0"),
        "{}",
        text(&out)
    );
    let report = json_of(&as_key(
        &url,
        Some(ADMIN_KEY),
        &["approvals", "sweep", "--json"],
    ));
    assert_eq!(report["unfinished"], false);

    // Usage: exit 2 (a missing argument, no credentials, a bad id).
    for (key, args) in [
        (Some(REVIEWER_KEY), vec!["approvals", "reject", &n]),
        (None, vec!["approvals", "list"]),
        (Some(REVIEWER_KEY), vec!["approvals", "show", "not-an-id"]),
        (
            Some(REVIEWER_KEY),
            vec!["approvals", "list", "--limit", "0"],
        ),
    ] {
        let out = as_key(&url, key, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", err(&out));
    }

    // --aws: SigV4 from the AWS credentials chain (here its environment variables), on the wire.
    // The local server knows bearer keys only, so it refuses (exit 1); the proxy saw the request.
    let proxy = FaultProxy::start(&url).await;
    let day = || chrono::Utc::now().format("%Y%m%d").to_string();
    let day_before = day();
    let none = dir.path().join("none");
    let none = none.to_str().unwrap();
    let out = holdpoint(
        Path::new("."),
        &["approvals", "list", "--aws", "--url", &proxy.url],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "session-token"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_CONFIG_FILE", none),
            ("AWS_SHARED_CREDENTIALS_FILE", none),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(
        err(&out).contains("invalid_credential (401)"),
        "{}",
        err(&out)
    );
    let seen = proxy
        .headers()
        .pop()
        .expect("the request reached the proxy");
    let auth = seen["authorization"].to_str().unwrap();
    let signed_on = |d: &str| {
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{d}/eu-west-1/execute-api/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
        ))
    };
    assert!(signed_on(&day_before) || signed_on(&day()), "{auth}");
    assert_eq!(auth.rsplit('=').next().unwrap().len(), 64, "{auth}");
    assert_eq!(seen["x-amz-security-token"], "session-token");
    assert!(seen.get("x-amz-date").is_some());

    // Cannot reach the server: exit 3.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let out = as_key(&nobody, Some(REVIEWER_KEY), &["approvals", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", err(&out));
    assert!(
        err(&out).contains("cannot reach Holdpoint"),
        "{}",
        err(&out)
    );
}
