//! The README's three-terminal demo, run as written: a server, the demo agent waiting in the
//! background, and the reviewer's terminal deciding. Approved, the agent acts (exit 0); rejected,
//! it stops (exit 1).

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::{Server, free_port};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The bash blocks of the "Three-terminal demo" section: server, agent, reviewer.
fn blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("## Three-terminal demo")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Three-terminal demo section");
    let blocks: Vec<String> = section
        .split("```bash\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .map(|b| b.replace("target/debug/holdpoint", env!("CARGO_BIN_EXE_holdpoint")))
        .collect();
    assert_eq!(blocks.len(), 3, "server, agent, reviewer");
    assert!(blocks[0].contains("-- serve"));
    blocks
}

fn bash(cwd: &Path, url: &str, script: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env("HOLDPOINT_URL", url)
        .env_remove("HOLDPOINT_API_KEY")
        .kill_on_drop(true);
    c
}

/// Runs the demo with the reviewer's last line replaced by `decide`; the agent's output and
/// exit code, and the reviewer's output.
async fn demo(decide: Option<&str>) -> (String, Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], free_port()).await;
    let url = format!("http://{}", server.addr);
    let blocks = blocks();
    let mut agent = bash(dir.path(), &url, &blocks[1])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(agent.stdout.take().unwrap()).lines();
    let mut said = String::new();
    let waiting = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            said.push_str(&line);
            said.push('\n');
            if line.contains("waiting for the decision") {
                return;
            }
        }
        panic!("the agent ended before waiting:\n{said}");
    })
    .await;
    assert!(
        waiting.is_ok(),
        "the agent never said it was waiting:\n{said}"
    );
    assert!(!said.contains("/review/"), "the agent never sees a link");

    let reviewer_script = match decide {
        None => blocks[2].clone(),
        Some(line) => {
            let mut kept: Vec<&str> = blocks[2].lines().collect();
            kept.pop();
            format!("{}\n{line}\n", kept.join("\n"))
        }
    };
    let reviewer = bash(dir.path(), &url, &reviewer_script)
        .output()
        .await
        .unwrap();
    let reviewed = String::from_utf8_lossy(&reviewer.stdout).into_owned();
    assert!(
        reviewer.status.success(),
        "the reviewer's block failed:\n{reviewed}\n{}",
        String::from_utf8_lossy(&reviewer.stderr)
    );

    let status = tokio::time::timeout(Duration::from_secs(30), agent.wait())
        .await
        .expect("the agent ends once decided")
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        said.push_str(&line);
        said.push('\n');
    }
    let mut errors = String::new();
    agent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .await
        .unwrap();
    assert!(errors.is_empty(), "{errors}");
    (said, status.code(), reviewed)
}

#[tokio::test]
async fn the_three_terminal_demo_works_as_written() {
    let (agent, code, reviewer) = demo(None).await;
    assert!(
        reviewer.contains("Drop 2 stale tables from staging"),
        "{reviewer}"
    );
    assert!(reviewer.contains("the chain verifies"), "{reviewer}");
    assert!(reviewer.contains(" approved\n"), "{reviewer}");
    assert!(agent.contains("ran without asking"), "{agent}");
    assert!(agent.contains("approved by reviewer"), "{agent}");
    assert!(agent.contains("recorded as executed"), "{agent}");
    assert_eq!(code, Some(0), "{agent}");
}

#[tokio::test]
async fn a_rejection_stops_the_demo_agent() {
    let (agent, code, reviewer) = demo(Some(
        r#"target/debug/holdpoint approvals reject "$ID" --comment "Keep them for the audit""#
            .replace("target/debug/holdpoint", env!("CARGO_BIN_EXE_holdpoint"))
            .as_str(),
    ))
    .await;
    assert!(reviewer.contains(" rejected\n"), "{reviewer}");
    assert!(
        agent.contains("rejected by reviewer: Keep them for the audit: nothing dropped"),
        "{agent}"
    );
    assert!(!agent.contains("dropping orders"), "{agent}");
    assert_eq!(code, Some(1), "{agent}");
}

#[tokio::test]
async fn an_approval_with_edits_makes_the_demo_agent_drop_only_what_was_edited() {
    // The README's `approvals approve "$ID" --edit FILE`: FILE's JSON is what the agent runs.
    let edit = r#"echo '{"tables": ["orders_2019"]}' > edit.json
target/debug/holdpoint approvals approve "$ID" --edit edit.json"#
        .replace("target/debug/holdpoint", env!("CARGO_BIN_EXE_holdpoint"));
    let (agent, code, reviewer) = demo(Some(&edit)).await;
    assert!(reviewer.contains(" modified\n"), "{reviewer}");
    assert!(
        agent.contains(r#"approved with edits by reviewer: {"tables":["orders_2019"]}"#),
        "{agent}"
    );
    assert!(
        agent.contains(r#"dropping {"tables":["orders_2019"]} … done"#),
        "{agent}"
    );
    assert!(agent.contains("recorded as executed"), "{agent}");
    assert_eq!(code, Some(0), "{agent}");
}
