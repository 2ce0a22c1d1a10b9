//! `holdpoint links`: the signed review links of an approval's reviewers, for an operator to
//! hand on.

use std::process::ExitCode;

use holdpoint::config::Settings;
use uuid::Uuid;

use crate::audit;
use crate::error::CliError;
use crate::open::{Access, open};

/// Prints one `reviewer url` line per reviewer (named ones, and the members of its reviewer
/// roles in the directory).
pub async fn print(
    settings: &Settings,
    id: Uuid,
    tenant: Option<String>,
    base_url: Option<String>,
) -> Result<ExitCode, CliError> {
    let opened = open(settings, Access::Inspect).await?;
    let chains = audit::chains(&opened, tenant.as_deref(), Some(id)).await?;
    let (tenant, _) = chains.first().ok_or("no such approval")?;
    let base = match base_url {
        Some(url) => {
            holdpoint::config::check_base_url(&url)?;
            url
        }
        None => settings.base_url_or(settings.addr),
    };
    let links = opened.service.links_of(tenant, id, &base).await?;
    if links.is_empty() {
        return Err(
            "this approval has no reviewer to link to (a role's members come from the directory)"
                .into(),
        );
    }
    for (reviewer, url) in links {
        println!("{reviewer} {url}");
    }
    Ok(ExitCode::SUCCESS)
}
