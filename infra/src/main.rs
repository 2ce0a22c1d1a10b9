//! `holdpoint`: the all-in-one local server and the operator's commands.
//!
//! Settings are read once, from the environment, into one `Settings`; a flag given on the
//! command line overrides its variable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use holdpoint::config::{ConfigError, Settings, StoreKind};
use holdpoint::keys::local::LocalKeys;
use holdpoint::store::dynamodb::{sdk_config, tables};

mod approvals;
mod audit;
mod deliveries;
mod demo_agent;
mod dev_keys;
mod error;
mod listener;
mod mcp;
mod open;
mod principals;
mod remote;
mod serve;

use open::{Access, open};

#[derive(Parser)]
#[command(name = "holdpoint", version, about = "Human approval for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where approvals and keys live (flags over `HOLDPOINT_DATA_DIR` and `HOLDPOINT_STORE`).
#[derive(Args, Clone)]
pub struct Place {
    /// Where the embedded store, the signing keys and the development API keys live
    /// [default: ./.holdpoint].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `embedded` (in the data directory) or `dynamodb` (at the endpoint the AWS SDK's standard
    /// variables name) [default: embedded].
    #[arg(long, value_parser = parse_store)]
    store: Option<StoreKind>,
}

fn parse_store(s: &str) -> Result<StoreKind, ConfigError> {
    StoreKind::parse(s)
}

impl Place {
    fn apply(self, settings: &mut Settings) {
        if let Some(d) = self.data_dir {
            settings.data_dir = d;
        }
        if let Some(s) = self.store {
            settings.store = s;
        }
    }
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
        command: TablesCommand,
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
    /// Check the embedded store: SQLite's integrity check, and a journal of an earlier version
    /// still waiting to be imported, line by line.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Copy the embedded store to FILE while the server runs (SQLite's online backup); to
    /// restore, stop the server and put the copy in place of `holdpoint.db`.
    Backup {
        /// Where the copy goes; it must not exist yet.
        file: PathBuf,
        /// The data directory [default: ./.holdpoint].
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
enum TablesCommand {
    /// Create the tables as template.yaml defines them, on the endpoint the AWS SDK's standard
    /// variables name (e.g. AWS_ENDPOINT_URL=http://127.0.0.1:5005), unless they exist.
    Create,
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
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Exits 1 naming what is unsound: a damaged page or index, or a journal line that cannot
    /// be read (the server refuses to start on one), with how to recover.
    Check {
        /// The data directory [default: ./.holdpoint].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new local signing key and make it current; older keys keep verifying.
    Rotate {
        /// The data directory holding the keys [default: ./.holdpoint].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

async fn create_tables(settings: &Settings) -> Result<ExitCode, String> {
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

async fn print_links(
    settings: &Settings,
    id: uuid::Uuid,
    tenant: Option<String>,
    base_url: Option<String>,
) -> Result<ExitCode, String> {
    let opened = open(settings, Access::Inspect).await?;
    let chains = audit::chains(&opened, tenant.as_deref(), Some(id)).await?;
    let (tenant, _) = chains.first().ok_or("no such approval")?;
    let base = match base_url {
        Some(url) => {
            holdpoint::config::check_base_url(&url).map_err(|e| e.to_string())?;
            url
        }
        None => settings.base_url_or(settings.addr),
    };
    let links = opened
        .service
        .links_of(tenant, id, &base)
        .await
        .map_err(|e| e.to_string())?;
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

async fn verify_audit(
    settings: &Settings,
    tenant: Option<String>,
    approval: Option<uuid::Uuid>,
) -> Result<ExitCode, String> {
    let opened = open(settings, Access::Inspect).await?;
    let chains = audit::chains(&opened, tenant.as_deref(), approval).await?;
    if chains.is_empty() && approval.is_some() {
        return Err("no such approval".into());
    }
    let broken = audit::verify(&opened.service, &chains).await?;
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn check_store(dir: &std::path::Path) -> Result<ExitCode, String> {
    use holdpoint::store::embedded::{self, EmbeddedStore};
    let mut sound = true;
    let db = dir.join(embedded::FILE);
    if db.exists() {
        let store = EmbeddedStore::open_read_only(dir).map_err(|e| e.to_string())?;
        let problems = store.integrity_check().await.map_err(|e| e.to_string())?;
        if problems.is_empty() {
            println!(
                "{}: SQLite's integrity check finds nothing wrong",
                db.display()
            );
        } else {
            sound = false;
            for p in &problems {
                println!("{}: {p}", db.display());
            }
            println!(
                "recovery: stop the server, keep a copy of the data directory, and restore the \
                 latest `holdpoint backup` in place of {} (or try sqlite3's `.recover`); then run \
                 `holdpoint audit verify`.",
                db.display()
            );
        }
    }
    let journal = dir.join(embedded::JOURNAL);
    if journal.exists() {
        sound &= check_journal(dir, &journal)?;
    }
    if !db.exists() && !journal.exists() {
        return Err(format!("{}: no embedded store here", dir.display()));
    }
    Ok(if sound {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A journal of an earlier version, waiting for the server to import it: whether every line
/// reads.
fn check_journal(dir: &std::path::Path, journal: &std::path::Path) -> Result<bool, String> {
    let check = holdpoint::store::embedded::check_journal(dir).map_err(|e| e.to_string())?;
    println!(
        "{}: {} lines read (a journal of an earlier version: the server imports it on start)",
        journal.display(),
        check.readable
    );
    if check.torn_tail {
        println!(
            "the last line is incomplete: a write cut off by a crash, never acknowledged; the import drops it"
        );
    }
    if check.unreadable.is_empty() {
        println!("every line can be read");
        return Ok(true);
    }
    for (line, why) in &check.unreadable {
        println!("line {line} cannot be read: {why}");
    }
    println!(
        "recovery: stop the server and keep a copy of the data directory. A line that cannot be \
         read was written by another version or changed by hand: restore it from the copy or a \
         backup if you have one, or move it out of {} into a file beside it (the approval it \
         belongs to then stands at its previous change, and `holdpoint audit verify` names it). \
         Run this check again until every line reads, then start the server.",
        journal.display()
    );
    Ok(false)
}

async fn backup(dir: &std::path::Path, to: &std::path::Path) -> Result<ExitCode, String> {
    use holdpoint::store::embedded::EmbeddedStore;
    if to.exists() {
        return Err(format!("{}: exists; choose a new file", to.display()));
    }
    let store = EmbeddedStore::open_read_only(dir).map_err(|e| e.to_string())?;
    store.backup(to).await.map_err(|e| e.to_string())?;
    let copy = EmbeddedStore::open_file_read_only(to).map_err(|e| e.to_string())?;
    let n = copy.all_approvals().await.map_err(|e| e.to_string())?.len();
    println!(
        "{}: {n} approvals copied from {}",
        to.display(),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run(command: Command, mut settings: Settings) -> Result<ExitCode, String> {
    match command {
        Command::Approvals { .. } | Command::Mcp { .. } | Command::DemoAgent { .. } => {
            Err("dispatched before the settings are read".into())
        }
        Command::Serve {
            addr,
            sweep_seconds,
            place,
        } => {
            place.apply(&mut settings);
            if let Some(a) = addr {
                settings.addr = a;
            }
            if let Some(s) = sweep_seconds {
                settings.sweep_every = std::time::Duration::from_secs(s.max(1));
            }
            serve::run(&settings).await.map(|()| ExitCode::SUCCESS)
        }
        Command::Tables {
            command: TablesCommand::Create,
        } => create_tables(&settings).await,
        Command::Audit {
            command:
                AuditCommand::Verify {
                    place,
                    tenant,
                    approval,
                },
        } => {
            place.apply(&mut settings);
            verify_audit(&settings, tenant, approval).await
        }
        Command::Links {
            id,
            place,
            tenant,
            base_url,
        } => {
            place.apply(&mut settings);
            print_links(&settings, id, tenant, base_url).await
        }
        Command::Principals { command } => {
            command.place().clone().apply(&mut settings);
            let directory = open::open_directory(&settings).await?;
            principals::run(command, directory, settings.allow_private_webhooks).await
        }
        Command::Deliveries {
            failed,
            tenant,
            approval,
            limit,
            json,
            place,
        } => {
            place.apply(&mut settings);
            let log = deliveries::open_log(&settings).await?;
            let query = deliveries::Query {
                failed,
                tenant,
                approval,
                limit,
                json,
            };
            deliveries::run(log, query).await
        }
        Command::Store {
            command: StoreCommand::Check { data_dir },
        } => check_store(&data_dir.unwrap_or(settings.data_dir)).await,
        Command::Backup { file, data_dir } => {
            backup(&data_dir.unwrap_or(settings.data_dir), &file).await
        }
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => LocalKeys::open(&data_dir.unwrap_or(settings.data_dir))
            .and_then(|k| k.rotate())
            .map(|id| {
                println!("signing with new key {id}; earlier keys still verify");
                ExitCode::SUCCESS
            })
            .map_err(|e| e.to_string()),
    }
}

/// Runs `command` if it talks to a server over HTTP; gives it back otherwise.
async fn remote_command(command: Command) -> Result<ExitCode, Command> {
    let (remote, job) = match command {
        Command::Approvals {
            remote,
            json,
            command,
        } => (remote, Job::Approvals(command, json)),
        Command::Mcp { remote } => (remote, Job::Mcp),
        Command::DemoAgent {
            remote,
            reviewer,
            timeout,
        } => (remote, Job::Demo(reviewer, timeout)),
        local => return Err(local),
    };
    let client = match remote.client().await {
        Ok(c) => c,
        Err(f) => return Ok(f.exit()),
    };
    let done = match job {
        Job::Approvals(command, json) => approvals::run(&client, command, json).await.map(|()| 0),
        Job::Mcp => mcp::serve(client)
            .await
            .map(|()| 0)
            .map_err(|e| remote::Failure {
                code: remote::exit::UNREACHABLE,
                message: e,
            }),
        Job::Demo(reviewer, timeout) => {
            demo_agent::run(&client, &reviewer, std::time::Duration::from_secs(timeout))
                .await
                .map(demo_agent::exit_code)
        }
    };
    Ok(done.map_or_else(remote::Failure::exit, ExitCode::from))
}

/// What a command that talks to a server does, once its client is made.
enum Job {
    Approvals(approvals::ApprovalsCommand, bool),
    Mcp,
    Demo(String, u64),
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command;
    // The commands that talk to a server need none of the server's settings.
    let command = match remote_command(command).await {
        Ok(code) => return code,
        Err(local) => local,
    };
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("holdpoint: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    run(command, settings).await.unwrap_or_else(|e| {
        eprintln!("holdpoint: {e}");
        ExitCode::from(2)
    })
}
