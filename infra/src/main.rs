//! `holdpoint`: the all-in-one local server and the operator's commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dev_keys;
mod serve;

#[derive(Parser)]
#[command(name = "holdpoint", version, about = "Human approval for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on the embedded store, and run the sweep every few seconds.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "HOLDPOINT_ADDR", default_value = "127.0.0.1:8004")]
        addr: std::net::SocketAddr,
        /// Where the embedded store and the development keys live.
        #[arg(long, env = "HOLDPOINT_DATA_DIR", default_value = "./.holdpoint")]
        data_dir: PathBuf,
        /// Seconds between two sweeps (expiry and escalation).
        #[arg(long, env = "HOLDPOINT_SWEEP_SECONDS", default_value_t = 5)]
        sweep_seconds: u64,
        /// Where approvals live: the embedded store in the data directory, or DynamoDB at the
        /// endpoint the AWS SDK's standard variables name (tables from HOLDPOINT_*_TABLE).
        #[arg(long, env = "HOLDPOINT_STORE", value_enum, default_value_t = StoreKind::Embedded)]
        store: StoreKind,
    },
    /// Manage the DynamoDB tables.
    Tables {
        #[command(subcommand)]
        command: TablesCommand,
    },
}

#[derive(Subcommand)]
enum TablesCommand {
    /// Create the tables as template.yaml defines them, on the endpoint the AWS SDK's standard
    /// variables name (e.g. AWS_ENDPOINT_URL=http://127.0.0.1:5005), unless they exist.
    Create,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

async fn create_tables() -> Result<(), String> {
    use holdpoint::store::dynamodb::{Tables, sdk_config, tables};
    let names = Tables::from_env()?;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let created = tables::create_all(&client, &names).await?;
    for name in [&names.approvals, &names.audit] {
        let state = if created.contains(name) {
            "created"
        } else {
            "exists"
        };
        println!("{name}: {state}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOLDPOINT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve {
            addr,
            data_dir,
            sweep_seconds,
            store,
        } => serve::run(addr, &data_dir, sweep_seconds, store).await,
        Command::Tables {
            command: TablesCommand::Create,
        } => create_tables().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdpoint: {e}");
            ExitCode::FAILURE
        }
    }
}
