//! `holdpoint demo-agent`: an agent doing a nightly clean-up that reaches a step needing a
//! human. It asks, says it is waiting (the review link goes to the reviewer, never to the
//! agent), waits, then acts or stops on the decision. Written with the client crate only, as an
//! agent author would.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use holdpoint_client::{ApprovalRequest, Client, Gated, Outcome, Policy};
use holdpoint_core::text::visible;
use serde_json::json;

use crate::error::{CliError, exit};

fn say(line: &str) {
    println!("demo-agent: {line}");
    let _ = std::io::stdout().flush();
}

/// Runs the demo; exits 0 when the step ran, 1 when a human stopped it.
pub async fn run(client: &Client, reviewer: &str, timeout: Duration) -> Result<ExitCode, CliError> {
    let ran = ask_then_act(client, reviewer, timeout).await?;
    Ok(ExitCode::from(if ran { 0 } else { exit::REFUSED }))
}

/// `Ok(true)` when the step ran, `Ok(false)` when a human stopped it.
async fn ask_then_act(
    client: &Client,
    reviewer: &str,
    timeout: Duration,
) -> Result<bool, CliError> {
    let policy = Policy::Any(vec![
        Policy::RiskAtLeast(50),
        Policy::Tools(vec!["db.drop_table".into()]),
    ]);
    say("nightly clean-up of the staging database");

    // A step the policy lets through without asking.
    let list = ApprovalRequest::new("List stale tables", "demo-agent", [reviewer])
        .tool_call("db.list_tables", &json!({"older_than_days": 365}))
        .risk(5);
    let stale = match client
        .gate(&policy, &list, timeout, |_| async {
            vec!["orders_2019", "orders_2020"]
        })
        .await?
    {
        Gated::Unasked(tables) | Gated::Ran { value: tables, .. } => tables,
        Gated::Refused(o) => {
            say(&format!("listing was not allowed: {o}"));
            return Ok(false);
        }
    };
    say(&format!(
        "found {} stale tables: {} (low risk: ran without asking)",
        stale.len(),
        stale.join(", ")
    ));

    // The step that needs a human.
    let drop = ApprovalRequest::new(
        format!("Drop {} stale tables from staging", stale.len()),
        "demo-agent",
        [reviewer],
    )
    .context(&json!({"database": "staging", "tables": stale, "rows": 1_204_311}))
    .tool_call("db.drop_table", &json!({"tables": stale}))
    .reason("Not read for over a year; they slow the nightly backup down")
    .risk(85);
    if !policy.asks(&drop) {
        return Err(CliError::usage("the policy should ask for this step"));
    }
    let ticket = client.request_approval(&drop).await?;
    say(&format!(
        "dropping tables needs a human: asked {} (approval {})",
        visible(reviewer),
        ticket.id()
    ));
    say("waiting for the decision (review links go to reviewers, never to this agent)");
    let edited = match client.wait(ticket.id(), timeout).await? {
        Outcome::Approved { by, .. } => {
            say(&format!("approved by {}", visible(&by)));
            None
        }
        Outcome::Modified { by, output, .. } => {
            say(&format!(
                "approved with edits by {}: {}",
                visible(&by),
                visible(&output.canonical())
            ));
            Some(output)
        }
        Outcome::TimedOut => {
            client
                .cancel(ticket.id(), Some("the demo agent stopped waiting"))
                .await?;
            say("nobody decided in time: request withdrawn, nothing dropped");
            return Ok(false);
        }
        refused => {
            say(&format!(
                "{}: nothing dropped",
                visible(&refused.to_string())
            ));
            return Ok(false);
        }
    };
    let tables = edited
        .as_ref()
        .map(|e| visible(&e.canonical()))
        .unwrap_or_else(|| stale.join(", "));
    say(&format!("dropping {tables} … done"));
    let executed = client.execute(&ticket, edited.as_ref()).await?;
    say(&format!(
        "recorded as executed at {} (the context hash matched what was approved)",
        executed
            .executed_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    ));
    Ok(true)
}
