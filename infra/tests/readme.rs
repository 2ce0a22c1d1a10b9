//! The README's walkthrough, run as written against a fresh server (embedded and DynamoDB).

mod support;

use std::path::Path;
use std::process::Command;

use support::{Server, free_port, holdpoint, printed};

/// The first ```bash block after "## Walkthrough", pointed at `url`.
fn walkthrough(url: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("## Walkthrough")
        .nth(1)
        .expect("a Walkthrough section");
    let block = section
        .split("```bash\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a bash block");
    assert!(
        block.contains("URL=http://127.0.0.1:8004\n"),
        "the walkthrough names the default address"
    );
    block.replace("URL=http://127.0.0.1:8004\n", &format!("URL={url}\n"))
}

fn run(cwd: &Path, script: &str) -> String {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(cwd)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn check(output: &str) {
    assert!(output.contains("\"status\":\"approved\""), "{output}");
    assert!(output.contains("\"status\":\"executed\""), "{output}");
    assert!(output.contains("\"valid\":true"), "{output}");
}

#[tokio::test]
async fn the_walkthrough_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    check(&run(
        dir.path(),
        &walkthrough(&format!("http://{}", server.addr)),
    ));

    // Its events, written to events.jsonl in place of the bus: Requested names the reviewer and
    // carries no link; `holdpoint links` prints it, at the server's address.
    let events = std::fs::read_to_string(dir.path().join(".holdpoint/events.jsonl")).unwrap();
    assert!(
        !events.contains("/review/") && !events.contains("token="),
        "{events}"
    );
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<_> = events
        .iter()
        .map(|e| e["detail_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Approval Requested",
            "Approval Decided",
            "Approval Executed"
        ]
    );
    assert_eq!(
        events[0]["detail"]["reviewers"],
        serde_json::json!(["reviewer"])
    );
    let id = events[0]["detail"]["approval_id"].as_str().unwrap();
    let addr = server.addr.to_string();
    let out = holdpoint(dir.path(), &["links", id], &[("HOLDPOINT_ADDR", &addr)]);
    assert!(out.status.success(), "{}", printed(&out));
    let printed_links = String::from_utf8_lossy(&out.stdout).into_owned();
    let link = printed_links
        .lines()
        .find_map(|l| l.strip_prefix("reviewer "))
        .unwrap_or_else(|| panic!("no link for the reviewer: {printed_links}"));
    assert!(
        link.starts_with(&format!("http://{addr}/review/{id}?token=")),
        "{link}"
    );
}

#[tokio::test]
async fn the_walkthrough_works_on_dynamodb() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "run with infra/test.sh, which starts a local DynamoDB-protocol server"
    );
    let dir = tempfile::tempdir().unwrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let approvals = format!("readme-approvals-{suffix}");
    let audit = format!("readme-audit-{suffix}");
    let directory = format!("readme-directory-{suffix}");
    let deliveries = format!("readme-deliveries-{suffix}");
    let env = [
        ("HOLDPOINT_APPROVALS_TABLE", approvals.as_str()),
        ("HOLDPOINT_AUDIT_TABLE", audit.as_str()),
        ("HOLDPOINT_DIRECTORY_TABLE", directory.as_str()),
        ("HOLDPOINT_DELIVERIES_TABLE", deliveries.as_str()),
    ];
    let created = holdpoint(dir.path(), &["tables", "create"], &env);
    assert!(created.status.success(), "{}", printed(&created));
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        format!(
            "{approvals}: created\n{audit}: created\n{directory}: created\n{deliveries}: created\n"
        )
    );
    let server = Server::start_with(dir.path(), &env, free_port(), &["--store", "dynamodb"]).await;
    check(&run(
        dir.path(),
        &walkthrough(&format!("http://{}", server.addr)),
    ));
}

/// The first ```bash block after "## Policies", pointed at `url`.
fn policies_example(url: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("## Policies")
        .nth(1)
        .expect("a Policies section");
    let block = section
        .split("```bash\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a bash block");
    assert!(block.contains("URL=http://127.0.0.1:8004\n"));
    block.replace("URL=http://127.0.0.1:8004\n", &format!("URL={url}\n"))
}

#[tokio::test]
async fn the_policy_example_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    // As the README says: `holdpoint` on the PATH.
    let bin = Path::new(env!("CARGO_BIN_EXE_holdpoint")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let script = format!(
        "export PATH={path:?}\n{}",
        policies_example(&format!("http://{}", server.addr))
    );
    let out = run(dir.path(), &script);
    let answers: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(answers.len(), 3, "{out}");
    let (denied, allowed, asked) = (&answers[0], &answers[1], &answers[2]);

    // 3. Denied, naming the rule, and kept: rejected by the policy in the audit trail.
    assert_eq!(denied["status"], 403, "{denied}");
    assert!(
        denied["type"]
            .as_str()
            .unwrap()
            .ends_with("denied_by_policy"),
        "{denied}"
    );
    assert_eq!(denied["rule"], "production-deletes", "{denied}");
    // 4. Allowed at once, by the rule.
    assert_eq!(allowed["status"], "approved", "{allowed}");
    assert_eq!(
        allowed["decision"]["by"], "policy:read-only-tools",
        "{allowed}"
    );
    assert_eq!(
        allowed["governed_by"]["rules"],
        serde_json::json!(["read-only-tools"])
    );
    // 5. The rule's gate, not the agent's.
    assert_eq!(asked["status"], "pending", "{asked}");
    assert_eq!(
        asked["reviewers"],
        serde_json::json!(["role:finance"]),
        "{asked}"
    );
    assert_eq!(asked["quorum"], 2, "{asked}");
    assert_eq!(asked["execute_within_seconds"], 600, "{asked}");
    assert_eq!(
        asked["escalation"][0]["reviewers"],
        serde_json::json!(["role:cfo"])
    );
    assert_eq!(asked["governed_by"]["policy_version"], 1, "{asked}");
    // 6. The test names no rule and falls to the default.
    assert!(out.contains("policy version 1 set"), "{out}");
    assert!(out.to_lowercase().contains("default"), "{out}");
}
