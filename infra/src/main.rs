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
    },
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
        } => serve::run(addr, &data_dir, sweep_seconds).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdpoint: {e}");
            ExitCode::FAILURE
        }
    }
}
