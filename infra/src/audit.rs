//! `holdpoint audit verify`: walks the chains with the key and names every break, and every
//! chain shorter than, or other than, what a signed checkpoint recorded of it.

use std::process::ExitCode;

use holdpoint::config::Settings;
use holdpoint::service::Service;
use holdpoint::store::{Cursor, ListFilter};
use holdpoint_core::domain::identity::Principal;
use uuid::Uuid;

use crate::error::CliError;
use crate::open::{Access, Opened, open};

/// Verifies the chains asked for; exits 1 when one is broken.
pub async fn run(
    settings: &Settings,
    tenant: Option<String>,
    approval: Option<Uuid>,
) -> Result<ExitCode, CliError> {
    let opened = open(settings, Access::Inspect).await?;
    let chains = chains(&opened, tenant.as_deref(), approval).await?;
    if chains.is_empty() && approval.is_some() {
        return Err("no such approval".into());
    }
    let broken = verify(&opened.service, &chains).await?;
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The chains to check: `(tenant, id)`.
pub async fn chains(
    opened: &Opened,
    tenant: Option<&str>,
    approval: Option<Uuid>,
) -> Result<Vec<(String, Uuid)>, CliError> {
    if let Some(all) = opened.store.every_chain().await? {
        return Ok(all
            .into_iter()
            .filter(|(t, id)| tenant.is_none_or(|x| x == t) && approval.is_none_or(|x| x == *id))
            .collect());
    }
    // DynamoDB: chains are found through a tenant's index, never by scanning the table.
    let tenant = tenant.ok_or("with --store dynamodb, name the tenant with --tenant")?;
    if let Some(id) = approval {
        return Ok(vec![(tenant.to_owned(), id)]);
    }
    // The operator reads as the tenant: the service answers only that tenant's approvals.
    let operator = Principal {
        tenant: tenant.to_owned(),
        principal: "operator".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let mut out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = opened
            .service
            .list(&operator, &ListFilter::default(), 100, cursor.as_ref())
            .await?;
        out.extend(page.items.iter().map(|a| (tenant.to_owned(), a.id)));
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Verifies each chain; prints one line per chain and answers how many are broken.
pub async fn verify(service: &Service, chains: &[(String, Uuid)]) -> Result<usize, CliError> {
    let mut broken = 0;
    for (tenant, id) in chains {
        let Some((records, v)) = service.audit_of(tenant, *id).await? else {
            println!("BROKEN approval {id} (tenant {tenant}): no such approval");
            broken += 1;
            continue;
        };
        // A chain consistent in itself may still be one rolled back from a backup: it must
        // hold the head the newest checkpoint recorded for it.
        let rollback = match service.audit_keys() {
            Some(_) => service
                .checkpoint_check(tenant, *id)
                .await?
                .and_then(|c| c.rollback),
            None => None,
        };
        if let (true, Some(why)) = (v.valid, &rollback) {
            broken += 1;
            println!("BROKEN approval {id} (tenant {tenant}): rolled back: {why}");
        } else if v.valid {
            println!(
                "ok     approval {id} (tenant {tenant}): {} records",
                records.len()
            );
        } else {
            broken += 1;
            println!(
                "BROKEN approval {id} (tenant {tenant}) at sequence {}: {}",
                v.first_invalid_sequence.unwrap_or(0),
                v.reason.unwrap_or_default()
            );
        }
    }
    println!("{} chains verified, {broken} broken", chains.len());
    Ok(broken)
}
