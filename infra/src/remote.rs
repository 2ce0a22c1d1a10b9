//! The commands that talk to a running Holdpoint over HTTP (the reviewer CLI, the MCP server, the
//! demo agent): where it is and who is calling.

use clap::Args;
use holdpoint::config;
use holdpoint_client::{Client, Credentials};

use crate::error::CliError;

/// Where Holdpoint answers and who is calling (flags over the variables `config::URL` and
/// `config::API_KEY`).
#[derive(Args, Clone, Debug)]
pub struct Remote {
    /// Holdpoint's URL.
    #[arg(long, global = true, env = config::URL, default_value = "http://127.0.0.1:8004")]
    pub url: String,
    /// An API key (the local server prints its development keys when it creates them).
    #[arg(long, global = true, env = config::API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Sign requests with SigV4 from the AWS credentials chain (the IAM-authorised API on AWS)
    /// instead of an API key.
    #[arg(long, global = true, conflicts_with = "api_key")]
    pub aws: bool,
}

impl Remote {
    pub async fn client(&self) -> Result<Client, CliError> {
        let credentials = if self.aws {
            Credentials::aws().await?
        } else {
            match &self.api_key {
                Some(k) if !k.is_empty() => Credentials::api_key(k),
                _ => {
                    return Err(CliError::usage(
                        "no credentials: set HOLDPOINT_API_KEY (or --api-key), or use --aws",
                    ));
                }
            }
        };
        Ok(Client::new(&self.url, credentials)?)
    }
}
