//! The directory of principals through `holdpoint principals`: a removed principal's keys and
//! links stop working, a rotated key replaces the old, an agent principal never decides, and the
//! same commands on DynamoDB.

mod support;

use std::time::Duration;

use holdpoint_tests::receivers::{Mailbox, Webhooks, eventually};
use serde_json::{Value, json};
use support::team::{add, approval, decide_by_link, link_in, serve, team};
use support::{Server, create, free_port, fresh_tables, holdpoint, printed};

#[tokio::test]
async fn a_removed_principal_can_no_longer_call_or_decide_and_a_rotated_key_replaces_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, mail) = (Webhooks::start().await, Mailbox::start().await);
    let t = team(dir.path(), &hooks);
    let server = serve(dir.path(), &mail, true).await;
    let id = create(
        &server,
        &t.agent.key,
        json!({"action": "Drop table", "agent_id": "db", "reviewers": ["bob", "alice", "zed"]}),
    )
    .await;
    // Only principals of the directory are asked (and get links, by their own messages): zed
    // is not one, and could not use one. The event names them and carries no link.
    let events = std::fs::read_to_string(dir.path().join(".holdpoint/events.jsonl")).unwrap();
    assert!(!events.contains("token="), "{events}");
    let requested: Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(requested["detail"]["reviewers"], json!(["bob", "alice"]));
    let mails = eventually(
        Duration::from_secs(20),
        async || mail.messages(),
        |m| m.len() >= 2,
    )
    .await;
    let bob_link = link_in(
        mails
            .iter()
            .find(|m| m["to"][0] == "bob@example.com")
            .unwrap(),
    );
    let (status, _) = server
        .call("GET", "/v1/me", Some(&t.bob.key), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&bob_link).send().await.unwrap().status(), 200);

    let out = holdpoint(dir.path(), &["principals", "remove", "local/bob"], &[]);
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(1_200)).await; // HOLDPOINT_AUTH_CACHE_SECONDS=1
    let (status, _) = server
        .call("GET", "/v1/me", Some(&t.bob.key), None)
        .await
        .unwrap();
    assert_eq!(status, 401, "bob's key no longer works");
    assert_eq!(
        http.get(&bob_link).send().await.unwrap().status(),
        403,
        "nor does his link"
    );
    assert_eq!(
        decide_by_link(&server, &bob_link, &id, "decision=approved").await,
        403
    );
    let a = approval(&server, &t.agent.key, &id).await;
    assert_eq!(a["status"], "pending", "bob's link decided nothing");
    // Attacker try: someone new added as bob does not get the removed bob's link back.
    add(dir.path(), &["local/bob", "--email", "bob@example.com"]);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(http.get(&bob_link).send().await.unwrap().status(), 403);
    assert_eq!(
        decide_by_link(&server, &bob_link, &id, "decision=approved").await,
        403
    );
    let out = holdpoint(dir.path(), &["principals", "remove", "local/bob"], &[]);
    assert!(out.status.success());

    let out = holdpoint(
        dir.path(),
        &["principals", "rotate-key", "local/agent"],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let new_key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (old, _) = server
        .call("GET", "/v1/me", Some(&t.agent.key), None)
        .await
        .unwrap();
    let (new, me) = server
        .call("GET", "/v1/me", Some(&new_key), None)
        .await
        .unwrap();
    assert_eq!((old, new), (401, 200));
    assert_eq!(me["principal"], "agent");
    let list = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        !listed.contains("bob") && !listed.contains("whsec_") && !listed.contains(&new_key),
        "{listed}"
    );
    let _ = (t.alice, t.carol);
}

#[tokio::test]
async fn principals_are_managed_on_dynamodb_alike() {
    holdpoint_tests::endpoint(); // a local DynamoDB-protocol server, or the test refuses
    let dir = tempfile::tempdir().unwrap();
    let tables = fresh_tables("cli");
    let env: Vec<(&str, &str)> = tables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        holdpoint(dir.path(), &["tables", "create"], &env)
            .status
            .success()
    );
    let run = |args: &[&str]| {
        let mut all = vec!["principals"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--store", "dynamodb"]);
        holdpoint(dir.path(), &all, &env)
    };
    let added = run(&[
        "add",
        "acme/alice",
        "--role",
        "finance",
        "--iam-arn",
        "arn:aws:iam::123456789012:user/alice",
    ]);
    let out = String::from_utf8_lossy(&added.stdout);
    assert!(added.status.success(), "{out}");
    assert!(
        !out.contains("api key:"),
        "an IAM principal gets no API key: {out}"
    );
    assert!(out.contains("webhook secret: whsec_"));
    assert!(
        run(&[
            "add",
            "acme/ops",
            "--iam-arn",
            "arn:aws:iam::123456789012:user/alice"
        ])
        .status
        .code()
            == Some(2),
        "an ARN belongs to one principal"
    );
    let listed = run(&["list", "--tenant", "acme", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["iam_arns"],
        json!(["arn:aws:iam::123456789012:user/alice"])
    );
    let twin = run(&["add", "acme/ALICE"]);
    assert_eq!(twin.status.code(), Some(2), "{}", printed(&twin));
    assert!(printed(&twin).contains("already has acme/alice"));
    assert!(run(&["rotate-key", "acme/alice"]).status.success());
    assert!(run(&["remove", "acme/alice"]).status.success());
    assert!(
        !run(&["remove", "acme/alice"]).status.success(),
        "gone already"
    );
    assert!(nothing_listed(&run(&["list", "--json"])));
}

#[tokio::test]
async fn names_alike_ignoring_case_and_the_names_of_the_system_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), &["acme/alice"]);
    let twin = holdpoint(dir.path(), &["principals", "add", "acme/Alice"], &[]);
    assert_eq!(twin.status.code(), Some(2), "{}", printed(&twin));
    let said = printed(&twin);
    assert!(
        said.contains("acme/Alice: the directory already has acme/alice"),
        "{said}"
    );
    let again = holdpoint(dir.path(), &["principals", "add", "acme/alice"], &[]);
    assert!(printed(&again).contains("acme/alice is already in the directory"));
    for reserved in ["holdpoint", "HoldPoint", "system"] {
        let who = format!("acme/{reserved}");
        let out = holdpoint(dir.path(), &["principals", "add", &who], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
        assert!(
            printed(&out).contains("keeps for itself"),
            "{}",
            printed(&out)
        );
    }
    // The audit trail's policy actors cannot be named either: ':' is no name's.
    let policy = holdpoint(dir.path(), &["principals", "add", "acme/policy:x"], &[]);
    assert_eq!(policy.status.code(), Some(2), "{}", printed(&policy));
    add(dir.path(), &["globex/Alice"]);
    let listed = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<_> = listed.iter().map(|p| (&p["tenant"], &p["name"])).collect();
    assert_eq!(
        names,
        [
            (&json!("acme"), &json!("alice")),
            (&json!("globex"), &json!("Alice"))
        ]
    );
}

fn nothing_listed(out: &std::process::Output) -> bool {
    serde_json::from_slice::<Vec<Value>>(&out.stdout).is_ok_and(|l| l.is_empty())
}

/// `holdpoint approvals ARGS…` against `server` as `key`.
fn approvals(server: &Server, key: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["approvals"];
    all.extend_from_slice(args);
    let url = server.url();
    let env = [("HOLDPOINT_URL", url.as_str()), ("HOLDPOINT_API_KEY", key)];
    holdpoint(std::path::Path::new("."), &all, &env)
}

#[tokio::test]
async fn an_agent_added_with_kind_agent_cannot_decide_from_the_cli_even_holding_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let requester = add(dir.path(), &["local/ops-agent", "--kind", "agent"]);
    let bot = add(
        dir.path(),
        &["local/bot", "--kind", "agent", "--role", "finance"],
    );
    let alice = add(dir.path(), &["local/alice", "--role", "finance"]);
    let robot = holdpoint(
        dir.path(),
        &["principals", "add", "local/x", "--kind", "robot"],
        &[],
    );
    assert_eq!(robot.status.code(), Some(2), "{}", printed(&robot));
    let listed = holdpoint(dir.path(), &["principals", "list"], &[]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("local/bot  kind: agent  roles: finance"),
        "{text}"
    );
    assert!(text.contains("local/alice  kind: human"), "{text}");
    let listed = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let kinds: Vec<_> = listed.iter().map(|p| (&p["name"], &p["kind"])).collect();
    assert_eq!(
        kinds,
        [
            (&json!("alice"), &json!("human")),
            (&json!("bot"), &json!("agent")),
            (&json!("ops-agent"), &json!("agent")),
        ]
    );

    let server = Server::start(dir.path(), &[], free_port()).await;
    let id = create(
        &server,
        &requester.key,
        json!({"action": "Pay invoice 42", "agent_id": "ap", "reviewers": ["role:finance"]}),
    )
    .await;
    let edit = dir.path().join("edit.json");
    std::fs::write(&edit, r#"{"amount_eur": 1}"#).unwrap();
    for args in [
        vec!["approve", &id],
        vec!["reject", &id, "--comment", "no"],
        vec!["approve", &id, "--edit", edit.to_str().unwrap()],
    ] {
        let out = approvals(&server, &bot.key, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", printed(&out));
        let line = String::from_utf8_lossy(&out.stderr);
        assert!(
            line.starts_with("holdpoint: agents_cannot_decide (403): "),
            "{line}"
        );
    }
    let (status, audit) = server
        .call(
            "GET",
            &format!("/v1/approvals/{id}/audit"),
            Some(&alice.key),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        audit["records"].as_array().unwrap().len(),
        1,
        "nothing recorded"
    );
    assert_eq!(
        approval(&server, &alice.key, &id).await["status"],
        "pending"
    );

    let out = approvals(&server, &alice.key, &["approve", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    assert_eq!(
        approval(&server, &alice.key, &id).await["status"],
        "approved"
    );
}

#[tokio::test]
async fn the_development_agent_of_a_first_run_is_an_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let keys = std::fs::read_to_string(dir.path().join(".holdpoint/dev-keys.json")).unwrap();
    let keys: serde_json::Map<String, Value> = serde_json::from_str(&keys).unwrap();
    let key_of = |who: &str| {
        keys.iter()
            .find(|(_, p)| p["principal"] == who)
            .map(|(k, _)| k.clone())
            .unwrap()
    };
    let (_, me) = server
        .call("GET", "/v1/me", Some(&key_of("agent")), None)
        .await
        .unwrap();
    assert_eq!(me["kind"], "agent", "{me}");
    let (_, me) = server
        .call("GET", "/v1/me", Some(&key_of("reviewer")), None)
        .await
        .unwrap();
    assert_eq!(me["principal"], "reviewer");
    assert!(
        me.get("kind").is_none(),
        "a human's kind is the default: {me}"
    );
    let listed = holdpoint(dir.path(), &["principals", "list", "--json"], &[]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let kinds: Vec<_> = listed.iter().map(|p| (&p["name"], &p["kind"])).collect();
    assert_eq!(
        kinds,
        [
            (&json!("agent"), &json!("agent")),
            (&json!("reviewer"), &json!("human")),
        ]
    );
}

/// `principals update` replaces roles, or takes them all away, and keeps the principal (its
/// instance: its links live on); nothing asked to change, or a role that is no name, changes
/// nothing.
#[tokio::test]
async fn update_replaces_roles_and_keeps_the_principal() {
    use holdpoint::directory::Directory;
    let dir = tempfile::tempdir().unwrap();
    add(dir.path(), &["acme/alice", "--role", "finance"]);
    let d = holdpoint::directory::embedded::EmbeddedDirectory::open(&dir.path().join(".holdpoint"))
        .unwrap();
    let before = d.get("acme", "alice").await.unwrap().unwrap();
    let update = |args: &[&str]| {
        let mut all = vec!["principals", "update"];
        all.extend_from_slice(args);
        holdpoint(dir.path(), &all, &[])
    };
    let out = update(&["acme/alice", "--role", "ops", "--role", "sre"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("roles [ops,sre]"),
        "{}",
        printed(&out)
    );
    let after = d.get("acme", "alice").await.unwrap().unwrap();
    assert_eq!(
        (&after.roles[..], after.instance),
        (&["ops".to_owned(), "sre".to_owned()][..], before.instance)
    );
    for refused in [
        &["acme/alice"][..],
        &["acme/alice", "--role", "a b"],
        &["acme/nobody", "--no-roles"],
    ] {
        let out = update(refused);
        assert!(!out.status.success(), "{refused:?}: {}", printed(&out));
        assert_eq!(
            d.get("acme", "alice").await.unwrap().unwrap().roles,
            ["ops", "sre"]
        );
    }
    assert!(
        update(&["alice", "--tenant", "acme", "--no-roles"])
            .status
            .success()
    );
    let bare = d.get("acme", "alice").await.unwrap().unwrap();
    assert_eq!((bare.roles.len(), bare.instance), (0, before.instance));
}
