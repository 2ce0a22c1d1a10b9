//! `holdpoint policy …`: the tenant's approval policy on a running Holdpoint, for its admins —
//! read it, set a new version from a file, trace its versions, and ask what it would rule on a
//! request without creating anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use holdpoint_client::{ApprovalRequest, Client, PolicyVersion, Ruling};
use holdpoint_core::text::visible;
use serde_json::json;

use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// The policy in force, with its version and who set it.
    Get,
    /// Set FILE (YAML or JSON) as the new version; refused whole, naming the rule at fault,
    /// when it does not hold (the version in force stays).
    Set {
        file: PathBuf,
        /// Only if this version is the one in force (what `get` showed): another admin's edit
        /// in between is refused rather than overwritten.
        #[arg(long)]
        after: Option<u64>,
    },
    /// Which rules decide the request in REQUEST.json (a create request) and what would
    /// happen; creates nothing.
    Test {
        request: PathBuf,
        /// As sent by this principal of the tenant (rules may match on who asks); by default
        /// you.
        #[arg(long = "as")]
        sender: Option<String>,
    },
    /// The kept versions, newest first, with who set each and when.
    History,
}

pub async fn run(
    client: &Client,
    command: PolicyCommand,
    json: bool,
) -> Result<ExitCode, CliError> {
    match command {
        PolicyCommand::Get => {
            let policy = client.policy().await?;
            if json {
                print_json(&version_json(&policy));
            } else {
                println!("{}", heading(&policy));
                print!("{}", visible_lines(&policy.text));
            }
        }
        PolicyCommand::Set { file, after } => {
            let text = read(&file)?;
            let policy = client.set_policy(&text, after).await?;
            if json {
                print_json(&version_json(&policy));
            } else {
                println!("policy version {} set", policy.version);
            }
        }
        PolicyCommand::Test { request, sender } => {
            let text = read(&request)?;
            let request: ApprovalRequest = serde_json::from_str(&text).map_err(|e| {
                CliError::usage(format!("{}: not a create request: {e}", request.display()))
            })?;
            let ruling = client.test_policy(&request, sender.as_deref()).await?;
            if json {
                let shown = json!({
                    "outcome": ruling.outcome,
                    "rule": ruling.rule,
                    "reason": ruling.reason,
                    "governance": ruling.governance(),
                    "gate": ruling.gate,
                });
                print_json(&shown);
            } else {
                print_ruling(&ruling);
            }
        }
        PolicyCommand::History => {
            let versions = client.policy_history().await?;
            if json {
                let items: Vec<_> = versions.iter().map(version_json).collect();
                print_json(&json!({ "items": items }));
            } else if versions.is_empty() {
                println!("no policy was ever set");
            } else {
                for v in &versions {
                    println!("{}", heading(v));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read(file: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("{}: {e}", file.display())))
}

fn heading(v: &PolicyVersion) -> String {
    format!(
        "version {}  set by {}  at {}",
        v.version,
        visible(&v.set_by),
        visible(&v.set_at)
    )
}

/// The document, each line made safe for a terminal.
fn visible_lines(text: &str) -> String {
    text.lines().map(|l| format!("{}\n", visible(l))).collect()
}

fn version_json(v: &PolicyVersion) -> serde_json::Value {
    json!({"version": v.version, "text": v.text, "set_by": v.set_by, "set_at": v.set_at})
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn print_ruling(r: &Ruling) {
    let rule = visible(r.rule.as_deref().unwrap_or("?"));
    match r.outcome.as_str() {
        "deny" => {
            let reason = r.reason.as_deref().map(visible).unwrap_or_default();
            println!("deny, by rule {rule}: {reason}");
        }
        "allow" => println!("allow, by rule {rule}: approved at once, no reviewer asked"),
        _ => {
            println!("ask");
            let gate = r.gate.clone().unwrap_or_default();
            let reviewers: Vec<String> = gate["reviewers"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).map(visible).collect())
                .unwrap_or_default();
            if reviewers.is_empty() {
                println!("  reviewers    those the agent names");
            } else {
                println!("  reviewers    {}", reviewers.join(", "));
            }
            println!("  least quorum {}", gate["min_quorum"]);
            for (label, key) in [
                ("lifetime ≤", "max_expires_in"),
                ("window ≤", "max_execute_within"),
            ] {
                if let Some(s) = gate[key].as_u64() {
                    println!("  {label:<12} {s} s");
                }
            }
        }
    }
    match r.governance() {
        Some(g) if g.rules.is_empty() => {
            println!(
                "policy version {}: no rule matched (the default)",
                g.policy_version
            )
        }
        Some(g) => println!(
            "policy version {}: rules {}",
            g.policy_version,
            visible(&g.rules.join(", "))
        ),
        None => println!("no policy is set: the agent's own reviewers are asked"),
    }
}
