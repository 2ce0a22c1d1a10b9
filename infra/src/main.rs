//! `holdpoint`: the all-in-one local server and the operator's commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use holdpoint::keys::KeyProvider;
use holdpoint::keys::local::LocalKeys;
use holdpoint::keys::secrets_manager::SecretsManagerKeys;
use holdpoint::store::Store;
use holdpoint::store::dynamodb::{DynamoStore, Tables, sdk_config};
use holdpoint::store::embedded::EmbeddedStore;

mod audit;
mod dev_keys;
mod serve;

#[derive(Parser)]
#[command(name = "holdpoint", version, about = "Human approval for AI agents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where approvals and keys live.
#[derive(Args, Clone)]
pub struct Place {
    /// Where the embedded store, the signing keys and the development API keys live.
    #[arg(long, env = "HOLDPOINT_DATA_DIR", default_value = "./.holdpoint")]
    data_dir: PathBuf,
    /// The embedded store in the data directory, or DynamoDB at the endpoint the AWS SDK's
    /// standard variables name (tables from HOLDPOINT_APPROVALS_TABLE / HOLDPOINT_AUDIT_TABLE).
    #[arg(long, env = "HOLDPOINT_STORE", value_enum, default_value_t = StoreKind::Embedded)]
    store: StoreKind,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route, and run the sweep every few seconds.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "HOLDPOINT_ADDR", default_value = "127.0.0.1:8004")]
        addr: std::net::SocketAddr,
        /// Seconds between two sweeps (expiry and escalation).
        #[arg(long, env = "HOLDPOINT_SWEEP_SECONDS", default_value_t = 5)]
        sweep_seconds: u64,
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
    /// Print the signed review links of an approval's named reviewers.
    Links {
        /// The approval.
        id: uuid::Uuid,
        #[command(flatten)]
        place: Place,
        /// Its tenant (required with --store dynamodb).
        #[arg(long)]
        tenant: Option<String>,
        /// Base URL of the links; by default the local server's own address.
        #[arg(long, env = "HOLDPOINT_PUBLIC_BASE_URL")]
        base_url: Option<String>,
    },
    /// Manage the local signing keys (on AWS, rotate the Secrets Manager secret instead).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
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
enum KeysCommand {
    /// Add a new local signing key and make it current; older keys keep verifying.
    Rotate {
        #[arg(long, env = "HOLDPOINT_DATA_DIR", default_value = "./.holdpoint")]
        data_dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

/// The store a command works on, with the embedded one by name when it is that.
pub async fn open_store(
    place: &Place,
    read_only: bool,
) -> Result<(Arc<dyn Store>, Option<EmbeddedStore>, String), String> {
    match place.store {
        StoreKind::Embedded => {
            let store = if read_only {
                EmbeddedStore::open_read_only(&place.data_dir)
            } else {
                EmbeddedStore::open(&place.data_dir)
            }
            .map_err(|e| e.to_string())?;
            let name = format!("embedded, in {}", place.data_dir.display());
            Ok((Arc::new(store.clone()), Some(store), name))
        }
        StoreKind::Dynamodb => {
            let tables = Tables::from_env()?;
            let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
            let name = format!("DynamoDB tables {} and {}", tables.approvals, tables.audit);
            Ok((Arc::new(DynamoStore::new(client, tables)), None, name))
        }
    }
}

/// The signing keys: the Secrets Manager secret `HOLDPOINT_SIGNING_SECRET_ID` when set, else
/// the key file in the data directory (created on first use only when `create`).
pub async fn open_keys(
    data_dir: &Path,
    create: bool,
) -> Result<(Arc<dyn KeyProvider>, String), String> {
    if let Ok(secret) = std::env::var("HOLDPOINT_SIGNING_SECRET_ID") {
        let client = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
        let keys = SecretsManagerKeys::new(client, &secret, std::time::Duration::from_secs(300));
        keys.current().await.map_err(|e| e.to_string())?;
        return Ok((Arc::new(keys), format!("Secrets Manager secret {secret}")));
    }
    let keys = if create {
        LocalKeys::open_or_create(data_dir)
    } else {
        LocalKeys::open(data_dir)
    }
    .map_err(|e| e.to_string())?;
    let name = data_dir
        .join(holdpoint::keys::local::FILE)
        .display()
        .to_string();
    Ok((Arc::new(keys), name))
}

async fn create_tables() -> Result<ExitCode, String> {
    use holdpoint::store::dynamodb::tables;
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
    Ok(ExitCode::SUCCESS)
}

async fn print_links(
    id: uuid::Uuid,
    place: Place,
    tenant: Option<String>,
    base_url: Option<String>,
) -> Result<ExitCode, String> {
    // The key first: without it nothing can be checked, whatever the store holds.
    let (keys, _) = open_keys(&place.data_dir, false).await?;
    let (store, embedded, _) = open_store(&place, true).await?;
    let chains = audit::chains(&*store, embedded.as_ref(), tenant.as_deref(), Some(id)).await?;
    let (tenant, _) = chains.first().ok_or("no such approval")?;
    let approval = store
        .get(tenant, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such approval")?;
    let base = base_url.unwrap_or_else(|| {
        let addr = std::env::var("HOLDPOINT_ADDR").unwrap_or_else(|_| "127.0.0.1:8004".into());
        format!("http://{addr}")
    });
    let service = holdpoint::service::Service::new(
        store,
        keys,
        holdpoint::time::Clock::system(),
        Default::default(),
    );
    let links = service
        .review_links(&approval, &base)
        .await
        .map_err(|e| e.to_string())?;
    if links.is_empty() {
        return Err("this approval names no reviewer by name (roles get no links)".into());
    }
    for (reviewer, url) in links {
        println!("{reviewer} {url}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify_audit(
    place: Place,
    tenant: Option<String>,
    approval: Option<uuid::Uuid>,
) -> Result<ExitCode, String> {
    // The key first: without it nothing can be checked, whatever the store holds.
    let (keys, _) = open_keys(&place.data_dir, false).await?;
    let (store, embedded, _) = open_store(&place, true).await?;
    let chains = audit::chains(&*store, embedded.as_ref(), tenant.as_deref(), approval).await?;
    if chains.is_empty() && approval.is_some() {
        return Err("no such approval".into());
    }
    let broken = audit::verify(store, keys, &chains).await?;
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
            sweep_seconds,
            place,
        } => serve::run(addr, &place, sweep_seconds)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Tables {
            command: TablesCommand::Create,
        } => create_tables().await,
        Command::Audit {
            command:
                AuditCommand::Verify {
                    place,
                    tenant,
                    approval,
                },
        } => verify_audit(place, tenant, approval).await,
        Command::Links {
            id,
            place,
            tenant,
            base_url,
        } => print_links(id, place, tenant, base_url).await,
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => LocalKeys::open(&data_dir)
            .and_then(|k| k.rotate())
            .map(|id| {
                println!("signing with new key {id}; earlier keys still verify");
                ExitCode::SUCCESS
            })
            .map_err(|e| e.to_string()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("holdpoint: {e}");
        ExitCode::from(2)
    })
}
