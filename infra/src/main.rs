//! `holdpoint`: the all-in-one local server and the operator's commands. This file is the
//! command line and its one dispatch; each command lives in the module named for it.
//!
//! Settings are read once, from the environment, into one `Settings`; a flag given on the
//! command line overrides its variable. The commands that talk to a server over HTTP need none
//! of them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use holdpoint::config::Settings;

mod approvals;
mod audit;
mod backup;
mod db;
mod deliveries;
mod demo_agent;
mod dev_keys;
mod error;
mod evidence;
mod insights;
mod keys;
mod links;
mod listener;
mod mcp;
mod metrics;
mod open;
mod place;
mod policy;
mod principals;
mod remote;
mod serve;
mod slack;
mod store;
mod tables;

use error::CliError;
use place::{DataDir, Place};

#[derive(Parser)]
#[command(name = "holdpoint", version, about = "Human approval for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route, and run the sweep every few seconds.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8004].
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// Seconds between two sweeps (expiry and escalation) [default: 5].
        #[arg(long)]
        sweep_seconds: Option<u64>,
        #[command(flatten)]
        place: Place,
    },
    /// Manage the DynamoDB tables.
    Tables {
        #[command(subcommand)]
        command: tables::TablesCommand,
    },
    /// The PostgreSQL schema (HOLDPOINT_STORE=postgres, HOLDPOINT_DATABASE_URL).
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the signed review links of an approval's reviewers (named ones, and the members of
    /// its reviewer roles in the directory).
    Links {
        /// The approval.
        id: uuid::Uuid,
        #[command(flatten)]
        place: Place,
        /// Its tenant (required with --store dynamodb).
        #[arg(long)]
        tenant: Option<String>,
        /// Base URL of the links [default: HOLDPOINT_PUBLIC_BASE_URL, else the local server's
        /// own address].
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Manage the directory of principals: who may call, with which roles, reached how.
    /// Changes apply to a running server within HOLDPOINT_AUTH_CACHE_SECONDS (default 5).
    Principals {
        #[command(subcommand)]
        command: principals::PrincipalsCommand,
    },
    /// Connect tenants to their Slack apps, so reviewers with a Slack user decide from Slack.
    Slack(slack::SlackArgs),
    /// How a tenant's approvals went over a window (by outcome, agent, tool; time to decision;
    /// expiries, escalations, the policy's share): from the local store with --tenant, else
    /// from a running Holdpoint as an admin (--url, --api-key).
    Insights {
        /// Start of the window, RFC 3339 [default: 7 days before --until].
        #[arg(long)]
        since: Option<String>,
        /// End of the window (excluded), RFC 3339 [default: now]; at most 90 days after --since.
        #[arg(long)]
        until: Option<String>,
        /// Read the local store (or the DynamoDB tables) for this tenant instead of a server.
        #[arg(long)]
        tenant: Option<String>,
        /// Print the answer of GET /v1/insights (JSON) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: Place,
        #[command(flatten)]
        remote: remote::Remote,
    },
    /// Show deliveries to reviewers and agents (newest first), and which failed.
    Deliveries {
        /// Only deliveries that failed for good.
        #[arg(long)]
        failed: bool,
        /// Only this tenant's (required with --store dynamodb).
        #[arg(long)]
        tenant: Option<String>,
        /// Only this approval's (with --tenant).
        #[arg(long)]
        approval: Option<uuid::Uuid>,
        /// How many at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: Place,
    },
    /// Check the embedded store with SQLite's integrity check.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Copy the embedded store to FILE while the server runs (SQLite's online backup); to
    /// restore, stop the server and put the copy in place of `holdpoint.db`.
    Backup {
        /// Where the copy goes; it must not exist yet.
        file: PathBuf,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Manage the local signing keys (on AWS, rotate the Secrets Manager secret instead).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// List, show and decide approvals on a running Holdpoint (exit codes: 0 done, 1 refused by
    /// the server, 2 usage, 3 cannot reach the server).
    Approvals {
        #[command(flatten)]
        remote: remote::Remote,
        /// Print JSON instead of tables.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: approvals::ApprovalsCommand,
    },
    /// The tenant's approval policy on a running Holdpoint (the role admin only): get, set,
    /// test, history (exit codes as for approvals).
    Policy {
        #[command(flatten)]
        remote: remote::Remote,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// A Model Context Protocol server on stdin/stdout: tools to request an approval, wait for
    /// the decision, read, cancel and mark it executed, on the Holdpoint at HOLDPOINT_URL.
    Mcp {
        #[command(flatten)]
        remote: remote::Remote,
    },
    /// An agent that reaches a sensitive step, asks a reviewer, waits, then acts or stops
    /// (exit 0 when it acted, 1 when it was stopped).
    DemoAgent {
        #[command(flatten)]
        remote: remote::Remote,
        /// Who is asked.
        #[arg(long, default_value = "reviewer")]
        reviewer: String,
        /// How long it waits for the decision, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify audit chains with the signing keys; exits 1 naming every broken chain.
    Verify {
        #[command(flatten)]
        place: Place,
        /// Only this tenant's approvals (required with --store dynamodb).
        #[arg(long)]
        tenant: Option<String>,
        /// Only this approval.
        #[arg(long)]
        approval: Option<uuid::Uuid>,
    },
    /// Write an approval's evidence bundle: the approval, its records and the signed
    /// checkpoints that cover them (docs/audit-evidence.md).
    ///
    /// With `--format jsonl` (and no ID), a tenant's whole trail for a SIEM instead: each signed
    /// checkpoint after the records it newly covers, one JSON object per line, from `--since`
    /// or `--cursor`; the cursor to resume from is printed last, on standard error.
    Export {
        /// The approval (for its bundle).
        id: Option<uuid::Uuid>,
        #[command(flatten)]
        place: Place,
        /// Its tenant (required with --store dynamodb, and for jsonl).
        #[arg(long)]
        tenant: Option<String>,
        /// Write here rather than to standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// `json` (an approval's bundle) or `jsonl` (a tenant's trail).
        #[arg(long, default_value = "json")]
        format: String,
        /// jsonl: from the first checkpoint written at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// jsonl: from this checkpoint sequence (the cursor a previous export printed).
        #[arg(long)]
        cursor: Option<u64>,
    },
    /// Check an evidence bundle with the published keys alone (no service, no store, no
    /// secret); exits 1 naming every failure.
    VerifyBundle {
        /// The bundle (`holdpoint audit export`, or GET /v1/approvals/{id}/evidence).
        file: std::path::PathBuf,
        /// The key set (GET /.well-known/holdpoint/audit-keys, or `holdpoint audit keys`).
        #[arg(long)]
        keys: std::path::PathBuf,
    },
    /// Write the signed checkpoints due now (the server does every HOLDPOINT_CHECKPOINT_SECONDS).
    Checkpoint {
        #[command(flatten)]
        place: Place,
    },
    /// Print the published checkpoint keys (a JWKS) of the data directory.
    Keys {
        #[command(flatten)]
        data_dir: DataDir,
        /// First make a new key current; the old one stays published.
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Exits 1 naming what is unsound (a damaged page or index), with how to recover.
    Check {
        #[command(flatten)]
        data_dir: DataDir,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new local signing key and make it current; older keys keep verifying.
    Rotate {
        #[command(flatten)]
        data_dir: DataDir,
    },
}

async fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Serve {
            addr,
            sweep_seconds,
            place,
        } => {
            let mut settings = settings()?;
            place.apply(&mut settings);
            if let Some(a) = addr {
                settings.addr = a;
            }
            if let Some(s) = sweep_seconds {
                settings.sweep_every = std::time::Duration::from_secs(s.max(1));
            }
            serve::run(&settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tables {
            command: tables::TablesCommand::Create,
        } => tables::create(&settings()?).await,
        Command::Db { command } => db::run(command, &settings()?).await,
        Command::Audit {
            command:
                AuditCommand::Verify {
                    place,
                    tenant,
                    approval,
                },
        } => audit::run(&at(place)?, tenant, approval).await,
        Command::Audit {
            command:
                AuditCommand::Export {
                    id,
                    place,
                    tenant,
                    out,
                    format,
                    since,
                    cursor,
                },
        } => match (format.as_str(), id) {
            ("json", Some(id)) => evidence::export(&at(place)?, id, tenant, out).await,
            ("jsonl", None) => {
                let tenant =
                    tenant.ok_or("--format jsonl exports a tenant's trail: name --tenant")?;
                evidence::export_trail(&at(place)?, &tenant, since, cursor, out).await
            }
            ("json", None) => Err("name the approval to export, or use --format jsonl".into()),
            ("jsonl", Some(_)) => {
                Err("--format jsonl exports a tenant's trail, not one approval".into())
            }
            (other, _) => Err(format!("--format must be json or jsonl, not {other:?}").into()),
        },
        Command::Audit {
            command: AuditCommand::VerifyBundle { file, keys },
        } => evidence::verify_bundle(&file, &keys),
        Command::Audit {
            command: AuditCommand::Checkpoint { place },
        } => evidence::checkpoint(&at(place)?).await,
        Command::Audit {
            command: AuditCommand::Keys { data_dir, rotate },
        } => {
            let mut s = settings()?;
            data_dir.apply(&mut s);
            evidence::keys(&s, rotate)
        }
        Command::Links {
            id,
            place,
            tenant,
            base_url,
        } => links::print(&at(place)?, id, tenant, base_url).await,
        Command::Principals { command } => principals::run(command, settings()?).await,
        Command::Slack(args) => slack::run(args.command, settings()?).await,
        Command::Insights {
            since,
            until,
            tenant,
            json,
            place,
            remote,
        } => {
            let query = insights::Query { since, until, json };
            match tenant {
                Some(tenant) => insights::local(&at(place)?, &tenant, query).await,
                None => insights::remote(&remote.client().await?, query).await,
            }
        }
        Command::Deliveries {
            failed,
            tenant,
            approval,
            limit,
            json,
            place,
        } => {
            let query = deliveries::Query {
                failed,
                tenant,
                approval,
                limit,
                json,
            };
            deliveries::run(&at(place)?, query).await
        }
        Command::Store {
            command: StoreCommand::Check { data_dir },
        } => store::check(&in_dir(data_dir)?).await,
        Command::Backup { file, data_dir } => backup::run(&in_dir(data_dir)?, &file).await,
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => keys::rotate(&in_dir(data_dir)?),
        Command::Approvals {
            remote,
            json,
            command,
        } => approvals::run(&remote.client().await?, command, json).await,
        Command::Policy {
            remote,
            json,
            command,
        } => policy::run(&remote.client().await?, command, json).await,
        Command::Mcp { remote } => mcp::serve(remote.client().await?).await,
        Command::DemoAgent {
            remote,
            reviewer,
            timeout,
        } => {
            let timeout = std::time::Duration::from_secs(timeout);
            demo_agent::run(&remote.client().await?, &reviewer, timeout).await
        }
    }
}

/// The settings of a local command, read from the environment; its log starts with them.
fn settings() -> Result<Settings, CliError> {
    let settings = Settings::from_env()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a log file or CI output would carry the codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(settings)
}

/// The settings with `place` over them.
fn at(place: Place) -> Result<Settings, CliError> {
    let mut settings = settings()?;
    place.apply(&mut settings);
    Ok(settings)
}

/// The data directory, the flag over the setting.
fn in_dir(data_dir: DataDir) -> Result<PathBuf, CliError> {
    let mut settings = settings()?;
    data_dir.apply(&mut settings);
    Ok(settings.data_dir)
}

#[tokio::main]
async fn main() -> ExitCode {
    run(Cli::parse().command)
        .await
        .unwrap_or_else(CliError::exit)
}
