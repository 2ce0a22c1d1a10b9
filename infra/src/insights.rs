//! `holdpoint insights`: how a tenant's approvals went over a window — from the local store with
//! `--tenant` (an operator, like `holdpoint deliveries`), else from a running Holdpoint as an
//! admin (`GET /v1/insights`).

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use holdpoint::config::Settings;
use holdpoint_client::Client;
use holdpoint_core::text::visible;
use serde_json::Value;

use crate::error::CliError;
use crate::open::{Access, open};

/// The window asked for (RFC 3339 instants; the last 7 days by default), and how to print it.
pub struct Query {
    pub since: Option<String>,
    pub until: Option<String>,
    pub json: bool,
}

fn instant(flag: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, CliError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| holdpoint_core::time::truncate_millis(t.with_timezone(&Utc)))
                .map_err(|_| {
                    CliError::usage(format!(
                        "{flag} must be an RFC 3339 instant, e.g. 2026-11-30T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// From the store where `settings` put it, for `tenant`.
pub async fn local(settings: &Settings, tenant: &str, q: Query) -> Result<ExitCode, CliError> {
    let since = instant("--since", q.since.as_deref())?;
    let until = instant("--until", q.until.as_deref())?;
    let opened = open(settings, Access::Inspect).await?;
    let (since, until) = opened.service.insights_window(since, until)?;
    let insights = opened.service.insights_of(tenant, since, until).await?;
    let shown = serde_json::to_value(&insights).map_err(|e| CliError::usage(e.to_string()))?;
    print(&shown, q.json);
    Ok(ExitCode::SUCCESS)
}

/// From the Holdpoint `client` calls, as its admin.
pub async fn remote(client: &Client, q: Query) -> Result<ExitCode, CliError> {
    let shown = client
        .insights(q.since.as_deref(), q.until.as_deref())
        .await?;
    print(&shown, q.json);
    Ok(ExitCode::SUCCESS)
}

/// Names agents wrote, made safe for a terminal.
fn text(v: &Value) -> String {
    visible(v.as_str().unwrap_or_default())
}

fn counts(title: &str, v: &Value) {
    println!("{title}:");
    let rows = v.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.is_empty() {
        println!("  none");
    }
    for c in rows {
        println!("  {:>8}  {}", c["count"], text(&c["name"]));
    }
}

fn ms(v: &Value) -> String {
    v.as_i64()
        .map_or_else(|| "-".into(), |ms| format!("{ms} ms"))
}

fn print(i: &Value, json: bool) {
    if json {
        println!("{i}");
        return;
    }
    println!(
        "tenant {}: approvals created from {} to {}: {} counted{}",
        text(&i["tenant"]),
        text(&i["since"]),
        text(&i["until"]),
        i["counted"],
        if i["truncated"] == true {
            " (truncated: only the newest; choose a shorter window)"
        } else {
            ""
        }
    );
    let t = &i["time_to_decision"];
    println!(
        "time to decision ({} decided by reviewers): p50 {}, p90 {}, max {}",
        t["decided"],
        ms(&t["p50_ms"]),
        ms(&t["p90_ms"]),
        ms(&t["max_ms"])
    );
    println!("expired {}, escalated {}", i["expired"], i["escalated"]);
    if let Some(p) = i["policy"].as_object() {
        println!(
            "policy: governed {}, approved {} ({:.1} %), rejected {}",
            p["governed"],
            p["approved_by_policy"],
            p["approved_by_policy_share"].as_f64().unwrap_or(0.0) * 100.0,
            p["rejected_by_policy"]
        );
    }
    counts("by outcome (status now)", &i["by_outcome"]);
    counts(&format!("top {} agents", i["top"]), &i["by_agent"]);
    counts(&format!("top {} tools", i["top"]), &i["by_tool"]);
}
