//! `holdpoint principals … --slack` and `holdpoint slack connect|disconnect|status` against the
//! Slack stand-in: a principal's Slack user is checked and changed alone, a tenant connects
//! only with a token Slack takes, and no secret is ever printed.

mod support;

use std::path::Path;
use std::sync::Arc;

use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::directory::{Directory, Lookup, key_hash};
use holdpoint::slack::connection::SlackConnections;
use holdpoint::slack::connection::embedded::EmbeddedSlack;
use holdpoint_tests::slack::{Scripted, StandIn};
use support::{holdpoint, printed};

const TOKEN: &str = "xoxb-1111-2222-topsecrettoken";
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn data(dir: &Path) -> std::path::PathBuf {
    dir.join(".holdpoint")
}

fn directory(dir: &Path) -> Arc<dyn Directory> {
    Arc::new(EmbeddedDirectory::open(&data(dir)).unwrap())
}

/// The API key `principals add` printed.
fn api_key(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("api key:")).unwrap();
    line.split_whitespace().last().unwrap().to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

// Multi-threaded: the stand-in answers while a test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_user_is_added_changed_and_cleared_keeping_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let added = holdpoint(
        dir.path(),
        &[
            "principals",
            "add",
            "acme/alice",
            "--role",
            "sre",
            "--slack",
            "U0ALICE1",
        ],
        &[],
    );
    assert!(added.status.success(), "{}", printed(&added));
    let key = api_key(&added);
    let d = directory(dir.path());
    let before = d.get("acme", "alice").await.unwrap().unwrap();
    assert_eq!(before.slack.as_deref(), Some("U0ALICE1"));
    assert_eq!(
        d.find_slack("acme", "U0ALICE1").await.unwrap(),
        Some(before.clone())
    );

    let listed = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    assert!(
        printed(&listed).contains(r#""slack":"U0ALICE1""#),
        "{}",
        printed(&listed)
    );

    let update = |args: &[&str]| {
        let mut all = vec!["principals", "update"];
        all.extend_from_slice(args);
        holdpoint(dir.path(), &all, &[])
    };
    let out = update(&["alice", "--tenant", "acme", "--slack", "W0ALICE2"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(printed(&out).contains("Slack user W0ALICE2"));
    let after = d.get("acme", "alice").await.unwrap().unwrap();
    assert_eq!(after.slack.as_deref(), Some("W0ALICE2"));
    assert_eq!(after.instance, before.instance, "the same principal");
    assert_eq!(
        (&after.roles, &after.key_hash),
        (&before.roles, &before.key_hash)
    );
    assert_eq!(
        d.find(&Lookup::Key(key_hash(&key))).await.unwrap(),
        Some(after.clone()),
        "its API key still works"
    );
    assert_eq!(d.find_slack("acme", "U0ALICE1").await.unwrap(), None);

    let out = update(&["acme/alice", "--slack", "none"]);
    assert!(out.status.success(), "{}", printed(&out));
    let cleared = d.get("acme", "alice").await.unwrap().unwrap();
    assert_eq!((cleared.slack, cleared.instance), (None, before.instance));
    assert_eq!(d.find_slack("acme", "W0ALICE2").await.unwrap(), None);
    assert!(
        d.find(&Lookup::Key(key_hash(&key)))
            .await
            .unwrap()
            .is_some()
    );

    // One principal per Slack user within a tenant, told plainly.
    assert!(
        update(&["acme/alice", "--slack", "U0SHARED"])
            .status
            .success()
    );
    let bob = holdpoint(
        dir.path(),
        &["principals", "add", "acme/bob", "--slack", "U0SHARED"],
        &[],
    );
    assert_eq!(bob.status.code(), Some(2), "{}", printed(&bob));
    assert!(
        printed(&bob).contains("Slack user U0SHARED is already acme/alice's"),
        "{}",
        printed(&bob)
    );
    assert_eq!(d.get("acme", "bob").await.unwrap(), None);

    // Nothing to change, nobody to change, an unnamed tenant.
    for (args, said) in [
        (vec!["acme/alice"], "nothing to change"),
        (
            vec!["acme/nobody", "--slack", "U0X1"],
            "acme/nobody is not in the directory",
        ),
        (
            vec!["alice", "--slack", "U0X1"],
            "TENANT/NAME, or NAME with --tenant",
        ),
    ] {
        let out = update(&args);
        assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
        assert!(printed(&out).contains(said), "{args:?}: {}", printed(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_ids_that_are_not_slack_users_are_refused_on_add_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let added = holdpoint(dir.path(), &["principals", "add", "acme/alice"], &[]);
    assert!(added.status.success(), "{}", printed(&added));
    for bad in [
        "u0123abcd",
        "U0123 ABCD",
        "<!channel>",
        "<@U0123ABCD>",
        "C0123ABCD",
        "U",
        "",
    ] {
        let add = holdpoint(
            dir.path(),
            &["principals", "add", "acme/bob", "--slack", bad],
            &[],
        );
        let update = holdpoint(
            dir.path(),
            &["principals", "update", "acme/alice", "--slack", bad],
            &[],
        );
        for out in [add, update] {
            assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", printed(&out));
            assert!(
                printed(&out).contains("--slack: ")
                    && printed(&out).contains("is not a Slack user id"),
                "{bad:?}: {}",
                printed(&out)
            );
        }
    }
    let d = directory(dir.path());
    assert_eq!(d.get("acme", "bob").await.unwrap(), None);
    assert_eq!(d.get("acme", "alice").await.unwrap().unwrap().slack, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_learns_the_team_and_no_command_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let slack = StandIn::start().await;
    slack.accept_token(TOKEN);
    let env = [("HOLDPOINT_SLACK_API_URL", slack.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Files as editors write them: a trailing line break (or CRLF) is no part of the secret.
    let token = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let signing = write(dir.path(), "signing", &format!("{SIGNING}\r\n"));
    let run = |args: &[&str]| holdpoint(dir.path(), args, &env);

    let mut seen = Vec::new();
    let out = run(&[
        "slack",
        "connect",
        "acme",
        "--bot-token-file",
        &token,
        "--signing-secret-file",
        &signing,
    ]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "connected acme to Slack team T0TEAM"
    );
    seen.push(out);
    let checked = slack.calls_to("auth.test");
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].token.as_deref(), Some(TOKEN));

    let apps = EmbeddedSlack::open(&data(dir.path())).unwrap();
    let app = apps.get("acme").await.unwrap().unwrap();
    assert_eq!(
        (app.team_id.as_deref(), app.bot_token.expose()),
        (Some("T0TEAM"), TOKEN)
    );
    let body = b"token=x&payload=%7B%7D";
    let expected = holdpoint::slack::signature::SigningSecret::new(SIGNING).unwrap();
    assert_eq!(
        app.signing_secret.sign(1, body),
        expected.sign(1, body),
        "kept without its CRLF"
    );

    let out = run(&["slack", "status"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "acme  team: T0TEAM"
    );
    seen.push(out);
    let json = run(&["slack", "status", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        shown,
        serde_json::json!([{"tenant": "acme", "team_id": "T0TEAM"}])
    );

    let out = run(&["slack", "disconnect", "acme"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(apps.get("acme").await.unwrap().map(|a| a.tenant), None);
    let again = run(&["slack", "disconnect", "acme"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(printed(&again).contains("acme is not connected to Slack"));
    assert!(
        String::from_utf8_lossy(&run(&["slack", "status"]).stdout)
            .contains("no tenant is connected")
    );

    seen.extend([out, again, json]);
    for out in &seen {
        let said = printed(out);
        assert!(
            !said.contains("topsecret") && !said.contains(SIGNING),
            "{said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_slack_refuses_stores_nothing_and_says_slacks_error() {
    let dir = tempfile::tempdir().unwrap();
    let slack = StandIn::start().await;
    slack.accept_token("xoxb-the-only-one");
    let url = slack.url();
    let env = [("HOLDPOINT_SLACK_API_URL", url.as_str())];
    let token = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let signing = write(dir.path(), "signing", SIGNING);
    let connect = || {
        holdpoint(
            dir.path(),
            &[
                "slack",
                "connect",
                "acme",
                "--bot-token-file",
                &token,
                "--signing-secret-file",
                &signing,
            ],
            &env,
        )
    };
    let out = connect();
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let said = printed(&out);
    assert!(
        said.contains("Slack refused the bot token: invalid_auth"),
        "{said}"
    );
    assert!(
        said.contains("nothing was stored") && !said.contains("topsecret"),
        "{said}"
    );

    slack.accept_token(TOKEN);
    slack.fail_next("auth.test", 1, Scripted::Error("account_inactive"));
    let out = connect();
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert!(
        printed(&out).contains("account_inactive"),
        "{}",
        printed(&out)
    );
    slack.fail_next("auth.test", 1, Scripted::ServerError);
    let out = connect();
    assert_eq!(out.status.code(), Some(3), "{}", printed(&out));

    let apps = EmbeddedSlack::open(&data(dir.path())).unwrap();
    assert!(apps.list().await.unwrap().is_empty(), "nothing was stored");
    assert!(
        connect().status.success(),
        "the same files, once Slack takes the token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_and_tenants_that_are_not_so_are_refused_before_slack_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let slack = StandIn::start().await;
    let url = slack.url();
    let env = [("HOLDPOINT_SLACK_API_URL", url.as_str())];
    let token = write(dir.path(), "token", TOKEN);
    let signing = write(dir.path(), "signing", SIGNING);
    let empty = write(dir.path(), "empty", "");
    let blank = write(dir.path(), "blank", " \n");
    let two_lines = write(dir.path(), "two", &format!("{TOKEN}\nsecond line\n"));
    let huge = write(dir.path(), "huge", &format!("xoxb-{}", "a".repeat(1 << 20)));
    let not_token = write(dir.path(), "nottoken", "Bearer xoxb-1\n");
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.to_str().unwrap();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    for (tenant, t, s, said) in [
        ("acme", empty.as_str(), signing.as_str(), "empty"),
        ("acme", token.as_str(), blank.as_str(), "empty"),
        (
            "acme",
            two_lines.as_str(),
            signing.as_str(),
            "more than one line",
        ),
        (
            "acme",
            huge.as_str(),
            signing.as_str(),
            "larger than 4096 bytes",
        ),
        ("acme", folder, signing.as_str(), "not a file"),
        ("acme", token.as_str(), folder, "not a file"),
        ("acme", missing, signing.as_str(), "--bot-token-file"),
        (
            "acme",
            not_token.as_str(),
            signing.as_str(),
            "not a Slack bot token",
        ),
        ("a/b", token.as_str(), signing.as_str(), "tenant \"a/b\""),
        (
            "ac me",
            token.as_str(),
            signing.as_str(),
            "tenant \"ac me\"",
        ),
    ] {
        let out = holdpoint(
            dir.path(),
            &[
                "slack",
                "connect",
                tenant,
                "--bot-token-file",
                t,
                "--signing-secret-file",
                s,
            ],
            &env,
        );
        assert_eq!(out.status.code(), Some(2), "{said}: {}", printed(&out));
        assert!(printed(&out).contains(said), "{said}: {}", printed(&out));
        assert!(!printed(&out).contains("topsecret"), "{}", printed(&out));
    }
    assert!(
        slack.calls().is_empty(),
        "Slack is asked about nothing refused"
    );
    let out = holdpoint(dir.path(), &["slack", "disconnect", "a/b"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    // A Slack API that is not https (nor loopback http) is refused as a setting.
    let out = holdpoint(
        dir.path(),
        &[
            "slack",
            "connect",
            "acme",
            "--bot-token-file",
            &token,
            "--signing-secret-file",
            &signing,
        ],
        &[("HOLDPOINT_SLACK_API_URL", "http://slack.example/api/")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(
        printed(&out).contains("HOLDPOINT_SLACK_API_URL"),
        "{}",
        printed(&out)
    );
}

#[tokio::test]
async fn the_backend_has_slack_locally_and_on_aws_only_with_a_secret_named() {
    use holdpoint::backend::{Access, Backend};
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let settings = |secret: Option<&str>| {
        holdpoint::config::Settings::from_lookup(|name| match name {
            "HOLDPOINT_DATA_DIR" => Some(data.to_str().unwrap().to_owned()),
            "HOLDPOINT_SLACK_SECRET_ID" => secret.map(str::to_owned),
            _ => None,
        })
        .unwrap()
    };
    let off = Backend::new(&settings(None), Access::Function);
    assert!(off.slack().await.unwrap().is_none(), "no secret named: off");
    let on = Backend::new(&settings(Some("holdpoint-slack")), Access::Function);
    assert!(on.slack().await.unwrap().is_some());

    EmbeddedSlack::open(&data)
        .unwrap()
        .put("acme", Some("T0TEAM"), TOKEN, SIGNING)
        .await
        .unwrap();
    let local = Backend::new(&settings(None), Access::Serve);
    let slack = local.slack().await.unwrap().expect("always, locally");
    let app = slack.connections.get("acme").await.unwrap().unwrap();
    assert_eq!(app.team_id.as_deref(), Some("T0TEAM"));
    assert!(slack.connections.get("beta").await.unwrap().is_none());
}
