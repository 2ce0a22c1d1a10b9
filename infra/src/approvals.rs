//! `holdpoint approvals …`: a reviewer's and an operator's terminal, on the client crate. Human
//! tables by default, `--json` for scripts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use holdpoint_client::{Client, Decision, ListQuery};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::ROLE_PREFIX;
use holdpoint_core::json::document::Document;
use holdpoint_core::json::members::{self, Members};
use holdpoint_core::text::visible;
use serde::Serialize;
use uuid::Uuid;

use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// List approvals, newest first.
    List {
        /// Only those waiting for a decision.
        #[arg(long)]
        pending: bool,
        /// Only those you review (by name, or by a role you hold).
        #[arg(long)]
        mine: bool,
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One approval, its audit chain, and whether the chain verifies.
    Show { id: Uuid },
    /// Approve; with --edit, approve with edits (the file's JSON is what the agent does instead).
    Approve {
        id: Uuid,
        #[arg(long)]
        comment: Option<String>,
        /// A file holding the edited output, as JSON.
        #[arg(long)]
        edit: Option<PathBuf>,
    },
    /// Reject, saying why.
    Reject {
        id: Uuid,
        #[arg(long)]
        comment: String,
    },
    /// Withdraw a pending request (its requester only).
    Cancel {
        id: Uuid,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move a pending request's deadline later (its reviewers and admins; never past the
    /// latest expiry its policy allows).
    Extend {
        id: Uuid,
        /// How much later: a number with s, m, h or d (30m, 2h, 1d); a bare number is seconds.
        #[arg(long = "by", value_parser = parse_duration)]
        by: u32,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Run the expiry, lapse and escalation sweep once and print its report (the role admin
    /// only).
    Sweep,
}

/// `30m` as seconds: a whole number with an optional unit s, m, h or d.
pub fn parse_duration(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{text:?} is not a positive duration such as 30m, 2h or 1d"))
}

pub async fn run(
    client: &Client,
    command: ApprovalsCommand,
    json: bool,
) -> Result<ExitCode, CliError> {
    match command {
        ApprovalsCommand::List {
            pending,
            mine,
            agent,
            limit,
        } => {
            let items = list(client, pending, mine, agent, limit).await?;
            if json {
                #[derive(Serialize)]
                struct Listed {
                    items: Vec<Members>,
                }
                print_json(&Listed {
                    items: items.iter().map(shown).collect(),
                });
            } else {
                print_table(&items);
            }
        }
        ApprovalsCommand::Show { id } => {
            let approval = client.get(id).await?;
            let audit = client.audit(id).await?;
            if json {
                // Members in name order, as they always were.
                #[derive(Serialize)]
                struct Shown {
                    approval: Members,
                    audit: Audit,
                }
                #[derive(Serialize)]
                struct Audit {
                    first_invalid_sequence: Option<u64>,
                    reason: Option<String>,
                    records: Vec<Members>,
                    valid: bool,
                }
                print_json(&Shown {
                    approval: shown(&approval),
                    audit: Audit {
                        first_invalid_sequence: audit.first_invalid_sequence,
                        reason: audit.reason,
                        records: audit
                            .records
                            .iter()
                            .map(|r: &AuditRecord| members::of(r, &[]))
                            .collect(),
                        valid: audit.valid,
                    },
                });
            } else {
                print_approval(&approval);
                println!();
                let verdict = if audit.valid {
                    "the chain verifies".to_owned()
                } else {
                    format!(
                        "THE CHAIN DOES NOT VERIFY from record {}: {}",
                        audit.first_invalid_sequence.unwrap_or(0),
                        visible(audit.reason.as_deref().unwrap_or("?"))
                    )
                };
                let n = audit.records.len();
                let records = if n == 1 { "record" } else { "records" };
                println!("audit: {n} {records}, {verdict}");
                for r in &audit.records {
                    println!(
                        "  {:>3}  {:<18} {:<20} {}",
                        r.sequence,
                        r.event.as_str(),
                        visible(&r.actor),
                        holdpoint_core::time::format(&r.at)
                    );
                }
            }
        }
        ApprovalsCommand::Approve { id, comment, edit } => {
            let (verdict, modified_output) = match edit {
                None => (Verdict::Approved, None),
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| CliError::usage(format!("{}: {e}", file.display())))?;
                    let doc = Document::from_text(text.trim())
                        .ok_or_else(|| CliError::usage(format!("{}: not JSON", file.display())))?;
                    (Verdict::Modified, Some(doc))
                }
            };
            let decision = Decision {
                verdict,
                comment,
                modified_output,
            };
            done(&client.decide(id, decision).await?, json);
        }
        ApprovalsCommand::Reject { id, comment } => {
            let decision = Decision {
                verdict: Verdict::Rejected,
                comment: Some(comment),
                modified_output: None,
            };
            done(&client.decide(id, decision).await?, json);
        }
        ApprovalsCommand::Cancel { id, reason } => {
            done(&client.cancel(id, reason.as_deref()).await?, json);
        }
        ApprovalsCommand::Extend { id, by, reason } => {
            let a = client.extend(id, by, reason.as_deref()).await?;
            if json {
                print_json(&shown(&a));
            } else {
                println!(
                    "{} {} until {}",
                    a.id,
                    a.status.as_str(),
                    a.expires_at.to_rfc3339()
                );
            }
        }
        ApprovalsCommand::Sweep => {
            let r = client.sweep().await?;
            if json {
                print_json(&r);
            } else {
                println!(
                    "expired {}, escalated {}, lapsed {}, reminded {}, republished {}, skipped {}, failed {}{}",
                    r.expired,
                    r.escalated,
                    r.lapsed,
                    r.reminded,
                    r.republished,
                    r.skipped,
                    r.failed,
                    if r.unfinished {
                        " (unfinished: run it again)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The approvals asked for; with `mine`, those naming the caller or one of its roles (one query
/// per entry, merged newest first).
async fn list(
    client: &Client,
    pending: bool,
    mine: bool,
    agent: Option<String>,
    limit: u32,
) -> Result<Vec<Approval>, CliError> {
    if !(1..=100).contains(&limit) {
        return Err(CliError::usage("--limit must be between 1 and 100"));
    }
    let base = ListQuery {
        status: pending.then(|| Status::Pending.as_str().to_owned()),
        agent_id: agent,
        limit: Some(limit),
        ..ListQuery::default()
    };
    if !mine {
        return Ok(client.list(&base).await?.items);
    }
    let me = client.me().await?;
    let entries = std::iter::once(me.principal.clone())
        .chain(me.roles.iter().map(|r| format!("{ROLE_PREFIX}{r}")));
    let mut found = BTreeMap::new();
    for reviewer in entries {
        let query = ListQuery {
            reviewer: Some(reviewer),
            ..base.clone()
        };
        for a in client.list(&query).await?.items {
            found.insert((a.created_at, a.id), a);
        }
    }
    Ok(found.into_values().rev().take(limit as usize).collect())
}

/// An approval as the API shows it (the client's copy carries an empty seal), its documents'
/// numbers as the agent wrote them.
fn shown(a: &Approval) -> Members {
    members::of(a, &["seal"])
}

fn print_json(value: &impl Serialize) {
    println!("{}", members::pretty(value));
}

/// At most `n` characters of `s`, on one line.
fn clip(s: &str, n: usize) -> String {
    let s = visible(s);
    if s.chars().count() <= n {
        s
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

fn print_table(items: &[Approval]) {
    if items.is_empty() {
        println!("no approvals");
        return;
    }
    println!(
        "{:<36}  {:<9}  {:>4}  {:<16}  {:<20}  ACTION",
        "ID", "STATUS", "RISK", "AGENT", "EXPIRES"
    );
    for a in items {
        println!(
            "{:<36}  {:<9}  {:>4}  {:<16}  {:<20}  {}",
            a.id,
            a.status.as_str(),
            a.risk_score.map(|r| r.to_string()).unwrap_or("-".into()),
            clip(&a.agent_id, 16),
            a.expires_at.format("%Y-%m-%d %H:%M:%SZ"),
            clip(&a.action, 60)
        );
    }
}

fn print_approval(a: &Approval) {
    let row = |k: &str, v: String| println!("{k:<12}{v}");
    row("id", a.id.to_string());
    row("status", a.status.as_str().to_owned());
    row("action", visible(&a.action));
    row(
        "agent",
        format!(
            "{} (asked by {})",
            visible(&a.agent_id),
            visible(&a.requested_by)
        ),
    );
    row(
        "reviewers",
        format!("{} (quorum {})", visible(&a.reviewers.join(", ")), a.quorum),
    );
    if let Some(g) = &a.governed_by {
        let rules = match g.rules.is_empty() {
            true => "none matched (the default)".to_owned(),
            false => visible(&g.rules.join(", ")),
        };
        row(
            "policy",
            format!("version {}, rules {rules}", g.policy_version),
        );
    }
    if let Some(r) = a.risk_score {
        row("risk", r.to_string());
    }
    if let Some(reason) = &a.reason {
        row("reason", visible(reason));
    }
    if let Some(t) = &a.tool_call {
        row(
            "tool call",
            format!("{} {}", visible(&t.name), visible(&t.arguments.canonical())),
        );
    }
    row("created", a.created_at.to_rfc3339());
    row("expires", a.expires_at.to_rfc3339());
    row("context", String::new());
    for line in a.context.pretty().lines() {
        println!("  {}", visible(line));
    }
    if let Some(d) = &a.decision {
        let said = d
            .comment
            .as_ref()
            .map(|c| format!(": {}", visible(c)))
            .unwrap_or_default();
        // A rule that settled the request at creation: no reviewer was asked.
        let policy = match d.by.starts_with("policy:") {
            true => " (the tenant's policy; no reviewer asked)",
            false => "",
        };
        row(
            "decision",
            format!(
                "{} by {}{policy} at {}{said}",
                d.decision.as_str(),
                visible(&d.by),
                d.at.to_rfc3339()
            ),
        );
        if let Some(out) = &d.modified_output {
            row("edited to", visible(&out.canonical()));
        }
    }
    if let Some(by) = &a.cancelled_by {
        row("cancelled", format!("by {}", visible(by)));
    }
    if let Some(at) = a.executed_at {
        row("executed", at.to_rfc3339());
    } else if let Some(by) = a.execute_by() {
        row("execute by", by.to_rfc3339());
    }
}

/// What a change came to: the status line, or the approval as JSON.
fn done(a: &Approval, json: bool) {
    if json {
        print_json(&shown(a));
    } else {
        println!("{} {}", a.id, a.status.as_str());
    }
}
