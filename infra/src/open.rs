//! What every command opens, from the one [`Settings`] of the process: the signing keys, the
//! store and the service over them.

use std::sync::Arc;

use holdpoint::config::{Settings, StoreKind};
use holdpoint::directory::Directory;
use holdpoint::directory::dynamodb::DynamoDirectory;
use holdpoint::directory::embedded::EmbeddedDirectory;
use holdpoint::keys::local::{self, LocalKeys};
use holdpoint::keys::secrets_manager::SecretsManagerKeys;
use holdpoint::service::Service;
use holdpoint::store::Store;
use holdpoint::store::dynamodb::{DynamoStore, sdk_config};
use holdpoint::store::embedded::EmbeddedStore;
use holdpoint_core::keys::KeyProvider;
use holdpoint_core::time::Clock;

/// How a command uses the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The server: creates the store and a first key if there are none.
    Serve,
    /// An operator command beside a running server: creates nothing, writes nothing.
    Inspect,
}

/// The service of a command, with what it opened.
pub struct Opened {
    pub service: Service,
    /// The embedded store by name, for walking every chain (DynamoDB is walked per tenant).
    pub embedded: Option<EmbeddedStore>,
    /// Where approvals live, for the operator.
    pub store_name: String,
    /// Where the signing key comes from, for the operator.
    pub key_source: String,
}

/// Opens the keys first (without a key nothing can be signed or checked, whatever the store
/// holds), then the store, and builds the service over them.
pub async fn open(settings: &Settings, access: Access) -> Result<Opened, String> {
    let (keys, key_source) = open_keys(settings, access).await?;
    let (store, embedded, store_name): (Arc<dyn Store>, _, _) = match settings.store {
        StoreKind::Embedded => {
            let dir = &settings.data_dir;
            let store = match access {
                Access::Serve => EmbeddedStore::open(dir),
                Access::Inspect => EmbeddedStore::open_read_only(dir),
            }
            .map_err(|e| e.to_string())?;
            if access == Access::Serve {
                // A journal of an earlier version: imported once, chains verified first.
                store
                    .import_journal(keys.as_ref())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let name = format!("embedded, in {}", dir.display());
            (Arc::new(store.clone()), Some(store), name)
        }
        StoreKind::Dynamodb => {
            let tables = settings.tables.clone();
            let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
            let name = format!("DynamoDB tables {} and {}", tables.approvals, tables.audit);
            (Arc::new(DynamoStore::new(client, tables)), None, name)
        }
    };
    let mut service = Service::new(store, keys, Clock::system(), settings.expiry);
    // Links go to role members too; an operator's read beside a server creates no file.
    let has_directory = settings.store == StoreKind::Dynamodb
        || access == Access::Serve
        || settings
            .data_dir
            .join(holdpoint::directory::embedded::FILE)
            .exists();
    if has_directory && settings.api_keys.is_none() {
        service = service.with_directory(open_directory(settings).await?);
    }
    Ok(Opened {
        service,
        embedded,
        store_name,
        key_source,
    })
}

/// The Secrets Manager secret when one is named, else the key file in the data directory.
async fn open_keys(
    settings: &Settings,
    access: Access,
) -> Result<(Arc<dyn KeyProvider>, String), String> {
    if let Some(secret) = &settings.signing_secret_id {
        let client = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
        let keys = SecretsManagerKeys::new(client, secret, settings.key_cache);
        keys.current().await.map_err(|e| e.to_string())?;
        return Ok((Arc::new(keys), format!("Secrets Manager secret {secret}")));
    }
    let dir = &settings.data_dir;
    let keys = match access {
        Access::Serve => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            LocalKeys::open_or_create(dir)
        }
        Access::Inspect => LocalKeys::open(dir),
    }
    .map_err(|e| e.to_string())?;
    let name = dir.join(local::FILE).display().to_string();
    Ok((Arc::new(keys), name))
}

/// The directory of principals where `settings` put the store: `directory.db` in the data
/// directory, or the DynamoDB directory table.
pub async fn open_directory(settings: &Settings) -> Result<Arc<dyn Directory>, String> {
    Ok(match settings.store {
        StoreKind::Embedded => {
            Arc::new(EmbeddedDirectory::open(&settings.data_dir).map_err(|e| e.to_string())?)
        }
        StoreKind::Dynamodb => Arc::new(DynamoDirectory::new(
            aws_sdk_dynamodb::Client::new(&sdk_config().await),
            settings.tables.directory.clone(),
        )),
    })
}
