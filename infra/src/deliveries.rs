//! `holdpoint deliveries`: what was sent to reviewers and agents, and what failed.

use std::process::ExitCode;

use holdpoint::backend::{Access, Backend};
use holdpoint::config::Settings;

use crate::error::CliError;

/// Which deliveries to show, and how.
pub struct Query {
    pub failed: bool,
    pub tenant: Option<String>,
    pub approval: Option<uuid::Uuid>,
    pub limit: usize,
    pub json: bool,
}

/// Prints the deliveries `q` asks for from the log where `settings` put the store.
pub async fn run(settings: &Settings, q: Query) -> Result<ExitCode, CliError> {
    // The log the server keeps beside the same store (one wiring decides where).
    let log = Backend::new(settings, Access::Inspect).deliveries().await?;
    let mut all = match (q.approval, &q.tenant) {
        (Some(id), Some(tenant)) => log.of_approval(tenant, id).await?,
        (Some(_), None) => return Err("--approval needs --tenant".into()),
        (None, tenant) => log.recent(tenant.as_deref(), q.failed, q.limit).await?,
    };
    if q.failed {
        all.retain(|d| d.status == holdpoint::delivery::DeliveryStatus::Failed);
    }
    if q.json {
        let shown: Vec<_> = all
            .iter()
            .map(|d| {
                let mut v = d.public();
                v["tenant"] = d.tenant.clone().into();
                v["approval_id"] = d.approval_id.to_string().into();
                v["target"] = d.target.clone().into();
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(shown));
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no deliveries");
    }
    for d in &all {
        println!(
            "{}  {:<9} {:<8} {}/{} -> {} ({})  attempts {}  {}{}",
            holdpoint_core::time::format(&d.created_at),
            d.status.as_str(),
            d.channel.as_str(),
            d.tenant,
            d.recipient.escape_debug(),
            d.target.escape_debug(),
            d.event_type,
            d.attempts,
            d.id.escape_debug(),
            d.last_error
                .as_deref()
                .map(|e| format!("  last error: {}", e.escape_debug()))
                .unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
