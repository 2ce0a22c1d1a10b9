//! `holdpoint tables create`: the DynamoDB tables as template.yaml defines them.

use std::process::ExitCode;

use clap::Subcommand;
use holdpoint::config::Settings;
use holdpoint::store::dynamodb::{sdk_config, tables};

use crate::error::CliError;

#[derive(Subcommand)]
pub enum TablesCommand {
    /// Create the tables as template.yaml defines them, on the endpoint the AWS SDK's standard
    /// variables name (e.g. AWS_ENDPOINT_URL=http://127.0.0.1:5005), unless they exist.
    Create,
}

/// Creates the tables that do not exist yet, and says of each whether it was created.
pub async fn create(settings: &Settings) -> Result<ExitCode, CliError> {
    let names = &settings.tables;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let created = tables::create_all(&client, names).await?;
    for (name, _) in tables::all(names) {
        let state = if created.contains(name) {
            "created"
        } else {
            "exists"
        };
        println!("{name}: {state}");
    }
    Ok(ExitCode::SUCCESS)
}
