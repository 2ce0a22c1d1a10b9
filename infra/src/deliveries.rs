//! `holdpoint deliveries`: what was sent to reviewers and agents, and what failed.

use std::process::ExitCode;
use std::sync::Arc;

use holdpoint::config::{Settings, StoreKind};
use holdpoint::delivery::DeliveryLog;
use holdpoint::delivery::dynamodb::DynamoDeliveries;
use holdpoint::delivery::embedded::EmbeddedDeliveries;
use holdpoint::store::dynamodb::sdk_config;

use crate::error::CliError;

/// The delivery log where `settings` put the store.
pub async fn open_log(settings: &Settings) -> Result<Arc<dyn DeliveryLog>, CliError> {
    Ok(match settings.store {
        StoreKind::Embedded => Arc::new(EmbeddedDeliveries::open(&settings.data_dir)?),
        StoreKind::Dynamodb => Arc::new(DynamoDeliveries::new(
            aws_sdk_dynamodb::Client::new(&sdk_config().await),
            settings.tables.deliveries.clone(),
        )),
    })
}

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
    let log = open_log(settings).await?;
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
